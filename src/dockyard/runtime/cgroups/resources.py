"""The spec's ``linux.resources``: early validation, device rules, v1 -> v2 units.

:func:`validate` runs at ``create`` before anything exists, so an impossible value
is an ``InvalidArgument`` naming its JSON path rather than a half-made cgroup.
The conversions are the ones runc uses, so a container limited by docker gets the
same kernel values under either runtime.

Device rules: a spec rule is ``{"allow": bool, "type": "a"|"b"|"c", "major": int,
"minor": int, "access": "rwm"}``; a missing type means ``a``, a missing major or
minor means any (``*``), a missing access means ``rwm``. Rules apply in order and
the last match wins, on both v1 (sequential ``devices.allow``/``deny`` writes after
deny-all) and v2 (the BPF program tests them from the last to the first).
"""

from __future__ import annotations

from dockyard.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

__all__ = ["DeviceRule", "blkio_weight_to_io_weight", "hugepage_size", "parse_rules",
           "shares_to_weight", "swap_to_v2", "validate", "warn"]

_ROOT = "linux.resources"


def warn(message: str) -> None:
    """A setting the kernel cannot honour but that must not fail the container."""
    import logging  # only when there is something to say: logging is slow to import

    logging.getLogger("dockyard.runtime.cgroups").warning("%s", message)


def _is_cpu_list(text: str) -> bool:
    """``0-2,4`` style lists (cpuset.cpus / cpuset.mems)."""
    for item in text.replace(" ", "").split(","):
        lo, sep, hi = item.partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            return False
    return True


def _is_page_size(text: str) -> bool:
    return len(text) >= 3 and text[-2:-1] in "KMGT" and text[-1] == "B" \
        and text[:-2].isdigit() and text[0] != "0"


def shares_to_weight(shares: int) -> int:
    """cpu.shares [2, 262144] -> cpu.weight [1, 10000]; 0 means unset (runc's mapping)."""
    if shares == 0:
        return 0
    shares = min(max(shares, 2), 262144)
    return 1 + ((shares - 2) * 9999) // 262142


def blkio_weight_to_io_weight(weight: int) -> int:
    """blkio.weight [10, 1000] -> io.weight [1, 10000]; 0 means unset."""
    if weight == 0:
        return 0
    return 1 + (weight - 10) * 9999 // 990


def swap_to_v2(limit: int | None, swap: int | None) -> int | None:
    """v1 memsw (memory + swap) -> v2 memory.swap.max (swap alone); -1 = max, None = unset."""
    if swap is None or swap == 0:
        return None
    if swap == -1:
        return -1
    if limit is None or limit == 0:
        raise InvalidArgument(f"{_ROOT}.memory.swap: needs memory.limit on cgroup v2")
    if limit == -1:
        raise InvalidArgument(f"{_ROOT}.memory.swap: memory.limit is unlimited, "
                              "so swap must be -1 too")
    if swap < limit:
        raise InvalidArgument(f"{_ROOT}.memory.swap ({swap}) must be >= memory.limit "
                              f"({limit}): it is memory plus swap")
    return swap - limit


def hugepage_size(page_size: str, where: str) -> str:
    if not isinstance(page_size, str) or not _is_page_size(page_size):
        raise InvalidArgument(f"{where}.pageSize: must look like 2MB or 1GB, "
                              f"got {page_size!r}")
    return page_size


def _obj(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgument(f"{where}: must be an object")
    return value


def _int(d: Mapping[str, Any], key: str, where: str, lo: int | None = None,
         hi: int | None = None) -> int | None:
    value = d.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{where}.{key}: must be an integer, got {value!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise InvalidArgument(f"{where}.{key}: {value} is out of range "
                              f"[{lo if lo is not None else ''}, {hi if hi is not None else ''}]")
    return value


def _bool(d: Mapping[str, Any], key: str, where: str) -> None:
    if d.get(key) is not None and not isinstance(d[key], bool):
        raise InvalidArgument(f"{where}.{key}: must be true or false")


def _validate_memory(mem: Mapping[str, Any]) -> None:
    at = f"{_ROOT}.memory"
    limit = _int(mem, "limit", at, -1)
    _int(mem, "reservation", at, -1)
    swap = _int(mem, "swap", at, -1)
    _int(mem, "kernel", at, -1)
    _int(mem, "kernelTCP", at, -1)
    _int(mem, "swappiness", at, 0, 100)
    _bool(mem, "disableOOMKiller", at)
    _bool(mem, "useHierarchy", at)
    _bool(mem, "checkBeforeUpdate", at)
    if limit and swap and limit > 0 and 0 < swap < limit:
        raise InvalidArgument(f"{at}.swap ({swap}) must be >= memory.limit ({limit}): "
                              "it is memory plus swap")


def _validate_cpu(cpu: Mapping[str, Any]) -> None:
    at = f"{_ROOT}.cpu"
    _int(cpu, "shares", at, 0)
    _int(cpu, "quota", at, -1)
    _int(cpu, "burst", at, 0)
    period = _int(cpu, "period", at, 0)
    if period is not None and period != 0 and not 1000 <= period <= 1_000_000:
        raise InvalidArgument(f"{at}.period: {period} is outside [1000, 1000000] µs")
    _int(cpu, "realtimeRuntime", at, -1)
    _int(cpu, "realtimePeriod", at, 0)
    _int(cpu, "idle", at, 0, 1)
    for key in ("cpus", "mems"):
        value = cpu.get(key)
        if value in (None, ""):
            continue
        if not isinstance(value, str) or not _is_cpu_list(value):
            raise InvalidArgument(f"{at}.{key}: must be a list like '0-2,4', got {value!r}")


def _validate_block_io(blk: Mapping[str, Any]) -> None:
    at = f"{_ROOT}.blockIO"
    for key in ("weight", "leafWeight"):
        value = _int(blk, key, at, 0, 1000)
        if value and value < 10:
            raise InvalidArgument(f"{at}.{key}: {value} is outside [10, 1000]")
    for i, dev in enumerate(blk.get("weightDevice") or ()):
        where = f"{at}.weightDevice[{i}]"
        dev = _obj(dev, where)
        _int(dev, "major", where, 0)
        _int(dev, "minor", where, 0)
        if dev.get("major") is None or dev.get("minor") is None:
            raise InvalidArgument(f"{where}: needs major and minor")
        _int(dev, "weight", where, 0, 1000)
        _int(dev, "leafWeight", where, 0, 1000)
    for key in ("throttleReadBpsDevice", "throttleWriteBpsDevice",
                "throttleReadIOPSDevice", "throttleWriteIOPSDevice"):
        for i, dev in enumerate(blk.get(key) or ()):
            where = f"{at}.{key}[{i}]"
            dev = _obj(dev, where)
            for field in ("major", "minor", "rate"):
                if _int(dev, field, where, 0) is None:
                    raise InvalidArgument(f"{where}.{field}: required")


def validate(resources: Mapping[str, Any] | None) -> None:
    """Raise InvalidArgument (with the JSON path) for values no cgroup can take."""
    res = _obj(resources, _ROOT)
    _validate_memory(_obj(res.get("memory"), f"{_ROOT}.memory"))
    _validate_cpu(_obj(res.get("cpu"), f"{_ROOT}.cpu"))
    _int(_obj(res.get("pids"), f"{_ROOT}.pids"), "limit", f"{_ROOT}.pids")
    _validate_block_io(_obj(res.get("blockIO"), f"{_ROOT}.blockIO"))
    for i, hp in enumerate(res.get("hugepageLimits") or ()):
        where = f"{_ROOT}.hugepageLimits[{i}]"
        hp = _obj(hp, where)
        hugepage_size(hp.get("pageSize"), where)
        if _int(hp, "limit", where, 0) is None:
            raise InvalidArgument(f"{where}.limit: required")
    net = _obj(res.get("network"), f"{_ROOT}.network")
    _int(net, "classID", f"{_ROOT}.network", 0, 0xFFFFFFFF)
    for i, prio in enumerate(net.get("priorities") or ()):
        where = f"{_ROOT}.network.priorities[{i}]"
        prio = _obj(prio, where)
        if not isinstance(prio.get("name"), str) or not prio["name"]:
            raise InvalidArgument(f"{where}.name: must be an interface name")
        _int(prio, "priority", where, 0)
    parse_rules(res.get("devices"), f"{_ROOT}.devices")
    unified = _obj(res.get("unified"), f"{_ROOT}.unified")
    for key, value in unified.items():
        if not isinstance(key, str) or not key or "/" in key or key.startswith(".") \
                or "." not in key:
            raise InvalidArgument(f"{_ROOT}.unified: {key!r} is not a cgroup file name")
        if key.startswith("cgroup."):
            raise InvalidArgument(f"{_ROOT}.unified.{key}: cgroup core files are not "
                                  "settable here")
        if not isinstance(value, str):
            raise InvalidArgument(f"{_ROOT}.unified.{key}: value must be a string")


# --- device rules -------------------------------------------------------------


class DeviceRule:
    """One normalised rule: type a/b/c, major/minor -1 = any, access a subset of "rwm".

    A plain class (not a dataclass): it is built on the runtime's start-up path.
    """

    __slots__ = ("access", "allow", "major", "minor", "type")

    def __init__(self, allow: bool, type: str = "a", major: int = -1, minor: int = -1,
                 access: str = "rwm") -> None:
        self.allow, self.type, self.major, self.minor = allow, type, major, minor
        self.access = access

    def _key(self) -> tuple:
        return (self.allow, self.type, self.major, self.minor, self.access)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DeviceRule) and self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "DeviceRule(allow={!r}, type={!r}, major={}, minor={}, access={!r})".format(
            *self._key())

    def v1_line(self) -> str:
        """The line for devices.allow / devices.deny, e.g. ``c 1:3 rwm``."""
        if self.type == "a":
            return "a"  # the kernel reads any "a ..." line as "everything"
        major = "*" if self.major < 0 else str(self.major)
        minor = "*" if self.minor < 0 else str(self.minor)
        return f"{self.type} {major}:{minor} {self.access}"


def _number(rule: Mapping[str, Any], key: str, where: str) -> int:
    value = rule.get(key)
    if value is None:
        return -1
    if isinstance(value, bool) or not isinstance(value, int) or value < -1:
        raise InvalidArgument(f"{where}.{key}: must be an integer >= -1, got {value!r}")
    return value


def parse_rules(rules: Iterable[Mapping[str, Any]] | None,
                where: str = "linux.resources.devices") -> list[DeviceRule]:
    out = []
    for i, rule in enumerate(rules or ()):
        at = f"{where}[{i}]"
        if not isinstance(rule, dict):
            raise InvalidArgument(f"{at}: must be an object")
        allow = rule.get("allow")
        if not isinstance(allow, bool):
            raise InvalidArgument(f"{at}.allow: must be true or false")
        kind = rule.get("type") or "a"
        if kind not in ("a", "b", "c"):
            raise InvalidArgument(f"{at}.type: must be 'a', 'b' or 'c', got {kind!r}")
        access = rule.get("access") or "rwm"
        if not isinstance(access, str) or not access or set(access) - set("rwm") \
                or len(set(access)) != len(access):
            raise InvalidArgument(f"{at}.access: must be a combination of r, w, m; "
                                  f"got {access!r}")
        access = "".join(c for c in "rwm" if c in access)
        out.append(DeviceRule(allow, kind, _number(rule, "major", at),
                              _number(rule, "minor", at), access))
    return out
