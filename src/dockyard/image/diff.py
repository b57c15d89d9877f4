"""Create a layer tar from a snapshot's changes (commit, build).

Two sources of changes:

* :func:`diff_upperdir` -- an overlayfs upperdir *is* the change set; its 0/0
  character devices become ``.wh.<name>`` whiteouts and a directory marked
  ``trusted.overlay.opaque=y`` gets a ``.wh..wh..opq`` entry right after it.
* :func:`diff_dirs` -- a (lower, upper) pair of full trees (copy snapshotter):
  entries new or changed in upper are written, entries gone from upper become
  whiteouts. A regular file counts as changed when its size, mtime (ns), mode,
  owner or xattrs differ; when both mtimes have a zero nanosecond part (a copy
  that lost precision) the contents are compared too.

Trees are walked with directory fds and ``O_NOFOLLOW`` (an upperdir is written by
a container and may hold hostile symlinks). The output is ustar with pax records
where needed (long names, big numbers, xattrs); ``DiffOptions.reproducible``
sorts entries, sets every mtime to ``DiffOptions.mtime`` and writes uid/gid as
stored with no user/group names (they are never written). Hardlinked files are
written once and then as links.
"""

from __future__ import annotations

import hashlib
import os
import stat
import zlib
from dataclasses import dataclass
from typing import BinaryIO

from dockyard.errors import Conflict, InvalidArgument
from dockyard.image.digest import Digest

_CHUNK = 1 << 20
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK
_OPAQUE = "trusted.overlay.opaque"
_UNSUPPORTED_OVERLAY = ("trusted.overlay.redirect", "trusted.overlay.metacopy")


@dataclass(frozen=True)
class DiffOptions:
    compression: str = "gzip"  # "none", "gzip" or "zstd"
    level: int | None = None  # None: gzip 6, zstd 3
    reproducible: bool = False
    mtime: int = 0  # every entry's mtime when reproducible (e.g. SOURCE_DATE_EPOCH)


@dataclass(frozen=True)
class DiffStats:
    diff_id: Digest  # sha256 of the uncompressed tar
    digest: Digest  # sha256 of what was written to ``out``
    compression: str
    size: int
    compressed_size: int
    entries: int
    whiteouts: int


class _Sink:
    """Hashes the tar, compresses it, hashes and writes the result."""

    def __init__(self, out: BinaryIO, compression: str, level: int | None) -> None:
        self._out = out
        self.compression = compression
        self.tar_hash = hashlib.sha256()
        self.out_hash = hashlib.sha256()
        self.size = 0
        self.out_size = 0
        self._buf = bytearray()
        if compression == "gzip":
            self._comp = zlib.compressobj(6 if level is None else level, zlib.DEFLATED, 31)
        elif compression == "zstd":
            import zstandard

            self._comp = zstandard.ZstdCompressor(level=3 if level is None else level).compressobj()
        elif compression == "none":
            self._comp = None
        else:
            raise InvalidArgument(f"unknown layer compression {compression!r}")

    def write(self, data: bytes | memoryview) -> None:
        self._buf += data
        if len(self._buf) >= _CHUNK:
            self._flush()

    def _flush(self) -> None:
        data = bytes(self._buf)
        self._buf.clear()
        self.tar_hash.update(data)
        self.size += len(data)
        self._emit(self._comp.compress(data) if self._comp is not None else data)

    def _emit(self, data: bytes) -> None:
        if data:
            self.out_hash.update(data)
            self.out_size += len(data)
            self._out.write(data)

    def close(self) -> None:
        self._flush()
        if self._comp is not None:
            self._emit(self._comp.flush())


def _octal(value: int, width: int) -> bytes | None:
    text = f"{value:0{width - 1}o}".encode()
    return text + b"\0" if len(text) < width else None


class TarWriter:
    """Writes tar entries to a :class:`_Sink`; pax records only when needed."""

    def __init__(self, sink: _Sink, options: DiffOptions) -> None:
        self.sink = sink
        self.options = options
        self.entries = 0

    def add(self, name: str, kind: str, st: os.stat_result | None, *, size: int = 0,
            linkname: str = "", xattrs: dict[str, bytes] | None = None, mode: int | None = None,
            data_fd: int | None = None) -> None:
        opts = self.options
        if st is not None:
            mtime = opts.mtime if opts.reproducible else int(st.st_mtime)
            uid, gid = st.st_uid, st.st_gid
            mode = stat.S_IMODE(st.st_mode) if mode is None else mode
            rdev = st.st_rdev if kind in ("3", "4") else 0
        else:
            mtime = opts.mtime if opts.reproducible else 0
            uid = gid = rdev = 0
            mode = 0o644 if mode is None else mode
        pax: dict[str, bytes] = {}
        bname = name.encode("utf-8", "surrogateescape")
        blink = linkname.encode("utf-8", "surrogateescape")
        if len(bname) > 100:
            pax["path"] = bname
        if len(blink) > 100:
            pax["linkpath"] = blink
        fields = {}
        for key, value, width in (("uid", uid, 8), ("gid", gid, 8), ("size", size, 12),
                                  ("mtime", mtime, 12)):
            enc = _octal(value, width) if value >= 0 else None
            if enc is None:
                pax[key] = str(value).encode()
                enc = _octal(0, width)
            fields[key] = enc
        for key in sorted(xattrs or ()):
            pax["SCHILY.xattr." + key] = xattrs[key]
        if pax:
            self._write_pax(pax)
        hdr = bytearray(512)
        hdr[0:100] = bname[:100].ljust(100, b"\0")
        hdr[100:108] = _octal(mode, 8)
        hdr[108:116] = fields["uid"]
        hdr[116:124] = fields["gid"]
        hdr[124:136] = fields["size"]
        hdr[136:148] = fields["mtime"]
        hdr[148:156] = b"        "
        hdr[156:157] = kind.encode()
        hdr[157:257] = blink[:100].ljust(100, b"\0")
        hdr[257:265] = b"ustar\x0000"
        if kind in ("3", "4"):
            hdr[329:337] = _octal(os.major(rdev), 8)
            hdr[337:345] = _octal(os.minor(rdev), 8)
        hdr[148:156] = f"{sum(hdr):06o}\0 ".encode()
        self.sink.write(hdr)
        self.entries += 1
        if size:
            self._copy(data_fd, size, name)

    def _write_pax(self, pax: dict[str, bytes]) -> None:
        body = bytearray()
        for key, value in pax.items():
            rec = b" " + key.encode() + b"=" + value + b"\n"
            n = len(rec) + 1
            while len(str(n)) + len(rec) != n:
                n = len(str(n)) + len(rec)
            body += str(n).encode() + rec
        hdr = bytearray(512)
        hdr[0:14] = b"././@PaxHeader"
        hdr[100:108] = _octal(0o644, 8)
        hdr[108:116] = _octal(0, 8)
        hdr[116:124] = _octal(0, 8)
        hdr[124:136] = _octal(len(body), 12)
        hdr[136:148] = _octal(self.options.mtime if self.options.reproducible else 0, 12)
        hdr[148:156] = b"        "
        hdr[156:157] = b"x"
        hdr[257:265] = b"ustar\x0000"
        hdr[148:156] = f"{sum(hdr):06o}\0 ".encode()
        self.sink.write(hdr)
        self.sink.write(bytes(body) + b"\0" * (-len(body) % 512))

    def _copy(self, fd: int | None, size: int, name: str) -> None:
        left = size
        while left:
            data = os.read(fd, min(_CHUNK, left))
            if not data:
                raise Conflict(f"{name!r} shrank while it was being archived")
            self.sink.write(data)
            left -= len(data)
        if -size % 512:
            self.sink.write(b"\0" * (-size % 512))

    def close(self) -> None:
        self.sink.write(b"\0" * 1024)
        self.sink.close()


def xattrs_of(target: int | str, follow: bool = True) -> dict[str, bytes]:
    """The xattrs worth archiving (overlay's own bookkeeping is never copied)."""
    try:
        names = os.listxattr(target, follow_symlinks=follow)
    except OSError:
        return {}
    out = {}
    for key in names:
        if key.startswith("trusted.overlay."):
            continue
        try:
            out[key] = os.getxattr(target, key, follow_symlinks=follow)
        except OSError:
            continue
    return out


class _Walker:
    """Emits entries of one tree (fd-based, never following symlinks)."""

    def __init__(self, writer: TarWriter, overlay: bool) -> None:
        self.w = writer
        self.overlay = overlay
        self.links: dict[tuple[int, int], str] = {}
        self.whiteouts = 0

    def names(self, dfd: int) -> list[str]:
        rfd = os.open(".", _DIR_FLAGS, dir_fd=dfd)
        try:
            names = [e.name for e in os.scandir(rfd)]
        finally:
            os.close(rfd)
        return sorted(names) if self.w.options.reproducible else names

    def emit(self, dfd: int, name: str, rel: str, st: os.stat_result) -> None:
        """Write ``name`` (inside ``dfd``) as ``rel``; recurse into directories."""
        mode = st.st_mode
        w = self.w
        if stat.S_ISREG(mode):
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in self.links:
                w.add(rel, "1", st, linkname=self.links[key])
                return
            fd = os.open(name, _FILE_FLAGS, dir_fd=dfd)
            try:
                w.add(rel, "0", st, size=st.st_size, xattrs=xattrs_of(fd), data_fd=fd)
            finally:
                os.close(fd)
            if st.st_nlink > 1:
                self.links[key] = rel
        elif stat.S_ISDIR(mode):
            fd = os.open(name, _DIR_FLAGS, dir_fd=dfd)
            try:
                xattrs = xattrs_of(fd)
                opaque = False
                if self.overlay:
                    opaque = _overlay_meta(fd, rel)
                w.add(rel + "/", "5", st, xattrs=xattrs)
                if opaque:
                    w.add(rel + "/.wh..wh..opq", "0", st, mode=0o600)
                    self.whiteouts += 1
                self.tree(fd, rel + "/")
            finally:
                os.close(fd)
        elif stat.S_ISLNK(mode):
            target = os.readlink(name, dir_fd=dfd)
            w.add(rel, "2", st, linkname=target,
                  xattrs=xattrs_of(f"/proc/self/fd/{dfd}/{name}", follow=False))
        elif stat.S_ISCHR(mode) and self.overlay and st.st_rdev == 0:
            head, _, base = rel.rpartition("/")
            w.add(f"{head}/.wh.{base}" if head else f".wh.{base}", "0", st, mode=0o600)
            self.whiteouts += 1
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            w.add(rel, "3" if stat.S_ISCHR(mode) else "4", st)
        elif stat.S_ISFIFO(mode):
            w.add(rel, "6", st)
        # sockets are not archived (as docker does)

    def tree(self, dfd: int, prefix: str) -> None:
        for name in self.names(dfd):
            st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            self.emit(dfd, name, prefix + name, st)


def _overlay_meta(fd: int, rel: str) -> bool:
    try:
        names = os.listxattr(fd)
    except OSError:
        return False
    for bad in _UNSUPPORTED_OVERLAY:
        if bad in names:
            raise InvalidArgument(
                f"upperdir entry {rel!r} uses overlay {bad}: mount with redirect_dir=off, "
                "metacopy=off to diff it")
    return _OPAQUE in names and os.getxattr(fd, _OPAQUE) == b"y"


def _run(out: BinaryIO, options: DiffOptions, body) -> DiffStats:
    sink = _Sink(out, options.compression, options.level)
    writer = TarWriter(sink, options)
    whiteouts = body(writer)
    writer.close()
    return DiffStats(
        diff_id=Digest("sha256", sink.tar_hash.hexdigest()),
        digest=Digest("sha256", sink.out_hash.hexdigest()), compression=options.compression,
        size=sink.size, compressed_size=sink.out_size, entries=writer.entries,
        whiteouts=whiteouts)


def diff_upperdir(upper: str | os.PathLike[str], out: BinaryIO,
                  options: DiffOptions | None = None) -> DiffStats:
    """Write the layer an overlay upperdir stands for to ``out``."""
    options = options or DiffOptions()

    def body(writer: TarWriter) -> int:
        walker = _Walker(writer, overlay=True)
        fd = os.open(upper, _DIR_FLAGS)
        try:
            walker.tree(fd, "")
        finally:
            os.close(fd)
        return walker.whiteouts

    return _run(out, options, body)


def diff_dirs(lower: str | os.PathLike[str] | None, upper: str | os.PathLike[str],
              out: BinaryIO, options: DiffOptions | None = None) -> DiffStats:
    """Write the layer that turns ``lower`` into ``upper`` (None lower: all of upper)."""
    options = options or DiffOptions()

    def body(writer: TarWriter) -> int:
        walker = _Walker(writer, overlay=False)
        ufd = os.open(upper, _DIR_FLAGS)
        lfd = os.open(lower, _DIR_FLAGS) if lower is not None else None
        try:
            if lfd is None:
                walker.tree(ufd, "")
            else:
                _pair(walker, lfd, ufd, "")
        finally:
            os.close(ufd)
            if lfd is not None:
                os.close(lfd)
        return walker.whiteouts

    return _run(out, options, body)


def _pair(walker: _Walker, lfd: int, ufd: int, prefix: str) -> None:
    unames = walker.names(ufd)
    lnames = set(walker.names(lfd))
    uset = set(unames)
    gone = sorted(lnames - uset)
    for name in gone:
        st = os.stat(name, dir_fd=lfd, follow_symlinks=False)
        walker.w.add(f"{prefix}.wh.{name}", "0", st, mode=0o600)
        walker.whiteouts += 1
    for name in unames:
        ust = os.stat(name, dir_fd=ufd, follow_symlinks=False)
        if name not in lnames:
            walker.emit(ufd, name, prefix + name, ust)
            continue
        lst = os.stat(name, dir_fd=lfd, follow_symlinks=False)
        if stat.S_IFMT(ust.st_mode) != stat.S_IFMT(lst.st_mode):
            walker.emit(ufd, name, prefix + name, ust)
            continue
        if stat.S_ISDIR(ust.st_mode):
            cu = os.open(name, _DIR_FLAGS, dir_fd=ufd)
            cl = os.open(name, _DIR_FLAGS, dir_fd=lfd)
            try:
                if _meta_changed(lst, ust) or xattrs_of(cu) != xattrs_of(cl):
                    walker.w.add(prefix + name + "/", "5", ust, xattrs=xattrs_of(cu))
                _pair(walker, cl, cu, prefix + name + "/")
            finally:
                os.close(cu)
                os.close(cl)
        elif _changed(lfd, ufd, name, lst, ust):
            walker.emit(ufd, name, prefix + name, ust)


def _meta_changed(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_mode != b.st_mode or a.st_uid != b.st_uid or a.st_gid != b.st_gid
            or a.st_mtime_ns != b.st_mtime_ns)


def _changed(lfd: int, ufd: int, name: str, lst: os.stat_result, ust: os.stat_result) -> bool:
    if _meta_changed(lst, ust) or lst.st_size != ust.st_size:
        return True
    mode = ust.st_mode
    if stat.S_ISLNK(mode):
        return os.readlink(name, dir_fd=lfd) != os.readlink(name, dir_fd=ufd)
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return lst.st_rdev != ust.st_rdev
    if not stat.S_ISREG(mode):
        return False
    lf = os.open(name, _FILE_FLAGS, dir_fd=lfd)
    uf = os.open(name, _FILE_FLAGS, dir_fd=ufd)
    try:
        if xattrs_of(lf) != xattrs_of(uf):
            return True
        if ust.st_mtime_ns % 1_000_000_000 or (lst.st_dev, lst.st_ino) == (ust.st_dev, ust.st_ino):
            return False
        while True:
            a = os.read(lf, _CHUNK)
            b = os.read(uf, _CHUNK)
            if a != b:
                return True
            if not a:
                return False
    finally:
        os.close(lf)
        os.close(uf)


__all__ = ["DiffOptions", "DiffStats", "TarWriter", "diff_dirs", "diff_upperdir", "xattrs_of"]
