"""Device cgroup rules from the spec, checked and normalised once for v1 and v2.

A spec rule is ``{"allow": bool, "type": "a"|"b"|"c", "major": int, "minor": int,
"access": "rwm"}``; a missing type means ``a``, a missing major or minor means any
(``*``), a missing access means ``rwm``. Rules apply in order and the last match
wins, on both v1 (sequential ``devices.allow``/``deny`` writes after deny-all)
and v2 (the BPF program tests them from the last to the first).
"""

from __future__ import annotations

from dockyard.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

__all__ = ["DeviceRule", "parse_rules"]


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
