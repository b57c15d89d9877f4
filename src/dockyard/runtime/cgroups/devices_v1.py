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
    """Write the rules, one write(2) per rule on two open files (teardown-cheap:
    the kernel parses one rule per write, the open/close need not repeat)."""
    import os

    from dockyard.errors import InvalidArgument, SystemError_

    fds: dict[str, int] = {}
    try:
        for name, line in rule_lines(rules):
            if name not in fds:
                path = os.path.join(directory, name)
                try:
                    fds[name] = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
                except OSError:
                    # let the common writer produce its error (missing file, ...)
                    cgfs.write(directory, name, line, what=f"linux.resources.devices ({line})")
                    raise
            try:
                os.write(fds[name], line.encode())
            except OSError as err:
                msg = (f"linux.resources.devices ({line}): writing to "
                       f"{os.path.join(directory, name)}: [Errno {err.errno}] {err.strerror}")
                if err.errno in (22, 1):  # EINVAL, EPERM: the rule itself is refused
                    raise InvalidArgument(msg) from err
                raise SystemError_(msg) from err
    finally:
        for fd in fds.values():
            os.close(fd)
