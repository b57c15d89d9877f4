"""``PUT /containers/{id}/archive``: a tar extracted at a directory of the container.

dockerd's rules, each enforced per entry before it is written:

* the extraction point must exist and be a directory ("extraction point is not a
  directory"); it and every entry must be writable: a read-only volume is
  "mounted volume is marked read-only", a read-only rootfs "container rootfs is
  marked read-only" (403, as the API documents);
* entry names stay under the extraction point (``../x`` is refused, not
  re-rooted); a symlink whose target, taken from the entry's directory, climbs
  out of it is an "invalid symlink", a hardlink to outside an "invalid hardlink";
  device nodes are refused (a copy never needs one; dockerd would make them);
* ``noOverwriteDirNonDir``: a directory never replaces a non-directory or the
  other way round;
* ``copyUIDGID``: entries take the container user's uid/gid instead of the tar's.

Entries below a volume or bind mounted under the extraction point land in that
mount (``docker cp x ctr:/`` with a volume at ``/data`` writes ``data/...`` into
the volume). The writing itself is :class:`~dockyard.image.safetar.SafeTree`'s:
parents resolved in-root, last components never followed. The body may be
compressed (gzip, bzip2, xz, zstd), as dockerd accepts.
"""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Iterable

from dockyard.engine.fsview import (
    FsView,
    container_abs,
    lookup_user,
    not_found,
    open_parent,
    reachable_mounts,
    resolve,
)
from dockyard.engine.mounts import MountPlan
from dockyard.errors import Forbidden, InvalidArgument, UnsafeContent

READ_ONLY_VOLUME = "mounted volume is marked read-only"
READ_ONLY_ROOTFS = "container rootfs is marked read-only"


class _Trees:
    """One SafeTree per filesystem root an archive writes into, opened on demand."""

    def __init__(self, options: object) -> None:
        self.options = options
        self.trees: dict[str, object] = {}

    def get(self, root: str):
        from dockyard.image.safetar import SafeTree

        tree = self.trees.get(root)
        if tree is None:
            tree = SafeTree(root, self.options)   # type: ignore[arg-type]
            self.trees[root] = tree
        return tree

    def finish(self) -> None:
        for tree in self.trees.values():
            tree.finish()   # type: ignore[attr-defined]

    def close(self) -> None:
        for tree in self.trees.values():
            tree.close()   # type: ignore[attr-defined]
        self.trees.clear()


def _within(base: str, target: str) -> bool:
    return target == base or target.startswith(base.rstrip("/") + "/")


def extract_into(view: FsView, path: str, chunks: Iterable[bytes], *,
                 no_overwrite_dir_non_dir: bool, copy_uid_gid: bool, user: str) -> None:
    from dockyard.engine.tarstream import IterReader
    from dockyard.image.inroot import clean_path
    from dockyard.image.safetar import TarOptions
    from dockyard.image.tario import (
        BLOCKDEV,
        CHAR,
        DIR,
        HARDLINK,
        SYMLINK,
        Source,
        TarLimits,
        TarReader,
    )

    abs_path = container_abs(path)
    loc, exists = resolve(view, abs_path, follow_last=True)
    if not exists:
        raise not_found(view, path)
    try:
        pfd, base = open_parent(loc)
    except FileNotFoundError:
        raise not_found(view, path) from None
    try:
        st = os.fstat(pfd) if not base else os.stat(base, dir_fd=pfd, follow_symlinks=False)
    except FileNotFoundError:
        raise not_found(view, path) from None
    finally:
        os.close(pfd)
    if not stat.S_ISDIR(st.st_mode):
        raise InvalidArgument("extraction point is not a directory")
    _check_writable(view, loc.mount)
    owner = lookup_user(view, user) if copy_uid_gid else None
    table = reachable_mounts(view)
    dest = loc.cpath
    dest_comps = tuple(c for c in dest.split("/") if c)
    options = TarOptions(keep_setuid=True, allow_devices=False, chown=None)
    limits = TarLimits()
    source = Source(IterReader(chunks), limits, hash_raw=False)
    trees = _Trees(options)
    try:
        reader = TarReader(source, limits)
        for entry in reader:
            try:
                parts = clean_path(entry.name)
            except UnsafeContent:
                raise UnsafeContent(f'"{entry.name}" is outside of "{dest}"') from None
            cpath = posixpath.join(dest, *parts) if parts else dest
            if entry.type in (CHAR, BLOCKDEV):
                raise UnsafeContent(f'"{entry.name}": device nodes cannot be copied into a '
                                    "container")
            if entry.type == SYMLINK:
                # dockerd's check: the target taken from the entry's directory
                # (an absolute one too) must stay under the extraction point
                target = posixpath.normpath(posixpath.dirname(cpath) + "/" + entry.linkname)
                if not _within(dest, target):
                    raise UnsafeContent(f'invalid symlink "{cpath}" -> "{entry.linkname}"')
            root, rel, mount = _route(view, table, dest_comps + parts)
            if mount is not None and mount is not loc.mount:
                _check_writable(view, mount)
            if mount is not None and not os.path.isdir(root):
                raise InvalidArgument(f"{cpath}: a file mounted from the host cannot be "
                                      "replaced by a copy")
            if entry.type == HARDLINK:
                target = posixpath.normpath(dest + "/" + entry.linkname)
                if not _within(dest, target):
                    raise UnsafeContent(f'invalid hardlink "{cpath}" -> "{entry.linkname}"')
                link_root, link_rel, _ = _route(
                    view, table, tuple(c for c in target.split("/") if c))
                if link_root != root:
                    raise UnsafeContent(f'invalid hardlink "{cpath}" -> "{entry.linkname}": '
                                        "the link would cross a mount")
                entry.linkname = "/".join(link_rel)
            tree = trees.get(root)
            if no_overwrite_dir_non_dir and rel:
                _check_overwrite(tree, rel, entry.type == DIR, cpath, dest)
            if owner is not None:
                entry.uid, entry.gid = owner
            try:
                tree.extract(entry, rel, reader)
            except OSError as e:
                raise InvalidArgument(f"{cpath}: cannot extract: {e.strerror or e}") from e
        trees.finish()
    finally:
        trees.close()
        source.close()


def _route(view: FsView, table: dict[tuple[str, ...], MountPlan],
           comps: tuple[str, ...]) -> tuple[str, tuple[str, ...], MountPlan | None]:
    """The filesystem root an entry lands in, its components there, and the mount."""
    for n in range(len(comps), 0, -1):
        m = table.get(comps[:n])
        if m is not None:
            return m.source, comps[n:], m
    return str(view.rootfs), comps, None


def _check_writable(view: FsView, mount: MountPlan | None) -> None:
    if mount is not None:
        if mount.read_only:
            raise Forbidden(READ_ONLY_VOLUME)
    elif view.read_only:
        raise Forbidden(READ_ONLY_ROOTFS)


def _check_overwrite(tree: object, rel: tuple[str, ...], is_dir: bool, cpath: str,
                     dest: str) -> None:
    """noOverwriteDirNonDir: refuse replacing a directory by a non-directory or the
    other way round (what exists is looked at without following anything)."""
    try:
        pfd = tree.resolver.open_dir(rel[:-1])   # type: ignore[attr-defined]
    except OSError:
        return   # the parent does not exist yet: nothing to overwrite
    try:
        st = os.stat(rel[-1], dir_fd=pfd, follow_symlinks=False)
    except FileNotFoundError:
        return
    finally:
        os.close(pfd)
    existing_dir = stat.S_ISDIR(st.st_mode)
    if existing_dir and not is_dir:
        raise InvalidArgument(f'cannot overwrite directory "{cpath}" with non-directory '
                              f'"{dest}"')
    if not existing_dir and is_dir:
        raise InvalidArgument(f'cannot overwrite non-directory "{cpath}" with directory '
                              f'"{dest}"')


__all__ = ["READ_ONLY_ROOTFS", "READ_ONLY_VOLUME", "extract_into"]
