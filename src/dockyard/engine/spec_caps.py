"""Capabilities of a container: Docker's default set, ``--cap-add``/``--cap-drop``, privileged.

Docker's rules: names are case-insensitive and may omit the ``CAP_`` prefix; ``ALL`` is a
keyword on either side. ``--privileged`` gets every capability the kernel has and
ignores add/drop. Otherwise: ``--cap-add ALL`` = every capability minus the drops;
``--cap-drop ALL`` = only the adds; else the default set minus the drops, then the adds
(in the order given). An unknown name is an error naming the list it came from.

"Every capability" (privileged, ``--cap-add ALL``) is every name the runtime knows up
to the running kernel's ``cap_last_cap`` (newer dockerd does the same; 20.10 stopped at
CAP_AUDIT_READ, so CAP_PERFMON, CAP_BPF and CAP_CHECKPOINT_RESTORE are extra here),
limited to the daemon's own bounding set: a capability the daemon cannot hold cannot be
granted, and dockerd's container would fail to start with "unable to apply caps" (as
it does on a host whose bounding set lacks one, such as a VM without
CAP_SYS_RESOURCE). A capability asked for by name is passed as asked.
"""

from __future__ import annotations

from dockyard.errors import InvalidArgument

__all__ = ["DEFAULT_CAPS", "all_caps", "effective_caps", "grantable_caps",
           "normalize_caps"]

#: Docker's default capability set, in Docker's order (config.json shows this order).
DEFAULT_CAPS: tuple[str, ...] = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
    "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)

_ALL = "ALL"
_LAST_CAP_FILE = "/proc/sys/kernel/cap_last_cap"


def all_caps(last_cap: int | None = None) -> list[str]:
    """Every capability name up to ``last_cap`` (default: the running kernel's), in bit order."""
    from dockyard.runtime.security.capabilities import CAPABILITIES

    if last_cap is None:
        try:
            with open(_LAST_CAP_FILE) as f:
                last_cap = int(f.read().strip())
        except (OSError, ValueError):
            last_cap = max(CAPABILITIES.values())
    return [name for name, nr in sorted(CAPABILITIES.items(), key=lambda kv: kv[1])
            if nr <= last_cap]


def _bounding_mask() -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapBnd:"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError):
        pass
    return None


def grantable_caps(last_cap: int | None = None, bounding: int | None = None) -> list[str]:
    """``all_caps`` limited to the bounding set (default: this process's)."""
    from dockyard.runtime.security.capabilities import CAPABILITIES

    mask = _bounding_mask() if bounding is None else bounding
    names = all_caps(last_cap)
    if mask is None:
        return names
    return [n for n in names if mask >> CAPABILITIES[n] & 1]


def normalize_caps(names: list[str] | None, what: str = "CapAdd",
                   known: list[str] | None = None) -> list[str]:
    """Upper-case, ``CAP_``-prefixed names (``ALL`` kept); unknown ones raise InvalidArgument."""
    valid = set(known if known is not None else all_caps())
    out: list[str] = []
    if isinstance(names, str):  # Docker's StrSlice: one string is a list of one
        names = [names]
    for raw in names or ():
        if not isinstance(raw, str):
            raise InvalidArgument(f"invalid {what}: capability names must be strings")
        name = raw.upper()
        if name != _ALL:
            if not name.startswith("CAP_"):
                name = "CAP_" + name
            if name not in valid:
                raise InvalidArgument(f'invalid {what}: unknown capability: "{name}"')
        out.append(name)
    return out


def effective_caps(cap_add: list[str] | None, cap_drop: list[str] | None,
                   privileged: bool, *, last_cap: int | None = None,
                   bounding: int | None = None) -> list[str]:
    """The container's capability list (bounding = effective = permitted).

    ``bounding``: the daemon's bounding-set mask (default: read from /proc/self).
    """
    known = all_caps(last_cap)
    if privileged:
        return grantable_caps(last_cap, bounding)
    if not cap_add and not cap_drop:
        return list(DEFAULT_CAPS)
    drops = normalize_caps(cap_drop, "CapDrop", known)
    adds = normalize_caps(cap_add, "CapAdd", known)
    if _ALL in adds:
        return [c for c in grantable_caps(last_cap, bounding) if c not in drops]
    if _ALL in drops:
        caps = [c for c in adds if c != _ALL]
    else:
        caps = [c for c in DEFAULT_CAPS if c not in drops] + adds
    seen: set[str] = set()
    unique = []
    for c in caps:  # an add already in the set is listed once
        if c not in seen:
            seen.add(c)
            unique.append(c)
    return unique
