"""A container's filesystem as the container sees it, from the host: rootfs + mounts.

``docker cp`` works on paths *inside* the container: ``/data/x`` is in the volume
mounted at ``/data``, and a symlink ``/l -> /etc`` means the container's ``/etc``,
never the host's. :func:`resolve` walks a container path one component at a time
over the rootfs and the host directories of the bind and volume mounts
(``tmpfs`` mounts exist only inside a running container's namespace, so their
paths fall through to the rootfs, as with dockerd): ``..`` stops at ``/`` and a
symlink's target is followed from the container's root.

Every step looks at one entry through its parent directory opened by
:class:`~dockyard.runtime.rootfs.paths.RootDir` inside the one directory holding
it (the rootfs or a mount source) with ``RESOLVE_IN_ROOT``, and so does every later
open: a symlink a running container swaps in meanwhile still cannot lead outside
that root, not even for an lstat.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
from dataclasses import dataclass

from dockyard.engine.mounts import FsView, MountPlan
from dockyard.errors import InvalidArgument, NotFound

MAX_SYMLINKS = 40


@dataclass(frozen=True)
class Location:
    """Where a resolved container path lives on the host."""

    cpath: str                   # clean absolute container path, symlinks resolved
    root: str                    # host directory that is the root of its filesystem
    rel: tuple[str, ...]         # components inside ``root``
    mount: MountPlan | None      # the mount holding it; None: the rootfs

    @property
    def host_path(self) -> str:
        return os.path.join(self.root, *self.rel)


def _parts(path: str) -> list[str]:
    return [c for c in path.split("/") if c not in ("", ".")]


def reachable_mounts(view: FsView) -> dict[tuple[str, ...], MountPlan]:
    """Bind and volume mounts by destination components (tmpfs has no host side)."""
    return {tuple(_parts(m.destination)): m for m in view.mounts
            if m.type in ("bind", "volume") and m.source}


def locate(view: FsView, comps: tuple[str, ...],
           table: dict[tuple[str, ...], MountPlan] | None = None) -> Location:
    """The host place of already-resolved container components (deepest mount wins)."""
    table = reachable_mounts(view) if table is None else table
    for n in range(len(comps), 0, -1):
        m = table.get(comps[:n])
        if m is not None:
            return Location("/" + "/".join(comps), m.source, comps[n:], m)
    return Location("/" + "/".join(comps), str(view.rootfs), comps, None)


def resolve(view: FsView, path: str, *, follow_last: bool) -> tuple[Location, bool]:
    """Resolve ``path`` (absolute, inside the container) to a Location; the bool
    says whether it exists. Missing components are kept as written."""
    table = reachable_mounts(view)
    resolved: list[str] = []
    pending = _parts(path)[::-1]
    links = 0
    exists = True
    while pending:
        comp = pending.pop()
        if comp == "..":
            if resolved:
                resolved.pop()
            continue
        last = not pending
        cand = (*resolved, comp)
        if not exists:
            resolved.append(comp)
            continue
        try:
            st, target = _probe(locate(view, cand, table))
        except OSError as e:
            if e.errno not in (errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG, errno.ELOOP):
                raise InvalidArgument(f"{path}: {e.strerror}") from None
            exists = False
            resolved.append(comp)
            continue
        if target is not None and (follow_last or not last):
            links += 1
            if links > MAX_SYMLINKS:
                raise InvalidArgument(f"{path}: too many levels of symbolic links")
            if target.startswith("/"):
                resolved = []
            pending.extend(_parts(target)[::-1])
            continue
        if not last and not stat.S_ISDIR(st.st_mode):
            exists = False   # "/etc/passwd/x": nothing there
        resolved.append(comp)
    return locate(view, tuple(resolved), table), exists


def _probe(loc: Location) -> tuple[os.stat_result, str | None]:
    """lstat (and readlink) one entry through its in-root parent: a symlink a running
    container swaps in above it is never followed on the host."""
    pfd, base = open_parent(loc)
    try:
        if not base:
            return os.fstat(pfd), None
        st = os.stat(base, dir_fd=pfd, follow_symlinks=False)
        target = os.readlink(base, dir_fd=pfd) if stat.S_ISLNK(st.st_mode) else None
        return st, target
    finally:
        os.close(pfd)


def container_abs(path: str) -> str:
    """docker's ``PreserveTrailingDotOrSeparator(Clean(Join("/", path)), path)``."""
    clean = posixpath.normpath("/" + path)
    if clean.startswith("//"):
        clean = "/" + clean.lstrip("/")
    if path.endswith("/.") and clean != "/":
        return clean + "/."
    if path.endswith("/") and clean != "/":
        return clean + "/"
    return clean


def base_name(abs_path: str) -> str:
    """Go's ``filepath.Base`` of the preserved path: "/a/." -> ".", "/a/" -> "a"."""
    if abs_path.endswith("/."):
        return "."
    stripped = abs_path.rstrip("/")
    return posixpath.basename(stripped) if stripped else "/"


def not_found(view: FsView, path: str) -> NotFound:
    return NotFound(f"Could not find the file {path} in container {view.container}")


def open_parent(loc: Location) -> tuple[int, str]:
    """(O_PATH fd of the parent directory, last component); ("", the root's fd) when
    the location is a filesystem root. The fd is opened in-root; the caller closes it."""
    from dockyard.runtime.rootfs.paths import RootDir

    if not loc.rel and not os.path.isdir(loc.root):
        # a bind-mounted file: the daemon's own host path, its parent is trusted
        head, base = os.path.split(loc.root)
        return os.open(head, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC), base
    with RootDir(loc.root) as root:
        if not loc.rel:
            return os.dup(root.fd), ""
        try:
            fd = root.open("/".join(loc.rel[:-1]))
        except OSError as e:
            if e.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                raise FileNotFoundError(e.errno, str(e)) from None
            raise
    if not stat.S_ISDIR(os.fstat(fd).st_mode):
        os.close(fd)
        raise FileNotFoundError(errno.ENOTDIR, "parent is not a directory")
    return fd, loc.rel[-1]


def read_in_root(view: FsView, path: str, limit: int = 1 << 20) -> bytes | None:
    """A small file of the container (e.g. /etc/passwd), or None if missing."""
    loc, exists = resolve(view, path, follow_last=True)
    if not exists:
        return None
    try:
        pfd, base = open_parent(loc)
    except FileNotFoundError:
        return None
    try:
        fd = os.open(base or ".", os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK,
                     dir_fd=pfd)
    except OSError:
        return None
    finally:
        os.close(pfd)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.read(fd, limit)
    finally:
        os.close(fd)


def lookup_user(view: FsView, user: str) -> tuple[int, int]:
    """uid/gid of ``Config.User`` (``name|uid[:group|gid]``) by the container's
    /etc/passwd and /etc/group; "" is root."""
    if not user:
        return 0, 0
    name, _, group = user.partition(":")
    uid = gid = None
    passwd = (read_in_root(view, "/etc/passwd") or b"").decode("utf-8", "replace")
    for line in passwd.splitlines():
        f = line.split(":")
        if (len(f) >= 4 and (f[0] == name or f[2] == name)
                and f[2].isdigit() and f[3].isdigit()):
            uid, gid = int(f[2]), int(f[3])
            break
    if uid is None:
        if not name.isdigit():
            raise InvalidArgument(f"unable to find user {name}: no matching entries in "
                                  "passwd file")
        uid, gid = int(name), 0
    if group:
        groups = (read_in_root(view, "/etc/group") or b"").decode("utf-8", "replace")
        for line in groups.splitlines():
            f = line.split(":")
            if len(f) >= 3 and (f[0] == group or f[2] == group) and f[2].isdigit():
                gid = int(f[2])
                break
        else:
            if not group.isdigit():
                raise InvalidArgument(f"unable to find group {group}: no matching entries "
                                      "in group file")
            gid = int(group)
    return uid, gid if gid is not None else 0


__all__ = ["FsView", "Location", "base_name", "container_abs", "locate", "lookup_user",
           "not_found", "open_parent", "reachable_mounts", "resolve"]
