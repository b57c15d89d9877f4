"""Docker's ``User`` (``name``, ``uid``, ``name:group``, ``uid:gid``) -> the numbers
an OCI process needs, looked up in the container's own ``/etc/passwd`` and
``/etc/group``.

The files are read through ``/proc/<pid>/root`` (the running container's view,
volumes included) with every symlink resolved inside that root, so a hostile
image's ``/etc -> /host/etc`` link cannot make the daemon read the host's files.
Parsing is pure (tests feed it text); the rules are libcontainer's, which docker
uses: a numeric uid or gid needs no entry; a name must have one ("unable to find
user x: no matching entries in passwd file"); supplementary groups are the
groups that list the user by name; HOME comes from the passwd entry ("/" without
one).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from dockyard.errors import InvalidArgument


@dataclass(frozen=True)
class ExecUser:
    uid: int
    gid: int
    additional_gids: tuple[int, ...] = ()
    home: str = "/"

    def to_oci(self) -> dict:
        out: dict = {"uid": self.uid, "gid": self.gid}
        if self.additional_gids:
            out["additionalGids"] = list(self.additional_gids)
        return out


@dataclass(frozen=True)
class _Passwd:
    name: str
    uid: int
    gid: int
    home: str


@dataclass(frozen=True)
class _Group:
    name: str
    gid: int
    members: tuple[str, ...]


def parse_passwd(text: str) -> list[_Passwd]:
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        parts = line.split(":")
        if len(parts) < 4:
            continue
        try:
            out.append(_Passwd(parts[0], int(parts[2]), int(parts[3]),
                               parts[5] if len(parts) > 5 else ""))
        except ValueError:
            continue
    return out


def parse_group(text: str) -> list[_Group]:
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        parts = line.split(":")
        if len(parts) < 3:
            continue
        try:
            gid = int(parts[2])
        except ValueError:
            continue
        members = tuple(m for m in (parts[3].split(",") if len(parts) > 3 else ()) if m)
        out.append(_Group(parts[0], gid, members))
    return out


def _is_id(text: str) -> bool:
    return text.isdigit()


def resolve(spec: str, passwd: str, group: str) -> ExecUser:
    """``spec`` (docker's User string) against the given file texts."""
    user, _, grp = spec.partition(":")
    users = parse_passwd(passwd)
    groups = parse_group(group)
    entry = None
    if user == "":
        entry = next((u for u in users if u.uid == 0), None)
        uid, gid = 0, 0
    elif _is_id(user):
        uid = int(user)
        entry = next((u for u in users if u.uid == uid), None)
        gid = entry.gid if entry else 0
    else:
        entry = next((u for u in users if u.name == user), None)
        if entry is None:
            raise InvalidArgument(f"unable to find user {user}: no matching entries in "
                                  "passwd file")
        uid, gid = entry.uid, entry.gid
    if grp:
        if _is_id(grp):
            gid = int(grp)
        else:
            found = next((g for g in groups if g.name == grp), None)
            if found is None:
                raise InvalidArgument(f"unable to find group {grp}: no matching entries "
                                      "in group file")
            gid = found.gid
    extra: list[int] = []
    if entry is not None and not grp:
        for g in groups:
            if entry.name in g.members and g.gid != gid and g.gid not in extra:
                extra.append(g.gid)
    for value in (uid, gid):
        if value > (1 << 32) - 2:
            raise InvalidArgument(f"user {spec!r}: id {value} is out of range")
    return ExecUser(uid, gid, tuple(extra), (entry.home if entry and entry.home else "/"))


def read_in_root(root: str, path: str, limit: int = 4 << 20) -> str:
    """A file of a container's filesystem (``root`` e.g. ``/proc/<pid>/root``),
    symlinks resolved inside it; "" when the file does not exist."""
    from dockyard.image.inroot import RootResolver

    parts = tuple(p for p in path.strip("/").split("/") if p)
    root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            dir_fd = RootResolver(root_fd).open_dir(parts[:-1])
        except (FileNotFoundError, NotADirectoryError):
            return ""
        try:
            fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK,
                         dir_fd=dir_fd)
        except (FileNotFoundError, NotADirectoryError):
            return ""
        except OSError as e:
            raise InvalidArgument(f"cannot read {path} in the container: {e.strerror}") \
                from None
        finally:
            os.close(dir_fd)
        try:
            import stat

            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise InvalidArgument(f"{path} in the container is not a regular file")
            return os.read(fd, limit).decode(errors="replace")
        finally:
            os.close(fd)
    finally:
        os.close(root_fd)


def resolve_in_container(spec: str, pid: int) -> ExecUser:
    root = f"/proc/{pid}/root"
    return resolve(spec, read_in_root(root, "/etc/passwd"), read_in_root(root, "/etc/group"))


__all__ = ["ExecUser", "parse_group", "parse_passwd", "read_in_root", "resolve",
           "resolve_in_container"]
