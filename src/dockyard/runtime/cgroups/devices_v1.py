"""The v1 ``devices`` controller: deny everything, then the spec's rules in order.

The configured rules go right after the deny-all, in the spec's order, with no
defaults mixed in: the runtime's core passes the full list it wants (the OCI
validation suite reads ``devices.list`` expecting exactly that order).
"""

from __future__ import annotations

from collections.abc import Sequence

from . import cgfs
from .devices import DeviceRule

__all__ = ["apply_rules", "rule_lines"]


def rule_lines(rules: Sequence[DeviceRule]) -> list[tuple[str, str]]:
    """The (file, line) writes for ``rules``, starting with the deny-all."""
    writes = [("devices.deny", "a")]
    for rule in rules:
        writes.append(("devices.allow" if rule.allow else "devices.deny", rule.v1_line()))
    return writes


def apply_rules(directory: str, rules: Sequence[DeviceRule]) -> None:
    for name, line in rule_lines(rules):
        cgfs.write(directory, name, line, what=f"linux.resources.devices ({line})")
