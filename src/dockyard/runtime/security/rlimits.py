"""``process.rlimits``: RLIMIT_* names, checking, and setrlimit in the init.

Every name the spec allows maps to the kernel's resource number. An unknown
type, a repeated type (the spec says MUST error) or soft > hard are spec errors
found at ``create``. Raising a hard limit above the runtime's own needs
CAP_SYS_RESOURCE; on hosts whose bounding set lacks it (this project's VM) the
kernel says EPERM, and the message says exactly that.
"""

from __future__ import annotations

from _collections_abc import Mapping, Sequence  # collections.abc without collections (~2 ms)

from dockyard.errors import InvalidArgument, SystemError_
from dockyard.runtime.security._record import Record

__all__ = ["RLIMITS", "Rlimit", "apply", "parse"]

#: spec name -> kernel resource number (asm-generic; the same on x86_64 and arm64).
RLIMITS: Mapping[str, int] = {
    "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3,
    "RLIMIT_CORE": 4, "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7,
    "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9, "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11,
    "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13, "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
}

_U64_MAX = (1 << 64) - 1


class Rlimit(Record):
    __slots__ = ("hard", "name", "resource", "soft")

    def __init__(self, name: str, resource: int, soft: int, hard: int) -> None:
        self.name = name
        self.resource = resource
        self.soft = soft
        self.hard = hard


def parse(rlimits: Sequence[object] | None, path: str = "process.rlimits") -> list[Rlimit]:
    """Check ``process.rlimits`` and return it typed; InvalidArgument names the entry."""
    if rlimits is None:
        return []
    if not isinstance(rlimits, list):
        raise InvalidArgument(f"{path}: must be an array")
    out: list[Rlimit] = []
    seen: set[str] = set()
    for i, entry in enumerate(rlimits):
        where = f"{path}[{i}]"
        if not isinstance(entry, Mapping):
            raise InvalidArgument(f"{where}: must be an object with type, soft and hard")
        name = entry.get("type")
        if name not in RLIMITS:
            raise InvalidArgument(f"{where}.type: unknown rlimit type {name!r} "
                                  f"(expected RLIMIT_CPU, RLIMIT_NOFILE, ...)")
        if name in seen:
            raise InvalidArgument(f"{where}.type: {name} is given more than once")
        seen.add(name)
        values = []
        for key in ("soft", "hard"):
            value = entry.get(key)
            if isinstance(value, bool) or not isinstance(value, int) or \
                    not 0 <= value <= _U64_MAX:
                raise InvalidArgument(f"{where}.{key}: must be an integer in 0..2^64-1, "
                                      f"got {value!r}")
            values.append(value)
        soft, hard = values
        if soft > hard:
            raise InvalidArgument(f"{where}: soft limit {soft} is above hard limit {hard}")
        out.append(Rlimit(name, RLIMITS[name], soft, hard))
    return out


def _to_c(value: int) -> int:
    # Python's setrlimit takes a signed long long; rlim_t is unsigned, so the top
    # half of the range (RLIM_INFINITY = 2^64-1 among it) wraps to negatives.
    return value - (1 << 64) if value >= 1 << 63 else value


def _show(value: int) -> str:
    return "unlimited" if value == _U64_MAX else str(value)


def apply(limits: Sequence[Rlimit]) -> None:
    """setrlimit each entry; explain EPERM (hard limit raised without CAP_SYS_RESOURCE)."""
    if not limits:
        return
    import resource

    for lim in limits:
        try:
            resource.setrlimit(lim.resource, (_to_c(lim.soft), _to_c(lim.hard)))
        except (OSError, ValueError) as e:
            try:
                _cur_soft, cur_hard = resource.getrlimit(lim.resource)
            except OSError:
                cur_hard = None
            msg = (f"setrlimit {lim.name} soft={_show(lim.soft)} hard={_show(lim.hard)}: "
                   f"{getattr(e, 'strerror', None) or e}")
            if cur_hard is not None:
                cur = cur_hard & _U64_MAX
                if lim.hard > cur:
                    msg += (f"; the hard limit is now {_show(cur)} and raising it needs "
                            "CAP_SYS_RESOURCE, which this runtime does not have")
            raise SystemError_(msg) from e
