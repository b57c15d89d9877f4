"""Paths and users inside an image's root filesystem, as the builder needs them.

Everything here treats ``root`` as ``/``: symlinks are followed *in scope*
(an absolute target restarts at ``root``, ``..`` stops at ``root``), the same
rule docker's builder uses for COPY destinations, ``--chown`` look-ups and
WORKDIR creation. The rootfs may come from any image, so a hostile link can
never lead a write outside it.
"""

from __future__ import annotations

import os
import posixpath
import stat
from dataclasses import dataclass

from dockyard.errors import InvalidArgument, NotFound

_MAX_LINKS = 255


def resolve_in_root(root: str, path: str, *, follow_last: bool = True) -> str:
    """The host path ``path`` (absolute, in the image) names under ``root``.

    Symlinks are resolved in scope; with ``follow_last`` False a final symlink
    is left as is (for lstat, replace). Missing components are kept as written.
    """
    root = os.path.abspath(root)
    parts = [p for p in posixpath.normpath("/" + path).split("/") if p]
    done: list[str] = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part == ".":
            continue
        if part == "..":
            if done:
                done.pop()
            continue
        host = os.path.join(root, *done, part)
        if (parts or follow_last) and os.path.islink(host):
            links += 1
            if links > _MAX_LINKS:
                raise InvalidArgument(f"too many levels of symbolic links in {path!r}")
            target = os.readlink(host)
            if target.startswith("/"):
                done = []
            parts = [p for p in target.split("/") if p] + parts
            continue
        done.append(part)
    return os.path.join(root, *done) if done else root


@dataclass(frozen=True)
class Identity:
    uid: int
    gid: int
    groups: tuple[int, ...] = ()


def _table(root: str, name: str) -> list[list[str]]:
    try:
        with open(resolve_in_root(root, f"/etc/{name}"), encoding="utf-8",
                  errors="replace") as f:
            return [line.rstrip("\n").split(":") for line in f
                    if line.strip() and not line.startswith("#")]
    except (FileNotFoundError, NotADirectoryError):
        return []


def lookup_user(root: str, user: str) -> tuple[int, int | None]:
    """(uid, primary gid or None) of a user name or number in the image's passwd."""
    if user.isdigit():
        uid = int(user)
        for row in _table(root, "passwd"):
            if len(row) > 3 and row[2] == user and row[3].isdigit():
                return uid, int(row[3])
        return uid, None
    for row in _table(root, "passwd"):
        if row[0] == user and len(row) > 3 and row[2].isdigit() and row[3].isdigit():
            return int(row[2]), int(row[3])
    raise NotFound(f"unable to find user {user}: no matching entries in passwd file")


def lookup_group(root: str, group: str) -> int:
    if group.isdigit():
        return int(group)
    for row in _table(root, "group"):
        if row[0] == group and len(row) > 2 and row[2].isdigit():
            return int(row[2])
    raise NotFound(f"unable to find group {group}: no matching entries in group file")


def chown_identity(root: str, spec: str) -> Identity:
    """``COPY --chown=SPEC``: docker's legacy rule, a missing group means the user's
    name (or number) is looked up as the group too."""
    parts = spec.split(":")
    if len(parts) > 2 or not parts[0]:
        raise InvalidArgument(f"invalid chown string format: {spec}")
    user, group = (parts[0], parts[0]) if len(parts) == 1 else (parts[0], parts[1])
    uid, _ = lookup_user(root, user)
    return Identity(uid, lookup_group(root, group))


def run_identity(root: str, spec: str) -> Identity:
    """The process identity ``USER spec`` gives a RUN step (uid, gid, supplementary
    groups from /etc/group), as runc's user look-up does."""
    if not spec:
        spec = "0"
    user, _, group = spec.partition(":")
    try:
        uid, gid = lookup_user(root, user)
    except NotFound:
        raise NotFound(f"unable to find user {user}: no matching entries in passwd file"
                       ) from None
    if group:
        gid = lookup_group(root, group)
    if gid is None:
        gid = 0
    name = user
    if user.isdigit():
        name = next((r[0] for r in _table(root, "passwd") if len(r) > 2 and r[2] == user),
                    user)
    # as runc's user look-up: the primary group, then the groups naming the user
    extra = {int(r[2]) for r in _table(root, "group")
             if len(r) > 3 and r[2].isdigit() and name in r[3].split(",")} \
        if not group else set()
    return Identity(uid, gid, (gid, *sorted(extra - {gid})))


def home_of(root: str, uid: int) -> str:
    for row in _table(root, "passwd"):
        if len(row) > 5 and row[2] == str(uid):
            return row[5] or "/"
    return "/"


def mkdir_all(root: str, path: str, identity: Identity | None = None,
              mode: int = 0o755) -> str:
    """Create ``path`` (in the image) and missing parents; new directories get
    ``identity``'s owner. Returns the host path. Fails if a component is a file."""
    host = root
    parts = [p for p in posixpath.normpath("/" + path).split("/") if p]
    so_far = "/"
    for part in parts:
        so_far = posixpath.join(so_far, part)
        host = resolve_in_root(root, so_far)
        try:
            st = os.stat(host)
        except FileNotFoundError:
            parent = os.path.dirname(host)
            if not os.path.isdir(parent):
                # a dangling in-root symlink on the way: create where it points
                mkdir_all(root, "/" + os.path.relpath(parent, root), identity, mode)
            os.mkdir(host, mode)
            os.chmod(host, mode)
            if identity is not None:
                os.lchown(host, identity.uid, identity.gid)
            continue
        if not stat.S_ISDIR(st.st_mode):
            raise InvalidArgument(f"cannot create directory {path}: {so_far} is not a "
                                  "directory")
    return host


__all__ = ["Identity", "chown_identity", "home_of", "lookup_group", "lookup_user",
           "mkdir_all", "resolve_in_root", "run_identity"]
