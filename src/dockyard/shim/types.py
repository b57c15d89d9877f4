"""The records that cross the daemon/zygote/shim boundary (JSON on the wire)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class LogConfig:
    driver: str = "json-file"     # json-file | local | none
    path: str = ""
    max_size: int | None = None   # bytes; None = no rotation
    max_file: int = 1


@dataclass(frozen=True)
class ShimRequest:
    container_id: str
    bundle: str                   # config.json + rootfs; the shim's files go here too
    runtime: str = "dockyard"     # "dockyard" (in-process) or a runc-compatible binary
    runtime_root: str = ""
    tty: bool = False
    open_stdin: bool = False
    stdin_once: bool = False
    log: LogConfig = field(default_factory=LogConfig)
    # Create the container but run its program only at ShimClient.start(): attach
    # first (docker's create/attach/start), so no early output is missed.
    hold: bool = False

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> ShimRequest:
        from dockyard.errors import InvalidArgument

        if not isinstance(data, dict):
            raise InvalidArgument("shim request must be a JSON object")
        try:
            log = LogConfig(**(data.get("log") or {}))
            fields = {k: v for k, v in data.items() if k != "log"}
            req = cls(**fields, log=log)
        except TypeError as e:
            raise InvalidArgument(f"bad shim request: {e}") from None
        if not isinstance(req.container_id, str) or not req.container_id:
            raise InvalidArgument("shim request: container_id is required")
        if not isinstance(req.bundle, str) or not req.bundle.startswith("/"):
            raise InvalidArgument("shim request: bundle must be an absolute path")
        return req


@dataclass(frozen=True)
class ExitStatus:
    exit_code: int
    finished_at: str              # RFC3339Nano UTC
    oom_killed: bool = False
    error: str = ""

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> ExitStatus:
        return cls(int(data["exit_code"]), str(data["finished_at"]),
                   bool(data.get("oom_killed", False)), str(data.get("error", "")))
