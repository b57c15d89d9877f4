"""``GET /containers/json`` filters, dockerd's keys and matching rules.

Values of one key are OR-ed, keys AND-ed. ``before``/``since`` name a container
(id, prefix or name) and compare creation order; ``ancestor`` matches the image
by reference, id or id prefix (resolved by the caller into image ids).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from dockyard.engine.model import STATUSES, ContainerRecord
from dockyard.errors import InvalidArgument

FILTER_KEYS = {"ancestor", "before", "expose", "exited", "health", "id", "isolation",
               "is-task", "label", "name", "network", "publish", "since", "status",
               "volume"}
HEALTH = ("starting", "healthy", "unhealthy", "none")


@dataclass
class Query:
    all: bool = False
    limit: int = -1
    filters: Mapping[str, list[str]] = field(default_factory=dict)


def check(filters: Mapping[str, list[str]]) -> None:
    for key, values in filters.items():
        if key not in FILTER_KEYS:
            raise InvalidArgument(f"invalid filter '{key}'")
        if key == "status":
            for v in values:
                if v not in STATUSES:
                    raise InvalidArgument(f"invalid filter 'status={v}'")
        if key == "health":
            for v in values:
                if v not in HEALTH:
                    raise InvalidArgument(f"Unrecognised filter value for health: {v}")
        if key == "exited":
            for v in values:
                try:
                    int(v)
                except ValueError:
                    raise InvalidArgument(f"invalid filter 'exited={v}'") from None


def _label_ok(labels: dict[str, str], wanted: str) -> bool:
    key, eq, value = wanted.partition("=")
    if key not in labels:
        return False
    return not eq or labels[key] == value


def select(records: list[ContainerRecord], query: Query,
           ancestors: Callable[[str], set[str]] | None = None) -> list[ContainerRecord]:
    """``records`` newest first; returns those shown."""
    f = query.filters
    check(f)
    # ``before``/``since`` bound positions in the creation order
    by_ref = {r.id: i for i, r in enumerate(records)}
    names = {r.name: i for i, r in enumerate(records)}

    def position(ref: str) -> int:
        if ref.lstrip("/") in names:
            return names[ref.lstrip("/")]
        if ref in by_ref:
            return by_ref[ref]
        hits = [i for cid, i in by_ref.items() if cid.startswith(ref)]
        if len(hits) != 1:
            raise InvalidArgument(f"No such container: {ref}")
        return hits[0]

    before = [position(v) for v in f.get("before", [])]
    since = [position(v) for v in f.get("since", [])]
    image_ids: set[str] | None = None
    if f.get("ancestor"):
        image_ids = set()
        for ref in f["ancestor"]:
            image_ids |= ancestors(ref) if ancestors else {ref}
    show_all = query.all or bool(f.get("status")) or bool(f.get("exited")) \
        or bool(before) or bool(since)
    out: list[ContainerRecord] = []
    for i, rec in enumerate(records):
        st = rec.state
        if not show_all and st.status not in ("running", "paused", "restarting"):
            continue
        if before and not all(i > b for b in before):
            continue
        if since and not all(i < s for s in since):
            continue
        if f.get("id") and not any(rec.id.startswith(v) for v in f["id"]):
            continue
        if f.get("name") and not any(_name_match(rec.name, v) for v in f["name"]):
            continue
        if f.get("label") and not all(_label_ok(rec.labels, v) for v in f["label"]):
            continue
        if f.get("status") and st.status not in f["status"]:
            continue
        if f.get("exited") and (st.status != "exited"
                                or str(st.exit_code) not in f["exited"]):
            continue
        if image_ids is not None and rec.image_id not in image_ids:
            continue
        if f.get("health"):
            health = (st.health or {}).get("Status") or "none"
            if health not in f["health"]:
                continue
        if f.get("network") and not _network_match(rec, f["network"]):
            continue
        if f.get("volume") and not _volume_match(rec, f["volume"]):
            continue
        if (f.get("publish") or f.get("expose")) and \
                not _port_match(rec, f.get("publish", []), f.get("expose", [])):
            continue
        out.append(rec)
        if query.limit > 0 and len(out) >= query.limit:
            break
    return out


def _name_match(name: str, pattern: str) -> bool:
    """dockerd matches names with a regular expression (``name=^/web$``)."""
    import re

    try:
        return re.search(pattern, "/" + name) is not None
    except re.error:
        return pattern.lstrip("/") in name


def _network_match(rec: ContainerRecord, wanted: list[str]) -> bool:
    nets = (rec.network_settings or {}).get("Networks") or {}
    mode = rec.host_config.get("NetworkMode") or "default"
    for w in wanted:
        if w in nets or w == mode:
            return True
        if any((n.get("NetworkID") or "").startswith(w) for n in nets.values() if n):
            return True
    return False


def _volume_match(rec: ContainerRecord, wanted: list[str]) -> bool:
    for m in rec.mounts:
        for w in wanted:
            if w in (m.get("name"), m.get("source"), m.get("destination")):
                return True
    return False


def _port_match(rec: ContainerRecord, publish: list[str], expose: list[str]) -> bool:
    def norm(p: str) -> str:
        return p if "/" in p else p + "/tcp"

    ports = (rec.network_settings or {}).get("Ports") or {}
    published = {norm(b.get("HostPort", "")) for bs in ports.values() if bs for b in bs}
    published |= {k for k, bs in ports.items() if bs}
    exposed = set((rec.config.get("ExposedPorts") or {}).keys())
    ok = all(norm(p) in published for p in publish)
    return ok and all(norm(p) in exposed for p in expose)


__all__ = ["FILTER_KEYS", "Query", "check", "select"]
