"""COPY and ADD into a mounted root filesystem, with docker's rules.

Sources (already globbed and checked to stay in their root) are copied with
these rules, the legacy builder's:

* a directory source copies its *contents*; the destination directory is
  created (owned by root, or by ``--chown``) when missing and left alone when
  it exists;
* a file source goes to ``dest/<name>`` when ``dest`` ends with ``/`` or is an
  existing directory, else to ``dest`` itself; missing parents are created;
* several sources (after globbing) need a destination ending with ``/``;
* context files become root's (0:0) unless ``--chown``; files from another
  stage or image keep their owner (``--chown`` overrides); modes are kept
  (minus setuid/setgid on context files, as docker's context transfer drops
  them), and ``--chmod`` replaces them;
* ``ADD`` of a local tar (plain, gzip, bzip2, xz) extracts it into ``dest``
  through :mod:`dockyard.image.safetar` (owners from the archive, ``--chown``
  ignored as docker does);
* symlinks inside a copied tree stay symlinks; a source that *is* a symlink was
  resolved by the caller (docker follows it).

Destinations resolve symlinks inside the image (:func:`rootfs.resolve_in_root`),
so a base image's links never lead a write outside the rootfs.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass

from dockyard.build.rootfs import Identity, mkdir_all, resolve_in_root
from dockyard.errors import InvalidArgument

_TAR_MAGICS = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")


@dataclass(frozen=True)
class Source:
    """One copy source: ``host`` path (symlink-resolved top), the name it is copied
    under, and ``rel`` (its path relative to ``root``, for ignore rules)."""

    host: str
    name: str
    rel: str = ""


@dataclass(frozen=True)
class CopyOptions:
    identity: Identity | None = None     # None: keep the source's owner
    chmod: int | None = None
    extract_archives: bool = False       # ADD
    excluded: Callable[[str], bool] | None = None   # rel path -> skip (.dockerignore)
    drop_setid: bool = False             # context files: docker drops setuid/setgid


def normalize_dest(dest: str, workdir: str) -> tuple[str, bool]:
    """(absolute image path, names a directory) for a COPY destination."""
    is_dir = dest.endswith("/") or dest in (".", "..") or dest.endswith(("/.", "/.."))
    if not dest.startswith("/"):
        dest = posixpath.join(workdir or "/", dest)
    return posixpath.normpath(dest), is_dir


def is_archive(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        return False
    if head.startswith(_TAR_MAGICS):
        return True
    return len(head) >= 262 and head[257:262] == b"ustar"


def copy_sources(root: str, sources: list[Source], dest: str, dest_is_dir: bool,
                 opts: CopyOptions, upper: str | None = None) -> int:
    """Copy ``sources`` into the rootfs mounted at ``root``; returns the entries
    written.

    With ``upper`` (the overlay upperdir of the snapshot mounted at ``root``),
    destinations are resolved and checked in the merged view but the files are
    written straight into the upperdir: creating files through overlayfs costs
    several times more than on the upper filesystem, and the layer is the
    upperdir anyway. Directories on the way are copied up first (a no-op chown
    through the mount), so the merged semantics hold: a new upper entry shadows
    the lower one, a new upper directory merges with the lower directory.
    """
    if len(sources) > 1 and not dest_is_dir:
        raise InvalidArgument("When using COPY with more than one source file, the "
                              "destination must be a directory and end with a /")
    new_dir_owner = opts.identity or Identity(0, 0)
    n = 0
    for src in sources:
        st = os.stat(src.host)
        if stat.S_ISDIR(st.st_mode):
            # new parents are root's; the destination itself gets --chown's owner
            mkdir_all(root, posixpath.dirname(dest.rstrip("/")) or "/", Identity(0, 0))
            target = mkdir_all(root, dest, new_dir_owner)
            n += _copy_tree(src.host, _in_upper(root, upper, target), target, src.rel, opts)
            continue
        if opts.extract_archives and is_archive(src.host):
            # docker: --chown does not apply to an extracted archive, nor to its
            # destination directory
            target = mkdir_all(root, dest, Identity(0, 0))
            n += _extract(src.host, target)
            continue
        if dest_is_dir:
            mkdir_all(root, dest, new_dir_owner)
            target = resolve_in_root(root, posixpath.join(dest, src.name))
        else:
            host = resolve_in_root(root, dest)
            if os.path.isdir(host):
                target = resolve_in_root(root, posixpath.join(dest, src.name))
            else:
                mkdir_all(root, posixpath.dirname(dest), new_dir_owner)
                target = host
        parent = _in_upper(root, upper, os.path.dirname(target))
        _copy_entry(src.host, os.path.join(parent, os.path.basename(target)), st, opts,
                    target)
        n += 1
    return n


def _in_upper(root: str, upper: str | None, merged_dir: str) -> str:
    """Where to write what belongs in ``merged_dir`` (a directory of the mounted
    view): its upperdir twin, copied up first; the merged path without upper."""
    if upper is None:
        return merged_dir
    rel = os.path.relpath(merged_dir, root)
    if rel.startswith(".."):
        raise InvalidArgument(f"destination {merged_dir!r} is outside the rootfs")
    twin = os.path.normpath(os.path.join(upper, rel))
    if not os.path.isdir(twin):
        st = os.lstat(merged_dir)
        os.lchown(merged_dir, st.st_uid, st.st_gid)   # overlay copies the dir up
    if not os.path.isdir(twin):
        return merged_dir     # not an overlay after all: write through the mount
    return twin


def _owner(st: os.stat_result, opts: CopyOptions) -> tuple[int, int]:
    if opts.identity is not None:
        return opts.identity.uid, opts.identity.gid
    return st.st_uid, st.st_gid


def _mode(st: os.stat_result, opts: CopyOptions) -> int:
    if opts.chmod is not None:
        return opts.chmod
    mode = stat.S_IMODE(st.st_mode)
    if opts.drop_setid and not stat.S_ISDIR(st.st_mode):
        mode &= ~(stat.S_ISUID | stat.S_ISGID)
    return mode


def _slot(target: str, merged: str | None, want_dir: bool) -> bool:
    """Make room for a new entry at ``target``; True if a directory already is there
    (and a directory is wanted). ``merged`` is the same path in the mounted view
    when ``target`` is in the upperdir: the upper entry decides first (it may be
    newer than what the mount has cached), then the lower one shown there."""
    try:
        tst = os.lstat(target)
    except FileNotFoundError:
        tst = None
    if tst is None and merged is not None and merged != target:
        try:
            mst = os.lstat(merged)
        except (FileNotFoundError, NotADirectoryError):
            return False
        if stat.S_ISDIR(mst.st_mode):
            if not want_dir:
                raise InvalidArgument(f"cannot overwrite directory {merged!r} with a "
                                      "non-directory")
            os.mkdir(target, 0o700)   # merges with the lower directory
            os.lchown(target, mst.st_uid, mst.st_gid)
            os.chmod(target, stat.S_IMODE(mst.st_mode))
            return True
        return False   # a lower non-directory: the new upper entry shadows it
    if tst is None:
        return False
    if stat.S_ISDIR(tst.st_mode):
        if want_dir:
            return True
        raise InvalidArgument(f"cannot overwrite directory {target!r} with a non-directory")
    os.unlink(target)
    return False


def _copy_entry(src: str, target: str, st: os.stat_result, opts: CopyOptions,
                merged: str | None = None) -> None:
    uid, gid = _owner(st, opts)
    mode = st.st_mode
    if stat.S_ISLNK(mode):
        _slot(target, merged, False)
        os.symlink(os.readlink(src), target)
        os.lchown(target, uid, gid)
        return
    if stat.S_ISREG(mode):
        _slot(target, merged, False)
        fd_in = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            fd_out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                             | os.O_CLOEXEC, 0o600)
            try:
                _copy_fd(fd_in, fd_out, st.st_size)
                os.fchown(fd_out, uid, gid)
                os.fchmod(fd_out, _mode(st, opts))
                os.utime(fd_out, ns=(st.st_atime_ns, st.st_mtime_ns))
            finally:
                os.close(fd_out)
        finally:
            os.close(fd_in)
        return
    if stat.S_ISFIFO(mode):
        _slot(target, merged, False)
        os.mkfifo(target, 0o600)
        os.lchown(target, uid, gid)
        os.chmod(target, _mode(st, opts))
        return
    # sockets and device nodes are not copied (docker's archives skip sockets; a
    # build context never carries devices)


def _copy_fd(fd_in: int, fd_out: int, size: int) -> None:
    left = size
    while left > 0:
        try:
            n = os.copy_file_range(fd_in, fd_out, left)
        except OSError:
            n = 0
        if n <= 0:
            break
        left -= n
    while True:   # fallback, and files that grew
        data = os.read(fd_in, 1 << 20)
        if not data:
            break
        os.write(fd_out, data)


def _copy_tree(src_dir: str, target_dir: str, merged_dir: str | None, rel: str,
               opts: CopyOptions) -> int:
    n = 0
    with os.scandir(src_dir) as it:
        entries = sorted(it, key=lambda e: e.name)
    for e in entries:
        child_rel = f"{rel}/{e.name}" if rel and rel != "." else e.name
        if opts.excluded is not None and opts.excluded(child_rel) \
                and not e.is_dir(follow_symlinks=False):
            continue
        st = e.stat(follow_symlinks=False)
        target = os.path.join(target_dir, e.name)
        merged = os.path.join(merged_dir, e.name) if merged_dir is not None else None
        if stat.S_ISDIR(st.st_mode):
            existed = _slot(target, merged, True)
            if not existed:
                os.mkdir(target, 0o700)
            sub = _copy_tree(e.path, target, merged, child_rel, opts)
            if opts.excluded is not None and opts.excluded(child_rel) and not sub \
                    and not existed:
                os.rmdir(target)
                continue
            uid, gid = _owner(st, opts)
            os.lchown(target, uid, gid)
            os.chmod(target, _mode(st, opts))
            os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
            n += 1 + sub
        else:
            _copy_entry(e.path, target, st, opts, merged)
            n += 1
    return n


def _extract(archive: str, target: str) -> int:
    from dockyard.image.safetar import TarOptions, extract_tar

    with open(archive, "rb") as f:
        stats, _ = extract_tar(f, target, options=TarOptions(keep_setuid=True))
    return stats.entries


def remove_tree(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


__all__ = ["CopyOptions", "Source", "copy_sources", "is_archive", "normalize_dest"]
