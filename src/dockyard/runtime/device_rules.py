"""The device cgroup rules every container gets after its spec's own (runc's list).

The cgroups package writes exactly the rules it is given (runtime-internals.md),
so the core appends these defaults: ``mknod`` of any char/block device (needed for
the init to create /dev nodes), and read/write of the standard nodes. They go
after the spec's entries (the validation suite reads ``devices.list`` expecting
the configured rules right after deny-all); a default that a spec *deny* rule
covers is left out, since with ordered rules the later allow would undo it.
"""

from __future__ import annotations

# (type, major, minor, access); -1 = wildcard
DEFAULTS: tuple[tuple[str, int, int, str], ...] = (
    ("c", -1, -1, "m"),
    ("b", -1, -1, "m"),
    ("c", 1, 3, "rwm"),     # /dev/null
    ("c", 1, 5, "rwm"),     # /dev/zero
    ("c", 1, 7, "rwm"),     # /dev/full
    ("c", 1, 8, "rwm"),     # /dev/random
    ("c", 1, 9, "rwm"),     # /dev/urandom
    ("c", 5, 0, "rwm"),     # /dev/tty
    ("c", 5, 2, "rwm"),     # /dev/ptmx
    ("c", 136, -1, "rwm"),  # /dev/pts/*
    ("c", 10, 200, "rwm"),  # /dev/net/tun
)


def _rule(t: str, major: int, minor: int, access: str) -> dict:
    rule: dict = {"allow": True, "type": t, "access": access}
    if major >= 0:
        rule["major"] = major
    if minor >= 0:
        rule["minor"] = minor
    return rule


def _covers(deny: dict, t: str, major: int, minor: int) -> bool:
    dt = deny.get("type", "a")
    if dt not in ("a", t):
        return False
    dmaj, dmin = deny.get("major"), deny.get("minor")
    if dmaj is not None and dmaj != -1 and dmaj != major:
        return False
    return dmin is None or dmin == -1 or dmin == minor


def with_defaults(spec_rules: list[dict] | None) -> list[dict]:
    """The spec's rules, then each default not covered by a specific spec deny."""
    rules = list(spec_rules or [])
    if not rules or rules[0].get("allow", False) or rules[0].get("type", "a") != "a":
        rules.insert(0, {"allow": False, "access": "rwm"})
    denies = [r for r in rules[1:] if not r.get("allow") and
              (r.get("type", "a") != "a" or r.get("major") is not None)]
    for t, major, minor, access in DEFAULTS:
        if any(_covers(d, t, major, minor) for d in denies):
            continue
        rules.append(_rule(t, major, minor, access))
    return rules
