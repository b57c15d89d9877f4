"""Extract a tar stream into a directory without ever touching anything outside it.

This is the core every tar-to-disk path uses (layer apply, ``import``, ``load``,
later ``docker cp`` and build ``ADD``). The rules, each enforced per entry:

* **Paths** are cleaned lexically: a leading ``/`` is stripped (docker's
  behaviour: ``/etc/passwd`` lands in ``ROOT/etc/passwd``), ``a/../b`` becomes
  ``b``, and a ``..`` that climbs above the root is *rejected*.
* **Parents** are resolved inside the root (:mod:`dockyard.image.inroot`): a
  symlink planted by an earlier entry is followed as if the root were ``/``, so a
  later ``link/x`` lands inside the root, never outside (contained).
* **The last component** is never followed: whatever exists there is removed
  (a directory only when the entry is not itself a directory) and the new object
  is created with ``O_EXCL|O_NOFOLLOW``; existing files are never opened for
  writing, so a hardlink or symlink planted earlier cannot redirect data.
* **Hardlinks** are made with ``linkat`` without following; their target is
  resolved in the root and must already exist there.
* **Devices**: character/block nodes are skipped with a warning unless
  ``allow_devices`` (overlay whiteouts are the whiteout handler's business);
  FIFOs are allowed. **setuid/setgid** bits on non-directories are dropped unless
  ``keep_setuid``. ``trusted.overlay.*`` xattrs from the archive are dropped: only
  the whiteout converter may mark overlay metadata.
* **Bombs**: every size, count and length an archive can claim is checked against
  :class:`TarLimits` before it is acted on (see :mod:`dockyard.image.tario`).

Refusals raise :class:`UnsafeContent` naming the entry and the reason. Extraction
is not atomic: on an error the target holds a partial tree, and the caller (a
snapshotter) discards it.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

from dockyard.errors import InvalidArgument, UnsafeContent
from dockyard.image.inroot import RootResolver, clean_path
from dockyard.image.tario import (
    BLOCKDEV,
    CHAR,
    DIR,
    FIFO,
    HARDLINK,
    REG,
    SYMLINK,
    Source,
    TarEntry,
    TarLimits,
    TarReader,
)

log = logging.getLogger("dockyard.image")

_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_DIRFD_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_MAX_CACHED_FDS = 512
_MAX_SKIPPED_NOTES = 100


@dataclass(frozen=True)
class TarOptions:
    """How an archive is applied. The defaults are the strict ones."""

    limits: TarLimits = field(default_factory=TarLimits)
    keep_setuid: bool = False
    allow_devices: bool = False
    chown: bool | None = None  # None: chown when running as root
    xattrs: bool = True
    use_openat2: bool | None = None  # None: when the kernel has it
    on_warning: Callable[[str], None] | None = None


@dataclass
class ExtractStats:
    entries: int = 0
    files: int = 0
    dirs: int = 0
    symlinks: int = 0
    hardlinks: int = 0
    devices: int = 0
    whiteouts: int = 0
    opaques: int = 0
    bytes_written: int = 0
    skipped: list[str] = field(default_factory=list)


class EntryHook(Protocol):
    """Consumes entries with a special meaning (layer whiteouts) before extraction.

    ``handle`` is called, instead of extraction, for entries whose last component
    starts with ``.wh.`` and for 0/0 character devices (overlay's whiteout form).
    ``track_created`` asks the tree to remember every path it creates.
    """

    track_created: bool

    def handle(self, tree: SafeTree, entry: TarEntry, parts: tuple[str, ...]) -> None: ...


class SafeTree:
    """Writable view of one root directory; every operation stays inside it."""

    def __init__(self, root: str | os.PathLike[str], options: TarOptions,
                 stats: ExtractStats | None = None) -> None:
        self.options = options
        self.stats = stats or ExtractStats()
        self.root_fd = os.open(root, _DIRFD_FLAGS)
        self.resolver = RootResolver(self.root_fd, use_openat2=options.use_openat2)
        self.chown = (os.geteuid() == 0) if options.chown is None else options.chown
        self._cache: dict[tuple[str, ...], int] = {}
        self._dir_times: dict[tuple[str, ...], tuple[int, int]] = {}
        self.created: set[tuple[str, ...]] | None = None

    # -- lifecycle ----------------------------------------------------------------------
    def close(self) -> None:
        self._drop_cache()
        if self.root_fd >= 0:
            os.close(self.root_fd)
            self.root_fd = -1

    def __enter__(self) -> SafeTree:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def warn(self, message: str) -> None:
        log.warning("%s", message)
        if len(self.stats.skipped) < _MAX_SKIPPED_NOTES:
            self.stats.skipped.append(message)
        if self.options.on_warning is not None:
            self.options.on_warning(message)

    # -- directories --------------------------------------------------------------------
    def _drop_cache(self, prefix: tuple[str, ...] | None = None) -> None:
        if prefix is None:
            for fd in self._cache.values():
                os.close(fd)
            self._cache.clear()
            return
        n = len(prefix)
        for key in [k for k in self._cache if k[:n] == prefix]:
            os.close(self._cache.pop(key))

    def dir_fd(self, parts: tuple[str, ...], entry_name: str, create: bool = True) -> int:
        """An fd (cached; do not close) for the directory ``parts`` inside the root.

        Missing directories are created (0755, root-owned) when ``create``.
        """
        fd = self._cache.get(parts)
        if fd is not None:
            return fd
        try:
            fd = self.resolver.open_dir(parts)
        except FileNotFoundError:
            if not create or not parts:
                raise
            pfd = self.dir_fd(parts[:-1], entry_name)
            try:
                os.mkdir(parts[-1], 0o755, dir_fd=pfd)
                if self.created is not None:
                    self.created.add(parts)
            except FileExistsError:
                pass
            try:
                fd = self.resolver.open_dir(parts)
            except OSError as e:
                raise UnsafeContent(
                    f"entry {entry_name!r}: parent {'/'.join(parts)!r} cannot be resolved "
                    f"inside the root ({e.strerror})") from None
        except OSError as e:
            raise UnsafeContent(
                f"entry {entry_name!r}: parent {'/'.join(parts)!r} is not a directory "
                f"inside the root ({e.strerror})") from None
        if len(self._cache) >= _MAX_CACHED_FDS:
            self._drop_cache()
        self._cache[parts] = fd
        return fd

    def remove(self, pfd: int, name: str, parts: tuple[str, ...]) -> bool:
        """Remove whatever is at ``name`` in ``pfd`` (a tree, without following)."""
        try:
            st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(st.st_mode):
            self._drop_cache(parts)
            shutil.rmtree(name, dir_fd=pfd)
        else:
            os.unlink(name, dir_fd=pfd)
        return True

    # -- metadata -----------------------------------------------------------------------
    def _mode(self, entry: TarEntry, is_dir: bool = False) -> int:
        mode = entry.mode
        if not is_dir and not self.options.keep_setuid and mode & 0o6000:
            mode &= ~0o6000
        return mode

    def _set_xattrs(self, target: int | str, entry: TarEntry, follow: bool = True) -> None:
        if not entry.xattrs or not self.options.xattrs:
            return
        for key, value in entry.xattrs.items():
            if key.startswith("trusted.overlay."):
                self.warn(f"entry {entry.name!r}: dropped xattr {key} (overlay metadata)")
                continue
            try:
                os.setxattr(target, key, value, follow_symlinks=follow)
            except OSError as e:
                if e.errno in (errno.ENOTSUP, errno.EPERM, errno.EACCES):
                    self.warn(f"entry {entry.name!r}: xattr {key} not set ({e.strerror})")
                else:
                    raise

    def _times(self, entry: TarEntry) -> tuple[int, int]:
        atime = entry.atime_ns if entry.atime_ns is not None else entry.mtime_ns
        return (atime, entry.mtime_ns)

    # -- entries ------------------------------------------------------------------------
    def extract(self, entry: TarEntry, parts: tuple[str, ...], reader: TarReader) -> None:
        t = entry.type
        if not parts:
            if t != DIR:
                raise UnsafeContent(
                    f"entry {entry.name!r}: a non-directory cannot replace the root")
            self._root_dir(entry)
            return
        if len(parts) > self.options.limits.max_depth:
            raise UnsafeContent(
                f"entry {entry.name[:80]!r}: nested deeper than {self.options.limits.max_depth}")
        pfd = self.dir_fd(parts[:-1], entry.name)
        name = parts[-1]
        if t == REG or t == "7":
            self._file(pfd, name, parts, entry, reader)
        elif t == DIR:
            self._dir(pfd, name, parts, entry)
        elif t == SYMLINK:
            self._symlink(pfd, name, parts, entry)
        elif t == HARDLINK:
            self._hardlink(pfd, name, parts, entry)
        elif t in (CHAR, BLOCKDEV):
            if not self.options.allow_devices:
                self.warn(f"entry {entry.name!r}: device node skipped (devices not allowed)")
                return
            kind = stat.S_IFCHR if t == CHAR else stat.S_IFBLK
            self._node(pfd, name, parts, entry, kind, os.makedev(entry.devmajor, entry.devminor))
        elif t == FIFO:
            self._node(pfd, name, parts, entry, stat.S_IFIFO, 0)
        else:
            raise UnsafeContent(f"entry {entry.name!r}: unsupported entry type {t!r}")
        if self.created is not None:
            self.created.add(parts)

    def _root_dir(self, entry: TarEntry) -> None:
        if self.chown:
            os.fchown(self.root_fd, entry.uid, entry.gid)
        os.fchmod(self.root_fd, self._mode(entry, True))
        self._set_xattrs(self.root_fd, entry)
        self._dir_times[()] = self._times(entry)
        self.stats.dirs += 1

    def _file(self, pfd: int, name: str, parts: tuple[str, ...], entry: TarEntry,
              reader: TarReader) -> None:
        try:
            fd = os.open(name, _FILE_FLAGS, 0o600, dir_fd=pfd)
        except FileExistsError:
            self.remove(pfd, name, parts)
            fd = os.open(name, _FILE_FLAGS, 0o600, dir_fd=pfd)
        try:
            if entry.size:
                self.stats.bytes_written += reader.copy_to_fd(fd, entry.name)
            if self.chown:
                os.fchown(fd, entry.uid, entry.gid)
            os.fchmod(fd, self._mode(entry))
            if entry.xattrs:
                self._set_xattrs(fd, entry)
            os.utime(fd, ns=self._times(entry))
        finally:
            os.close(fd)
        self.stats.files += 1

    def _dir(self, pfd: int, name: str, parts: tuple[str, ...], entry: TarEntry) -> None:
        try:
            os.mkdir(name, 0o700, dir_fd=pfd)
        except FileExistsError:
            st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
            if not stat.S_ISDIR(st.st_mode):
                self.remove(pfd, name, parts)
                os.mkdir(name, 0o700, dir_fd=pfd)
        fd = os.open(name, _DIRFD_FLAGS, dir_fd=pfd)
        try:
            if self.chown:
                os.fchown(fd, entry.uid, entry.gid)
            os.fchmod(fd, self._mode(entry, True))
            if entry.xattrs:
                self._set_xattrs(fd, entry)
        except BaseException:
            os.close(fd)
            raise
        old = self._cache.pop(parts, None)
        if old is not None:
            os.close(old)
        if len(self._cache) >= _MAX_CACHED_FDS:
            self._drop_cache()
        self._cache[parts] = fd
        self._dir_times[parts] = self._times(entry)
        self.stats.dirs += 1

    def _symlink(self, pfd: int, name: str, parts: tuple[str, ...], entry: TarEntry) -> None:
        if "\0" in entry.linkname:
            raise UnsafeContent(f"entry {entry.name!r}: NUL byte in symlink target")
        try:
            os.symlink(entry.linkname, name, dir_fd=pfd)
        except FileExistsError:
            self.remove(pfd, name, parts)
            os.symlink(entry.linkname, name, dir_fd=pfd)
        if self.chown:
            os.chown(name, entry.uid, entry.gid, dir_fd=pfd, follow_symlinks=False)
        if entry.xattrs:
            self._set_xattrs(f"/proc/self/fd/{pfd}/{name}", entry, follow=False)
        os.utime(name, ns=self._times(entry), dir_fd=pfd, follow_symlinks=False)
        self.stats.symlinks += 1

    def _hardlink(self, pfd: int, name: str, parts: tuple[str, ...], entry: TarEntry) -> None:
        target = clean_path(entry.linkname, what=f"hardlink {entry.name!r} -> target")
        if not target:
            raise UnsafeContent(f"entry {entry.name!r}: hardlink to the root directory")
        if target == parts:
            return  # a link to itself: nothing to do
        try:
            tfd = self.dir_fd(target[:-1], entry.name, create=False)
        except FileNotFoundError:
            raise UnsafeContent(
                f"entry {entry.name!r}: hardlink target {entry.linkname!r} not found "
                "inside the root") from None
        try:
            try:
                os.link(target[-1], name, src_dir_fd=tfd, dst_dir_fd=pfd, follow_symlinks=False)
            except FileExistsError:
                self.remove(pfd, name, parts)
                os.link(target[-1], name, src_dir_fd=tfd, dst_dir_fd=pfd, follow_symlinks=False)
        except FileNotFoundError:
            raise UnsafeContent(
                f"entry {entry.name!r}: hardlink target {entry.linkname!r} not found "
                "inside the root") from None
        except PermissionError:
            raise UnsafeContent(
                f"entry {entry.name!r}: hardlink target {entry.linkname!r} cannot be "
                "linked (a directory?)") from None
        self.stats.hardlinks += 1

    def _node(self, pfd: int, name: str, parts: tuple[str, ...], entry: TarEntry, kind: int,
              device: int) -> None:
        mode = self._mode(entry) | kind
        try:
            os.mknod(name, mode, device, dir_fd=pfd)
        except FileExistsError:
            self.remove(pfd, name, parts)
            os.mknod(name, mode, device, dir_fd=pfd)
        if self.chown:
            os.chown(name, entry.uid, entry.gid, dir_fd=pfd, follow_symlinks=False)
        os.chmod(name, self._mode(entry), dir_fd=pfd)
        os.utime(name, ns=self._times(entry), dir_fd=pfd, follow_symlinks=False)
        self.stats.devices += 1

    def finish(self) -> None:
        """Set directory times last: creating children changed them."""
        self._drop_cache()
        for parts in sorted(self._dir_times, key=len, reverse=True):
            times = self._dir_times[parts]
            try:
                if not parts:
                    os.utime(self.root_fd, ns=times)
                    continue
                pfd = self.resolver.open_dir(parts[:-1])
                try:
                    st = os.stat(parts[-1], dir_fd=pfd, follow_symlinks=False)
                    if stat.S_ISDIR(st.st_mode):
                        os.utime(parts[-1], ns=times, dir_fd=pfd, follow_symlinks=False)
                finally:
                    os.close(pfd)
            except OSError:
                continue  # replaced or removed by a later entry
        self._dir_times.clear()


def extract(reader: TarReader, tree: SafeTree, hook: EntryHook | None = None) -> ExtractStats:
    """Apply every entry of ``reader`` to ``tree``; ``hook`` sees whiteout-like entries."""
    stats = tree.stats
    if hook is not None and hook.track_created:
        tree.created = set()
    for entry in reader:
        stats.entries += 1
        parts = clean_path(entry.name)
        try:
            if hook is not None and parts and (
                    parts[-1].startswith(".wh.")
                    or (entry.type == CHAR and entry.devmajor == 0 and entry.devminor == 0)):
                hook.handle(tree, entry, parts)
            else:
                tree.extract(entry, parts, reader)
        except InvalidArgument:
            raise
        except OSError as e:
            raise InvalidArgument(f"entry {entry.name!r}: cannot extract: {e}") from e
    tree.finish()
    return stats


def extract_tar(stream: BinaryIO, target: str | os.PathLike[str],
                options: TarOptions | None = None, hook: EntryHook | None = None,
                compression: str | None = None,
                hash_raw: bool = True) -> tuple[ExtractStats, Source]:
    """Extract a (possibly compressed) tar stream into ``target``.

    Returns the stats and the drained :class:`Source` (its ``diff_id`` and,
    with ``hash_raw``, ``digest`` cover the whole stream).
    """
    options = options or TarOptions()
    source = Source(stream, options.limits, compression, hash_raw=hash_raw, prefetch=True)
    try:
        reader = TarReader(source, options.limits)
        with SafeTree(target, options) as tree:
            stats = extract(reader, tree, hook)
        source.drain()
    finally:
        source.close()
    return stats, source


__all__ = ["EntryHook", "ExtractStats", "SafeTree", "TarOptions", "extract", "extract_tar"]
