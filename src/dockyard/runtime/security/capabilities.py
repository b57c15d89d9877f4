"""Linux capabilities: names <-> numbers, and applying the spec's five sets.

The spec names capabilities (``CAP_KILL``); the kernel wants bit numbers. The
table covers every capability up to CAP_CHECKPOINT_RESTORE (40, Linux 5.9).
A name outside the table is a spec error (runc only warns; the validation
suite's ``process_capabilities_fail`` expects an error). A known capability the
running kernel does not have (above ``cap_last_cap``) is skipped, as runc does,
because the kernel cannot grant or hold it anyway.

Applying follows the kernel's rules, in the order the init needs:
``drop_bounding`` while still privileged, ``set_sets`` (capset) after the
uid switch, then ``raise_ambient`` (a cap can be ambient only if it is both
permitted and inheritable).
"""

from __future__ import annotations

import os
from _collections_abc import Iterable, Mapping  # collections.abc without collections (~2 ms)

from dockyard.errors import InvalidArgument, SystemError_
from dockyard.runtime.security._record import Record

__all__ = [
    "CAPABILITIES",
    "CAPABILITY_SETS",
    "CapabilitySets",
    "apply",
    "drop_bounding",
    "last_cap",
    "mask",
    "name_of",
    "names_in",
    "number_of",
    "parse",
    "raise_ambient",
    "set_sets",
]

_NAMES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)

#: name -> bit number, for every capability this runtime knows (0..40).
CAPABILITIES: Mapping[str, int] = {name: nr for nr, name in enumerate(_NAMES)}

#: the spec's five sets, in ``process.capabilities``.
CAPABILITY_SETS = ("bounding", "effective", "permitted", "inheritable", "ambient")

_LAST_CAP_FILE = "/proc/sys/kernel/cap_last_cap"


def number_of(name: str) -> int:
    """Bit number of ``name``; raises KeyError for an unknown name."""
    return CAPABILITIES[name]


def name_of(number: int) -> str:
    """Name of capability bit ``number`` (``CAP_<n>`` beyond the table)."""
    return _NAMES[number] if 0 <= number < len(_NAMES) else f"CAP_{number}"


def names_in(bits: int) -> list[str]:
    """The capability names set in a 64-bit mask, in bit order."""
    return [name_of(n) for n in range(64) if bits >> n & 1]


def mask(names: Iterable[str]) -> int:
    """64-bit mask of known names (unknown ones must be rejected by ``parse`` first)."""
    bits = 0
    for name in names:
        bits |= 1 << CAPABILITIES[name]
    return bits


_last_cap_cache: int | None = None


def last_cap() -> int:
    """The highest capability number the running kernel knows."""
    global _last_cap_cache
    if _last_cap_cache is None:
        try:
            with open(_LAST_CAP_FILE) as f:
                _last_cap_cache = int(f.read())
        except (OSError, ValueError):
            _last_cap_cache = len(_NAMES) - 1
    return _last_cap_cache


class CapabilitySets(Record):
    """The five sets as masks; ``bounding=None`` means the spec left it out."""

    __slots__ = ("ambient", "bounding", "effective", "inheritable", "permitted")

    def __init__(self, bounding: int | None = None, effective: int = 0, permitted: int = 0,
                 inheritable: int = 0, ambient: int = 0) -> None:
        self.bounding = bounding
        self.effective = effective
        self.permitted = permitted
        self.inheritable = inheritable
        self.ambient = ambient


def parse(caps: Mapping[str, object] | None, path: str = "process.capabilities"
          ) -> CapabilitySets:
    """Check the spec's ``process.capabilities`` and return it as masks.

    Unknown names raise InvalidArgument naming the JSON path, e.g.
    ``process.capabilities.bounding[3]: unknown capability "CAP_TEST"``.
    Capabilities newer than the running kernel are left out.
    """
    if caps is None:
        return CapabilitySets(bounding=None)
    if not isinstance(caps, Mapping):
        raise InvalidArgument(f"{path}: must be an object")
    limit = (1 << (last_cap() + 1)) - 1
    sets: dict[str, int] = {}
    for key in caps:
        if key not in CAPABILITY_SETS:
            raise InvalidArgument(f"{path}.{key}: unknown capability set "
                                  f"(expected one of {', '.join(CAPABILITY_SETS)})")
    for set_name in CAPABILITY_SETS:
        names = caps.get(set_name)
        if names is None:
            continue
        if not isinstance(names, list):
            raise InvalidArgument(f"{path}.{set_name}: must be an array of capability names")
        bits = 0
        for i, name in enumerate(names):
            nr = CAPABILITIES.get(name) if isinstance(name, str) else None
            if nr is None:
                raise InvalidArgument(f"{path}.{set_name}[{i}]: unknown capability {name!r}")
            bits |= 1 << nr
        sets[set_name] = bits & limit
    # A kernel invariant capset would refuse at start (EPERM, as runc gets): say it now.
    extra = sets.get("effective", 0) & ~sets.get("permitted", 0)
    if extra:
        raise InvalidArgument(f"{path}.effective: {', '.join(names_in(extra))} must also be "
                              "in the permitted set")
    return CapabilitySets(
        bounding=sets.get("bounding"),
        effective=sets.get("effective", 0),
        permitted=sets.get("permitted", 0),
        inheritable=sets.get("inheritable", 0),
        ambient=sets.get("ambient", 0),
    )


def drop_bounding(keep: int) -> None:
    """Drop every capability not in ``keep`` from the bounding set (needs CAP_SETPCAP)."""
    from dockyard.runtime import syscalls

    for nr in range(last_cap() + 1):
        if keep >> nr & 1:
            continue
        try:
            syscalls.prctl(syscalls.PR_CAPBSET_DROP, nr)
        except OSError as e:
            if e.errno == 22:  # EINVAL: the kernel has no such capability; nothing to drop
                continue
            raise SystemError_(f"cannot drop {name_of(nr)} from the bounding set: "
                               f"{os.strerror(e.errno)}") from e


def set_sets(sets: CapabilitySets) -> None:
    """capset(effective, permitted, inheritable), with a message naming what is missing.

    The kernel refuses (EPERM) to add a permitted capability this process does not
    hold, e.g. CAP_SYS_RESOURCE when the host's bounding set lacks it.
    """
    from dockyard.runtime import syscalls

    try:
        syscalls.capset(sets.effective, sets.permitted, sets.inheritable)
    except OSError as e:
        msg = f"capset failed: {os.strerror(e.errno)}"
        try:
            _eff, held, _inh = syscalls.capget()
            bounding = _read_bounding()
        except OSError:
            raise SystemError_(msg) from e
        missing = names_in(sets.permitted & ~held)
        if missing:
            msg += f"; the runtime does not hold {', '.join(missing)}"
        beyond = names_in(sets.inheritable & ~bounding & ~held)
        if beyond:
            msg += f"; inheritable {', '.join(beyond)} is outside the bounding set"
        raise SystemError_(msg) from e


def _read_bounding() -> int:
    from dockyard.runtime import syscalls

    bits = 0
    for nr in range(last_cap() + 1):
        if syscalls.prctl(syscalls.PR_CAPBSET_READ, nr) == 1:
            bits |= 1 << nr
    return bits


def raise_ambient(ambient: int, permitted: int, inheritable: int) -> None:
    """Clear, then raise the ambient capabilities the kernel can hold.

    A capability can be ambient only while it is permitted and inheritable. Specs
    often ask for more (``runc spec`` lists ambient caps and no inheritable set);
    runc warns and goes on, so those are skipped here too, not an error.
    """
    from dockyard.runtime import syscalls

    eligible = ambient & permitted & inheritable
    try:
        syscalls.prctl(syscalls.PR_CAP_AMBIENT, syscalls.PR_CAP_AMBIENT_CLEAR_ALL)
    except OSError as e:
        if eligible:
            raise SystemError_("ambient capabilities are not supported: "
                               f"{os.strerror(e.errno)}") from e
        return
    for nr in range(64):
        if not eligible >> nr & 1:
            continue
        try:
            syscalls.prctl(syscalls.PR_CAP_AMBIENT, syscalls.PR_CAP_AMBIENT_RAISE, nr)
        except OSError as e:
            raise SystemError_(f"cannot raise ambient {name_of(nr)}: {os.strerror(e.errno)}") from e


def apply(sets: CapabilitySets) -> None:
    """All sets at once (bounding, capset, ambient): for callers without a uid switch."""
    if sets.bounding is not None:
        drop_bounding(sets.bounding)
    set_sets(sets)
    raise_ambient(sets.ambient, sets.permitted, sets.inheritable)
