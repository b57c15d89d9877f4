"""``process.user`` and ``process.umask``: who the container process runs as.

The spec gives numbers (uid, gid, additionalGids), so no /etc/passwd lookup is
done here. Switching is setgroups, setgid, setuid in that order (groups need
CAP_SETGID, which a non-root uid no longer has); PR_SET_KEEPCAPS around setuid
keeps the permitted set so the capset that follows can still grant capabilities
to a non-root user.
"""

from __future__ import annotations

import os
from _collections_abc import Mapping  # collections.abc without collections (~2 ms)

from dockyard.errors import InvalidArgument, SystemError_
from dockyard.runtime.security._record import Record

__all__ = ["Identity", "parse", "set_keepcaps", "set_umask", "switch"]

_ID_MAX = (1 << 32) - 2  # (uid_t)-1 means "unchanged" to the kernel
_NGROUPS_MAX = 65536


class Identity(Record):
    __slots__ = ("additional_gids", "gid", "uid", "umask")

    def __init__(self, uid: int = 0, gid: int = 0, additional_gids: tuple[int, ...] = (),
                 umask: int | None = None) -> None:
        self.uid = uid
        self.gid = gid
        self.additional_gids = additional_gids
        self.umask = umask


def _id(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _ID_MAX:
        raise InvalidArgument(f"{where}: must be an integer in 0..{_ID_MAX}, got {value!r}")
    return value


def parse(user: Mapping[str, object] | None, path: str = "process.user") -> Identity:
    """Check ``process.user`` (uid, gid, umask, additionalGids); names the bad field."""
    if user is None:
        return Identity()
    if not isinstance(user, Mapping):
        raise InvalidArgument(f"{path}: must be an object")
    uid = _id(user.get("uid", 0), f"{path}.uid")
    gid = _id(user.get("gid", 0), f"{path}.gid")
    extra = user.get("additionalGids") or []
    if not isinstance(extra, list):
        raise InvalidArgument(f"{path}.additionalGids: must be an array of integers")
    if len(extra) > _NGROUPS_MAX:
        raise InvalidArgument(f"{path}.additionalGids: {len(extra)} groups, the kernel allows "
                              f"at most {_NGROUPS_MAX}")
    gids = tuple(_id(g, f"{path}.additionalGids[{i}]") for i, g in enumerate(extra))
    umask = user.get("umask")
    if umask is not None and (isinstance(umask, bool) or not isinstance(umask, int)
                              or not 0 <= umask <= 0o7777):
        raise InvalidArgument(f"{path}.umask: must be an integer in 0..0o7777, got {umask!r}")
    return Identity(uid, gid, gids, umask)


def _setgroups_allowed() -> bool:
    # In a user namespace whose gid map was written with setgroups "deny", the
    # kernel refuses setgroups(2); only then do we skip clearing the groups.
    try:
        with open("/proc/self/setgroups") as f:
            return f.read().strip() != "deny"
    except OSError:
        return True


def set_keepcaps(on: bool) -> None:
    from dockyard.runtime import syscalls

    try:
        syscalls.prctl(syscalls.PR_SET_KEEPCAPS, 1 if on else 0)
    except OSError as e:
        raise SystemError_(f"prctl(PR_SET_KEEPCAPS, {int(on)}): {os.strerror(e.errno)}") from e


def switch(ident: Identity) -> None:
    """setgroups(additionalGids), setgid, setuid; each failure names the call and id."""
    import os

    groups = list(ident.additional_gids)
    if groups or _setgroups_allowed():
        try:
            os.setgroups(groups)
        except OSError as e:
            hint = " (setgroups is denied in this user namespace)" if groups and \
                not _setgroups_allowed() else ""
            shown = groups if len(groups) <= 8 else [*groups[:8], "..."]
            raise SystemError_(f"setgroups({shown}): {e.strerror}{hint}") from e
    try:
        os.setgid(ident.gid)
    except OSError as e:
        raise SystemError_(f"setgid({ident.gid}): {e.strerror} (is the gid mapped in the "
                           "user namespace?)") from e
    try:
        os.setuid(ident.uid)
    except OSError as e:
        raise SystemError_(f"setuid({ident.uid}): {e.strerror} (is the uid mapped in the "
                           "user namespace?)") from e


def set_umask(ident: Identity) -> None:
    """Apply ``process.user.umask``; without one, the runtime default 0022 (as runc)."""
    import os

    os.umask(0o022 if ident.umask is None else ident.umask)
