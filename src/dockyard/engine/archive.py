"""``docker cp`` and ``docker export``: tar streams in and out of a container's view.

* :func:`stat_path` is the ``X-Docker-Container-Path-Stat`` document: name, size,
  mode as Go's ``os.FileMode`` (type bits high: a directory is ``1<<31 | perm``),
  mtime (RFC 3339, nanoseconds) and, for a symlink, the container path it
  resolves to.
* :func:`get_archive` is dockerd's ``TarResourceRebase``: a directory's tar is
  rooted at its base name (``/data`` -> ``data/...``), ``/data/.`` gives its
  contents (``./...``), a file is one entry; a last-component symlink is archived
  as the link unless the path ends in ``/`` or ``/.``. Volumes mounted below the
  path are included, as the container sees them.
* :func:`put_archive` (``archive_put.py``) extracts a tar at a directory.
* :func:`export_rootfs` is the rootfs alone (no volumes), as ``docker export``.

Paths resolve inside the container (:mod:`dockyard.engine.fsview`); nothing is
read or written outside its rootfs and mounts. The streams are generators: the
caller consumes them while the view (a stopped container's mounted rootfs) lives.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterable, Iterator
from typing import Any

from dockyard.engine.fsview import (
    FsView,
    base_name,
    container_abs,
    locate,
    not_found,
    open_parent,
    reachable_mounts,
    resolve,
)
from dockyard.errors import InvalidArgument

# Go's os.FileMode type bits
MODE_DIR = 1 << 31
MODE_SYMLINK = 1 << 27
MODE_DEVICE = 1 << 26
MODE_NAMED_PIPE = 1 << 25
MODE_SOCKET = 1 << 24
MODE_SETUID = 1 << 23
MODE_SETGID = 1 << 22
MODE_CHAR_DEVICE = 1 << 21
MODE_STICKY = 1 << 20


def go_file_mode(st_mode: int) -> int:
    """A Unix ``st_mode`` as Go's ``os.FileMode`` (what docker's path stat carries)."""
    mode = st_mode & 0o777
    kind = stat.S_IFMT(st_mode)
    mode |= {stat.S_IFBLK: MODE_DEVICE, stat.S_IFCHR: MODE_DEVICE | MODE_CHAR_DEVICE,
             stat.S_IFDIR: MODE_DIR, stat.S_IFIFO: MODE_NAMED_PIPE,
             stat.S_IFLNK: MODE_SYMLINK, stat.S_IFSOCK: MODE_SOCKET}.get(kind, 0)
    if st_mode & stat.S_ISUID:
        mode |= MODE_SETUID
    if st_mode & stat.S_ISGID:
        mode |= MODE_SETGID
    if st_mode & stat.S_ISVTX:
        mode |= MODE_STICKY
    return mode


def unix_mode(go_mode: int) -> int:
    """The inverse of :func:`go_file_mode` (clients decode the stat header so)."""
    mode = go_mode & 0o777
    if go_mode & MODE_DIR:
        mode |= stat.S_IFDIR
    elif go_mode & MODE_SYMLINK:
        mode |= stat.S_IFLNK
    elif go_mode & MODE_DEVICE:
        mode |= stat.S_IFCHR if go_mode & MODE_CHAR_DEVICE else stat.S_IFBLK
    elif go_mode & MODE_NAMED_PIPE:
        mode |= stat.S_IFIFO
    elif go_mode & MODE_SOCKET:
        mode |= stat.S_IFSOCK
    else:
        mode |= stat.S_IFREG
    for go_bit, bit in ((MODE_SETUID, stat.S_ISUID), (MODE_SETGID, stat.S_ISGID),
                        (MODE_STICKY, stat.S_ISVTX)):
        if go_mode & go_bit:
            mode |= bit
    return mode


def rfc3339_nano(ns: int) -> str:
    """Go's ``time.RFC3339Nano`` in UTC: trailing zeros of the fraction dropped."""
    sec, frac = divmod(ns, 1_000_000_000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
    if frac:
        text += "." + f"{frac:09d}".rstrip("0")
    return text + "Z"


def _check_path(path: str) -> None:
    if not path:
        raise InvalidArgument("bad parameter: path cannot be empty")
    if "\0" in path:
        raise InvalidArgument("bad parameter: path contains a NUL byte")


def _follow_last(abs_path: str) -> bool:
    return abs_path.endswith("/") or abs_path.endswith("/.")


def stat_path(view: FsView, path: str) -> dict[str, Any]:
    """The ``X-Docker-Container-Path-Stat`` document of ``path``."""
    _check_path(path)
    abs_path = container_abs(path)
    loc, exists = resolve(view, abs_path, follow_last=_follow_last(abs_path))
    if not exists:
        raise not_found(view, path)
    st = _lstat_in_root(view, path, loc)
    link = ""
    if stat.S_ISLNK(st.st_mode):
        target, _ = resolve(view, loc.cpath, follow_last=True)
        link = target.cpath
    return {"name": base_name(abs_path), "size": st.st_size, "mode": go_file_mode(st.st_mode),
            "mtime": rfc3339_nano(st.st_mtime_ns), "linkTarget": link}


def _lstat_in_root(view: FsView, path: str, loc: Any) -> os.stat_result:
    """lstat through an in-root parent fd (a plain lstat of the host path could follow
    a symlink a running container swapped in above it)."""
    try:
        pfd, base = open_parent(loc)
    except FileNotFoundError:
        raise not_found(view, path) from None
    try:
        if not base:
            return os.fstat(pfd)
        return os.stat(base, dir_fd=pfd, follow_symlinks=False)
    except (FileNotFoundError, NotADirectoryError):
        raise not_found(view, path) from None
    finally:
        os.close(pfd)


def get_archive(view: FsView, path: str) -> Iterator[bytes]:
    """The tar of ``path``. Resolution and the not-found check happen now (so the
    caller can answer 404 before sending anything); the tar comes as it is read."""
    from dockyard.engine.tarstream import TreeTar, rechunk

    _check_path(path)
    abs_path = container_abs(path)
    loc, exists = resolve(view, abs_path, follow_last=_follow_last(abs_path))
    if not exists:
        raise not_found(view, path)
    try:
        pfd, base = open_parent(loc)
    except FileNotFoundError:
        raise not_found(view, path) from None
    try:
        if base:
            os.stat(base, dir_fd=pfd, follow_symlinks=False)
    except FileNotFoundError:
        os.close(pfd)
        raise not_found(view, path) from None
    name = base_name(abs_path)
    mounts = {"/" + "/".join(comps): m.source for comps, m in reachable_mounts(view).items()}

    def generate() -> Iterator[bytes]:
        try:
            yield from rechunk(iter(TreeTar(pfd, base, name, container_path=loc.cpath,
                                            mounts=mounts)))
        finally:
            os.close(pfd)

    return generate()


def export_rootfs(view: FsView) -> Iterator[bytes]:
    """The container's root filesystem as one tar (mounts not included)."""
    from dockyard.engine.tarstream import TreeTar, rechunk

    loc = locate(FsView(view.rootfs), ())
    pfd, base = open_parent(loc)

    def generate() -> Iterator[bytes]:
        try:
            yield from rechunk(iter(TreeTar(pfd, base, "")))
        finally:
            os.close(pfd)

    return generate()


def put_archive(view: FsView, path: str, chunks: Iterable[bytes], *,
                no_overwrite_dir_non_dir: bool = False, copy_uid_gid: bool = False,
                user: str = "") -> None:
    """Extract the tar ``chunks`` into the directory ``path`` (see archive_put.py)."""
    from dockyard.engine.archive_put import extract_into

    _check_path(path)
    extract_into(view, path, chunks, no_overwrite_dir_non_dir=no_overwrite_dir_non_dir,
                 copy_uid_gid=copy_uid_gid, user=user)


__all__ = ["export_rootfs", "get_archive", "go_file_mode", "put_archive", "rfc3339_nano",
           "stat_path", "unix_mode"]
