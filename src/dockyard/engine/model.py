"""A container as the engine records it: state, configuration, where its files live.

One :class:`ContainerRecord` per container, stored as one row (engine/store.py).
Field names are snake_case; :meth:`ContainerState.to_docker` and the inspect shape
in ``engine/inspect.py`` give Docker's JSON. Paths come from the two daemon roots
(see /work/notes/engine-contracts.md "Paths"): durable files under the data root,
the bundle (config.json, rootfs mount point, shim files) under the exec root.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

ZERO_TIME = "0001-01-01T00:00:00Z"
STATUSES = ("created", "running", "paused", "restarting", "removing", "exited", "dead")


def now_rfc3339() -> str:
    """The current UTC time as RFC 3339 with nanoseconds (Docker's timestamps)."""
    return rfc3339_nano(time.time_ns())


def rfc3339_nano(ns: int) -> str:
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


def parse_rfc3339(text: str) -> float:
    """Seconds since the epoch of a Docker timestamp; 0.0 for the zero time or junk."""
    import calendar

    if not text or text.startswith("0001-"):
        return 0.0
    main, _, rest = text.partition(".")
    frac = 0.0
    if rest:
        digits = ""
        for ch in rest:
            if not ch.isdigit():
                break
            digits += ch
        frac = float("0." + digits) if digits else 0.0
    try:
        base = calendar.timegm(time.strptime(main.rstrip("Z")[:19], "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return 0.0
    return base + frac


def new_id() -> str:
    return secrets.token_hex(32)


@dataclass
class ContainerState:
    """Docker's ``State``, snake_case."""

    status: str = "created"
    pid: int = 0
    exit_code: int = 0
    error: str = ""
    oom_killed: bool = False
    started_at: str = ZERO_TIME
    finished_at: str = ZERO_TIME
    health: dict | None = None

    @property
    def running(self) -> bool:
        return self.status in ("running", "paused", "restarting")

    def to_docker(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "Status": self.status,
            "Running": self.status in ("running", "paused"),
            "Paused": self.status == "paused",
            "Restarting": self.status == "restarting",
            "OOMKilled": self.oom_killed,
            "Dead": self.status == "dead",
            "Pid": self.pid,
            "ExitCode": self.exit_code,
            "Error": self.error,
            "StartedAt": self.started_at,
            "FinishedAt": self.finished_at,
        }
        if self.health is not None:
            doc["Health"] = self.health
        return doc

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ContainerState:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class ContainerRecord:
    id: str
    name: str                     # without the leading "/"
    created: str                  # RFC3339Nano UTC
    image_id: str                 # "sha256:..."
    image_ref: str                # what the user asked for (Config.Image)
    config: dict[str, Any]        # Docker Config, image defaults merged
    host_config: dict[str, Any]   # Docker HostConfig, defaults as inspect shows
    networking_config: dict[str, Any] = field(default_factory=dict)
    state: ContainerState = field(default_factory=ContainerState)
    restart_count: int = 0
    snapshot_key: str = ""
    mounts: list[dict[str, Any]] = field(default_factory=list)
    network_settings: dict[str, Any] = field(default_factory=dict)
    exec_ids: list[str] = field(default_factory=list)
    graph_data: dict[str, str] = field(default_factory=dict)   # GraphDriver.Data
    # where the daemon keeps files; set by the store when it loads a row
    data_root: str = ""
    exec_root: str = ""
    # engine bookkeeping (not Docker fields)
    has_been_started: bool = False        # copy-up happens before the first start only
    manually_stopped: bool = False        # docker stop/kill: no restart policy after it
    driver: str = "overlay2"
    platform: str = "linux"
    log_driver: str = "json-file"

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def bundle(self) -> Path:
        return Path(self.exec_root) / "containers" / self.id

    @property
    def rootfs(self) -> Path:
        return self.bundle / "rootfs"

    @property
    def data_dir(self) -> Path:
        return Path(self.data_root) / "containers" / self.id

    @property
    def log_path(self) -> Path:
        return self.data_dir / f"{self.id}-json.log"

    @property
    def tty(self) -> bool:
        return bool(self.config.get("Tty"))

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.config.get("Labels") or {})

    @property
    def restart_policy(self) -> dict[str, Any]:
        return dict(self.host_config.get("RestartPolicy") or {"Name": "", "MaximumRetryCount": 0})

    def to_row(self) -> dict[str, Any]:
        """The stored document. Shallow on purpose (json.dumps walks the nested Docker
        dicts anyway; dataclasses.asdict deep-copied them, ~1 ms per state write)."""
        doc = {f.name: getattr(self, f.name) for f in _ROW_FIELDS}
        doc["state"] = {f.name: getattr(self.state, f.name) for f in _STATE_FIELDS}
        return doc

    @classmethod
    def from_row(cls, doc: dict[str, Any], data_root: str, exec_root: str) -> ContainerRecord:
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in doc.items() if k in names}
        values["state"] = ContainerState.from_dict(doc.get("state") or {})
        values["data_root"] = data_root
        values["exec_root"] = exec_root
        return cls(**values)


_ROW_FIELDS = tuple(f for f in fields(ContainerRecord) if f.name not in ("data_root",
                                                                          "exec_root"))
_STATE_FIELDS = tuple(fields(ContainerState))

__all__ = ["STATUSES", "ZERO_TIME", "ContainerRecord", "ContainerState", "new_id",
           "now_rfc3339", "parse_rfc3339", "rfc3339_nano"]
