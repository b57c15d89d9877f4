"""``process.user``: Docker's ``User`` string resolved through the container's own
/etc/passwd and /etc/group, plus ``GroupAdd``.

The files are opened *inside* the rootfs (``RootDir``: a symlinked /etc/passwd in a
hostile image resolves within the rootfs, never to the host's file) and read with a
size cap. The rules are libcontainer's, which dockerd uses:

* ``""`` is uid 0; ``name`` or ``uid``; ``user:group`` with either part a name or a
  number. A name must exist; a number need not (then gid stays 0 unless given).
* A matched user name brings its supplementary groups (every group listing it) unless
  a group was given explicitly.
* additionalGids = [primary gid] + supplementary gids + GroupAdd (names looked up in
  /etc/group, numbers taken as they are; duplicates dropped, numeric order for the
  GroupAdd part, as dockerd's own order there is a Go map's).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from dockyard.errors import InvalidArgument

__all__ = ["ResolvedUser", "resolve_user"]

_MAX_ID = 2**31 - 1
_MAX_FILE = 16 * 1024 * 1024
_RANGE = "uids and gids must be in range 0-2147483647"


@dataclass(frozen=True)
class ResolvedUser:
    uid: int
    gid: int
    additional_gids: tuple[int, ...]
    home: str = "/"

    def to_oci(self) -> dict:
        user: dict = {"uid": self.uid, "gid": self.gid}
        if self.additional_gids:
            user["additionalGids"] = list(self.additional_gids)
        return user


@dataclass(frozen=True)
class _Entry:
    name: str
    id: int
    gid: int = 0        # passwd only
    home: str = ""      # passwd only
    members: tuple[str, ...] = ()  # group only


def _read_in_root(rootfs: str, path: str) -> str | None:
    """Text of ``path`` resolved inside ``rootfs``; None when it does not exist."""
    from dockyard.runtime.rootfs.paths import RootDir

    try:
        with RootDir(rootfs) as root:
            fd = root.open(path)
            try:
                with open(f"/proc/self/fd/{fd}", "rb") as f:
                    data = f.read(_MAX_FILE + 1)
            finally:
                os.close(fd)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
    except OSError as e:
        if e.errno in (2, 20, 21):  # ENOENT, ENOTDIR, EISDIR: wrapped by RootDir
            return None
        raise InvalidArgument(f"reading {path} in the container: {e.strerror}") from None
    if len(data) > _MAX_FILE:
        raise InvalidArgument(f"{path} in the container is larger than {_MAX_FILE} bytes")
    return data.decode("utf-8", errors="replace")


def _int(text: str) -> int | None:
    text = text.strip()
    if not text or not (text.isdigit() or (text[0] in "+-" and text[1:].isdigit())):
        return None
    return int(text)


def _passwd(text: str | None) -> list[_Entry]:
    out = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        f = line.split(":")
        f += [""] * (7 - len(f))
        uid, gid = _int(f[2]), _int(f[3])
        out.append(_Entry(f[0], uid or 0, gid or 0, f[5]))
    return out


def _group(text: str | None) -> list[_Entry]:
    out = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        f = line.split(":")
        f += [""] * (4 - len(f))
        members = tuple(m for m in f[3].split(",") if m)
        out.append(_Entry(f[0], _int(f[2]) or 0, members=members))
    return out


def _checked(n: int) -> int:
    if not 0 <= n <= _MAX_ID:
        raise InvalidArgument(_RANGE)
    return n


def resolve_user(rootfs: str, user: str, group_add: list[str] | None = None
                 ) -> ResolvedUser:
    """Resolve Docker's ``Config.User`` + ``HostConfig.GroupAdd`` in ``rootfs``."""
    passwd_text = _read_in_root(rootfs, "/etc/passwd")
    group_text = _read_in_root(rootfs, "/etc/group")
    users, groups = _passwd(passwd_text), _group(group_text)
    user_arg, _, group_arg = (user or "").partition(":")
    uid_num, gid_num = _int(user_arg), _int(group_arg)

    uid, gid, home, matched = 0, 0, "/", ""
    if user_arg == "":
        found = [u for u in users if u.id == 0]
    elif uid_num is not None:
        found = [u for u in users if u.id == uid_num]
    else:
        found = [u for u in users if u.name == user_arg]
    if found:
        matched, uid, gid, home = found[0].name, found[0].id, found[0].gid, found[0].home
    elif user_arg:
        if uid_num is None:
            raise InvalidArgument(f"unable to find user {user_arg}: no matching entries "
                                  "in passwd file")
        uid = _checked(uid_num)

    sgids: list[int] = []
    if group_arg:
        if gid_num is not None:
            hits = [g for g in groups if g.id == gid_num]
        else:
            hits = [g for g in groups if g.name == group_arg]
        if hits:
            gid = hits[0].id
        elif gid_num is None:
            raise InvalidArgument(f"unable to find group {group_arg}: no matching entries "
                                  "in group file")
        else:
            gid = _checked(gid_num)
    elif matched:
        sgids = [g.id for g in groups if matched in g.members]

    extra: set[int] = set()
    for wanted in group_add or ():
        hit = next((g for g in groups if g.name == wanted or str(g.id) == wanted), None)
        if hit is not None:
            extra.add(hit.id)
            continue
        n = _int(wanted)
        if n is None:
            raise InvalidArgument(f"Unable to find group {wanted}")
        extra.add(_checked(n))

    gids: list[int] = [gid]
    for g in sgids + sorted(extra):
        if g not in gids:
            gids.append(g)
    return ResolvedUser(uid, gid, tuple(gids), home or "/")
