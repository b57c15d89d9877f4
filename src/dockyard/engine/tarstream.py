"""Tar streams of host trees, produced lazily (``docker cp`` out, export, copy-up).

The tree is walked with directory fds and ``O_NOFOLLOW`` (a container wrote it
and may have planted symlinks): symlinks are archived as links, never followed.
``mounts`` maps container paths below the archived one to host directories
mounted there (a container's volumes), so ``docker cp ctr:/ .`` includes what
the container sees at ``/data`` like dockerd's archive of a mounted rootfs does.

Entries are ustar; pax records carry long names, big numbers and xattrs.
Hardlinked files are written once and then as links; sockets are skipped (as
docker does). Data is read and yielded in chunks, never held whole.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from dockyard.image.diff import xattrs_of

CHUNK = 1 << 20
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK


def _octal(value: int, width: int) -> bytes | None:
    text = f"{value:0{width - 1}o}".encode()
    return text + b"\0" if len(text) < width else None


def _pax_block(pax: dict[str, bytes]) -> bytes:
    body = bytearray()
    for key, value in pax.items():
        rec = b" " + key.encode("utf-8", "surrogateescape") + b"=" + value + b"\n"
        n = len(rec) + 1
        while len(str(n)) + len(rec) != n:
            n = len(str(n)) + len(rec)
        body += str(n).encode() + rec
    hdr = _header(b"././@PaxHeader", b"x", 0o644, 0, 0, len(body), 0, b"", 0, 0)
    return hdr + bytes(body) + b"\0" * (-len(body) % 512)


def _header(name: bytes, kind: bytes, mode: int, uid: int, gid: int, size: int, mtime: int,
            link: bytes, major: int, minor: int) -> bytes:
    hdr = bytearray(512)
    hdr[0:100] = name[:100].ljust(100, b"\0")
    hdr[100:108] = _octal(mode, 8) or b"0000000\0"
    hdr[108:116] = _octal(uid, 8) or b"0000000\0"
    hdr[116:124] = _octal(gid, 8) or b"0000000\0"
    hdr[124:136] = _octal(size, 12) or b"00000000000\0"
    hdr[136:148] = _octal(max(mtime, 0), 12) or b"00000000000\0"
    hdr[156:157] = kind
    hdr[157:257] = link[:100].ljust(100, b"\0")
    hdr[257:265] = b"ustar\x0000"
    if kind in (b"3", b"4"):
        hdr[329:337] = _octal(major, 8) or b"0000000\0"
        hdr[337:345] = _octal(minor, 8) or b"0000000\0"
    hdr[148:156] = b"        "
    hdr[148:156] = f"{sum(hdr):06o}\0 ".encode()
    return bytes(hdr)


def header(name: str, kind: str, st: os.stat_result, *, size: int = 0, linkname: str = "",
           xattrs: dict[str, bytes] | None = None) -> bytes:
    """One entry's header (with a pax record before it when needed)."""
    bname = name.encode("utf-8", "surrogateescape")
    blink = linkname.encode("utf-8", "surrogateescape")
    pax: dict[str, bytes] = {}
    if len(bname) > 100:
        pax["path"] = bname
    if len(blink) > 100:
        pax["linkpath"] = blink
    for key, value, width in (("uid", st.st_uid, 8), ("gid", st.st_gid, 8),
                              ("size", size, 12)):
        if _octal(value, width) is None:
            pax[key] = str(value).encode()
    mtime = int(st.st_mtime)
    if mtime < 0 or _octal(mtime, 12) is None:
        pax["mtime"] = str(mtime).encode()
    for key in sorted(xattrs or ()):
        pax["SCHILY.xattr." + key] = (xattrs or {})[key]
    rdev = st.st_rdev if kind in ("3", "4") else 0
    out = _pax_block(pax) if pax else b""
    return out + _header(bname, kind.encode(), stat.S_IMODE(st.st_mode),
                         st.st_uid if "uid" not in pax else 0,
                         st.st_gid if "gid" not in pax else 0,
                         size if "size" not in pax else 0, mtime, blink,
                         os.major(rdev), os.minor(rdev))


END = b"\0" * 1024




@dataclass
class _Dir:
    fd: int
    prefix: str        # tar name prefix, "" or ending in "/"
    cpath: str         # container path of this directory ("/" for the root)


class TreeTar:
    """``iter(TreeTar(...))`` yields the tar of ``base`` in the directory
    ``parent_fd`` (``base`` "": that directory itself), named ``name`` in the tar
    (``name`` "": the root directory gets no entry of its own, as in an export).

    ``container_path`` is where that path sits in the container and ``mounts``
    maps container paths to the host paths mounted there: the walk continues there
    instead of below the mountpoint (which need not exist in the tree).
    ``skip(cpath)`` leaves an entry (and its subtree) out.
    """

    def __init__(self, parent_fd: int, base: str, name: str, *, container_path: str = "/",
                 mounts: dict[str, str] | None = None,
                 skip: Callable[[str], bool] | None = None, end: bool = True) -> None:
        self.parent_fd = parent_fd
        self.base = base
        self.name = name
        self.cpath = container_path
        self.mounts = mounts or {}
        self.skip = skip
        self.end = end
        self.links: dict[tuple[int, int], str] = {}

    def __iter__(self) -> Iterator[bytes]:
        if self.base:
            st = os.stat(self.base, dir_fd=self.parent_fd, follow_symlinks=False)
        else:
            st = os.fstat(self.parent_fd)
        if stat.S_ISDIR(st.st_mode):
            fd = os.open(self.base or ".", _DIR_FLAGS, dir_fd=self.parent_fd)
            try:
                yield from self._dir(fd, st, self.name, self.cpath)
            finally:
                os.close(fd)
        else:
            yield from self._entry(self.parent_fd, self.base, st, self.name, self.cpath)
        if self.end:
            yield END

    def _dir(self, fd: int, st: os.stat_result, name: str, cpath: str) -> Iterator[bytes]:
        """The directory at ``fd`` and its subtree, depth first, with an explicit
        stack (deep trees do not exhaust Python's recursion)."""
        top = name.rstrip("/")
        if name == "/":   # dockerd names a tar of "/" so: "/", "/bin/", ...
            yield header("/", "5", st, xattrs=xattrs_of(fd))
            prefix = "/"
        else:
            if top:
                yield header(top + "/", "5", st, xattrs=xattrs_of(fd))
            prefix = (top + "/") if top else ""
        stack = [_Dir(os.dup(fd), prefix, cpath)]
        try:
            while stack:
                d = stack.pop()
                try:
                    with os.scandir(d.fd) as it:
                        found = {e.name for e in it}
                    base = d.cpath.rstrip("/")
                    found.update(dst.rsplit("/", 1)[1] for dst in self.mounts
                                 if dst.rsplit("/", 1)[0] == base)
                    names = sorted(found)
                    for child in names:
                        ccpath = (d.cpath.rstrip("/") + "/" + child)
                        if self.skip is not None and self.skip(ccpath):
                            continue
                        mounted = self.mounts.get(ccpath)
                        if mounted is not None:
                            yield from self._mounted(mounted, d.prefix + child, ccpath, stack)
                            continue
                        try:
                            cst = os.stat(child, dir_fd=d.fd, follow_symlinks=False)
                        except FileNotFoundError:
                            continue   # removed while we walked
                        if stat.S_ISDIR(cst.st_mode):
                            try:
                                cfd = os.open(child, _DIR_FLAGS, dir_fd=d.fd)
                            except FileNotFoundError:
                                continue
                            yield header(d.prefix + child + "/", "5", cst,
                                         xattrs=xattrs_of(cfd))
                            stack.append(_Dir(cfd, d.prefix + child + "/", ccpath))
                        else:
                            yield from self._entry(d.fd, child, cst, d.prefix + child, ccpath)
                finally:
                    os.close(d.fd)
        finally:
            for rest in stack:
                os.close(rest.fd)

    def _mounted(self, host: str, name: str, cpath: str, stack: list[_Dir]) -> Iterator[bytes]:
        try:
            st = os.stat(host, follow_symlinks=False)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            fd = os.open(host, _DIR_FLAGS)
            yield header(name + "/", "5", st, xattrs=xattrs_of(fd))
            stack.append(_Dir(fd, name + "/", cpath))
        else:
            parent, base = os.path.split(host)
            pfd = os.open(parent, _DIR_FLAGS)
            try:
                yield from self._entry(pfd, base, st, name, cpath)
            finally:
                os.close(pfd)

    def _entry(self, dfd: int, child: str, st: os.stat_result, name: str,
               cpath: str) -> Iterator[bytes]:
        mode = st.st_mode
        if stat.S_ISREG(mode):
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in self.links:
                yield header(name, "1", st, linkname=self.links[key])
                return
            try:
                fd = os.open(child, _FILE_FLAGS, dir_fd=dfd)
            except FileNotFoundError:
                return
            try:
                size = st.st_size
                yield header(name, "0", st, size=size, xattrs=xattrs_of(fd))
                left = size
                while left:
                    data = os.read(fd, min(CHUNK, left))
                    if not data:   # shrank meanwhile: pad with zeros to the header's size
                        data = b"\0" * min(CHUNK, left)
                    left -= len(data)
                    yield data
                if size % 512:
                    yield b"\0" * (-size % 512)
            finally:
                os.close(fd)
            if st.st_nlink > 1:
                self.links[key] = name
        elif stat.S_ISDIR(mode):
            fd = os.open(child, _DIR_FLAGS, dir_fd=dfd)
            try:
                yield from self._dir(fd, st, name, cpath)
            finally:
                os.close(fd)
        elif stat.S_ISLNK(mode):
            target = os.readlink(child, dir_fd=dfd)
            yield header(name, "2", st, linkname=target)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            yield header(name, "3" if stat.S_ISCHR(mode) else "4", st)
        elif stat.S_ISFIFO(mode):
            yield header(name, "6", st)
        # sockets are not archived


def rechunk(parts: Iterator[bytes], size: int = 256 << 10) -> Iterator[bytes]:
    """Group small pieces (headers) into chunks of about ``size`` bytes."""
    buf: list[bytes] = []
    have = 0
    for part in parts:
        buf.append(part)
        have += len(part)
        if have >= size:
            yield b"".join(buf)
            buf, have = [], 0
    if buf:
        yield b"".join(buf)


class IterReader:
    """A read()-able file over an iterator of byte chunks (for tario.Source)."""

    def __init__(self, chunks: Iterator[bytes] | Iterable[bytes]) -> None:
        self._it = iter(chunks)
        self._buf = b""

    def read(self, n: int = -1) -> bytes:
        while not self._buf:
            try:
                self._buf = bytes(next(self._it))
            except StopIteration:
                return b""
        if n < 0 or n >= len(self._buf):
            data, self._buf = self._buf, b""
        else:
            data, self._buf = self._buf[:n], self._buf[n:]
        return data


__all__ = ["END", "IterReader", "TreeTar", "header", "rechunk", "xattrs_of"]
