"""Streaming tar reading: decompression, hashing, limits, header parsing.

Why not :mod:`tarfile`: we must bound every allocation an archive can ask for
(a 10 GB pax header, a gzip bomb, a size field of 2**95) before making it, hash
the uncompressed stream on the way through (the layer's diff_id), and keep the
per-entry cost low for layers of many small files. This reader does exactly
that and nothing else: it yields :class:`TarEntry` headers and lets the caller
copy or skip each entry's data.

Formats read: ustar, POSIX pax (``x`` headers; ``g`` global headers are read
and ignored, as docker does), GNU long names (``L``/``K``), v7. Sparse entries
(GNU ``S`` and pax ``GNU.sparse.*``) are refused: image layers do not use them
and they are the classic way to hide a huge apparent size.
"""

from __future__ import annotations

import base64
import bz2
import hashlib
import lzma
import os
import queue
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO
from urllib.parse import unquote_to_bytes

from dockyard.errors import InvalidArgument, UnsafeContent

CHUNK = 1 << 20
BLOCK = 512

COMPRESSIONS = ("none", "gzip", "zstd", "xz", "bzip2")


@dataclass(frozen=True)
class TarLimits:
    """Bounds on what one archive may make us do; each refuses with UnsafeContent.

    ``max_total_bytes`` counts the *uncompressed* stream, so it is also the
    gzip/zstd bomb limit.
    """

    max_total_bytes: int = 256 << 30
    max_entries: int = 5_000_000
    max_file_size: int = 64 << 30
    max_path_length: int = 4096
    max_depth: int = 256
    max_header_bytes: int = 1 << 20
    max_xattr_bytes: int = 64 << 10


def detect_compression(head: bytes) -> str:
    """Name the compression from a stream's first bytes ("none" when plain)."""
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:4] == b"\x28\xb5\x2f\xfd":
        return "zstd"
    if head[:6] == b"\xfd7zXZ\x00":
        return "xz"
    if head[:3] == b"BZh":
        return "bzip2"
    return "none"


class Source:
    """Uncompressed chunks of a (possibly compressed) stream, hashed and bounded.

    ``diff_id`` is the sha256 of the uncompressed bytes, ``digest`` that of the
    raw bytes read (the blob digest); both are final once :meth:`drain` ran.
    """

    def __init__(self, raw: BinaryIO, limits: TarLimits, compression: str | None = None,
                 hash_raw: bool = True, prefetch: bool = False) -> None:
        self._raw = raw
        self._limit = limits.max_total_bytes
        self.size = 0
        self.raw_size = 0
        self._hash = hashlib.sha256()
        self._raw_hash = hashlib.sha256() if hash_raw else None
        first = self._read_raw()
        self.compression = compression or detect_compression(first)
        if self.compression not in COMPRESSIONS:
            raise InvalidArgument(f"unknown compression {self.compression!r}")
        self._pending = first
        self._eof = False
        self._zstd_reader = None
        if self.compression == "gzip":
            self._dec = zlib.decompressobj(wbits=31)
        elif self.compression == "xz":
            self._dec = lzma.LZMADecompressor()
        elif self.compression == "bzip2":
            self._dec = bz2.BZ2Decompressor()
        elif self.compression == "zstd":
            import zstandard

            self._zstd_reader = zstandard.ZstdDecompressor().stream_reader(
                _Prefixed(first, self._read_raw), read_size=CHUNK, read_across_frames=True)
            self._pending = b""
        self._queue: queue.Queue | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._out_eof = False
        if prefetch and self.compression != "none":
            # Read, decompress and hash on a second core while the caller extracts:
            # zlib, zstd and hashlib release the GIL. Call close() when done.
            self._queue = queue.Queue(maxsize=8)
            self._thread = threading.Thread(target=self._produce, name="dockyard-unpack-read",
                                            daemon=True)
            self._thread.start()

    def _produce(self) -> None:
        try:
            while not self._stop.is_set():
                data = self._next_chunk()
                if not data:
                    while self._read_raw():
                        pass
                self._put(data)
                if not data:
                    return
        except BaseException as e:  # handed to the consumer, raised there
            self._put(e)

    def _put(self, item: bytes | BaseException) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def close(self) -> None:
        """Stop the prefetch thread (if any); safe to call more than once."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None

    def read_chunk(self) -> bytes:
        """The next uncompressed chunk; b"" at the end."""
        if self._queue is None:
            return self._next_chunk()
        if self._out_eof:
            return b""
        item = self._queue.get()
        if isinstance(item, BaseException):
            self._out_eof = True
            raise item
        if not item:
            self._out_eof = True
        return item

    def _read_raw(self) -> bytes:
        data = self._raw.read(CHUNK)
        if data:
            self.raw_size += len(data)
            if self._raw_hash is not None:
                self._raw_hash.update(data)
        return data

    def _account(self, data: bytes) -> bytes:
        if data:
            self.size += len(data)
            if self.size > self._limit:
                bomb = f" ({self.compression} bomb?)" if self.compression != "none" else ""
                raise UnsafeContent(
                    f"archive expands beyond the {self._limit}-byte limit{bomb}")
            self._hash.update(data)
        return data

    def _next_chunk(self) -> bytes:
        if self._eof:
            return b""
        c = self.compression
        try:
            if c == "none":
                data = self._pending or self._read_raw()
                self._pending = b""
            elif c == "zstd":
                data = self._zstd_reader.read(CHUNK)
            else:
                data = self._decompress_chunk()
        except (zlib.error, lzma.LZMAError, OSError, EOFError) as e:
            raise InvalidArgument(f"corrupt {c} stream: {e}") from e
        except Exception as e:  # zstandard.ZstdError has no common base we can name lazily
            if type(e).__name__ == "ZstdError":
                raise InvalidArgument(f"corrupt zstd stream: {e}") from e
            raise
        if not data:
            self._eof = True
        return self._account(data)

    def _decompress_chunk(self) -> bytes:
        while True:
            dec = self._dec
            if dec.eof:
                rest = dec.unused_data + self._pending
                self._pending = b""
                if not rest:
                    rest = self._read_raw()
                if not rest.strip(b"\0"):
                    # end of the last member; trailing NUL padding is tolerated
                    while rest:
                        if rest.strip(b"\0"):
                            raise InvalidArgument(
                                f"garbage after the {self.compression} stream")
                        rest = self._read_raw()
                    return b""
                self._dec = dec = self._new_decompressor()  # next member
                self._pending = rest
            if self.compression == "gzip":
                if not self._pending:
                    self._pending = self._read_raw()
                    if not self._pending:
                        raise InvalidArgument("truncated gzip stream")
                data = dec.decompress(self._pending, CHUNK)
                self._pending = dec.unconsumed_tail
            else:
                inp = b""
                if dec.needs_input:
                    inp, self._pending = self._pending or self._read_raw(), b""
                    if not inp:
                        raise InvalidArgument(f"truncated {self.compression} stream")
                data = dec.decompress(inp, CHUNK)
            if data:
                return data

    def _new_decompressor(self):
        if self.compression == "gzip":
            return zlib.decompressobj(wbits=31)
        if self.compression == "xz":
            return lzma.LZMADecompressor()
        return bz2.BZ2Decompressor()

    def drain(self) -> None:
        """Read to the end so both digests cover the whole stream."""
        while self.read_chunk():
            pass
        if self._queue is None:
            while self._read_raw():
                pass

    @property
    def diff_id(self) -> str:
        return "sha256:" + self._hash.hexdigest()

    @property
    def digest(self) -> str:
        if self._raw_hash is None or self.compression == "none":
            return self.diff_id
        return "sha256:" + self._raw_hash.hexdigest()


class _Prefixed:
    """A file-like that returns ``first`` and then what ``more()`` gives."""

    def __init__(self, first: bytes, more) -> None:
        self._first = first
        self._more = more

    def read(self, n: int = -1) -> bytes:
        if self._first:
            data, self._first = self._first, b""
            return data
        return self._more()


# --- tar headers ---------------------------------------------------------------------

REG, HARDLINK, SYMLINK, CHAR, BLOCKDEV, DIR, FIFO = "0", "1", "2", "3", "4", "5", "6"
_REGULAR_TYPES = {"0": REG, "\0": REG, "7": REG, "": REG}


@dataclass(slots=True)
class TarEntry:
    name: str
    type: str
    size: int
    mode: int
    uid: int
    gid: int
    mtime_ns: int
    linkname: str = ""
    devmajor: int = 0
    devminor: int = 0
    atime_ns: int | None = None
    xattrs: dict[str, bytes] = field(default_factory=dict)


def _num(field_: bytes, what: str, name: str) -> int:
    if field_[:1] and field_[0] & 0x80:
        if field_[0] == 0xFF:
            raise UnsafeContent(f"entry {name!r}: negative {what} field")
        return int.from_bytes(bytes([field_[0] & 0x7F]) + field_[1:], "big")
    text = field_.split(b"\0", 1)[0].strip(b" ")
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        raise InvalidArgument(f"entry {name!r}: bad {what} field {field_!r}") from None


def _text(field_: bytes) -> str:
    return field_.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _pax_time(value: str, name: str) -> int:
    try:
        if "." in value:
            sec, frac = value.split(".", 1)
            frac = (frac + "000000000")[:9]
            neg = sec.startswith("-")
            ns = abs(int(sec)) * 1_000_000_000 + int(frac)
            return -ns if neg else ns
        return int(value) * 1_000_000_000
    except ValueError:
        raise InvalidArgument(f"entry {name!r}: bad pax time {value!r}") from None


def parse_pax(data: bytes, name: str = "") -> dict[str, bytes]:
    """Parse pax records ``"%d %s=%s\\n"``; values stay bytes (xattrs are binary)."""
    out: dict[str, bytes] = {}
    pos = 0
    n = len(data)
    while pos < n:
        if data[pos] == 0:  # NUL padding after the last record
            break
        sp = data.find(b" ", pos, pos + 20)
        if sp < 0:
            raise InvalidArgument(f"entry {name!r}: malformed pax record")
        try:
            length = int(data[pos:sp])
        except ValueError:
            raise InvalidArgument(f"entry {name!r}: malformed pax record length") from None
        end = pos + length
        if length < 5 or end > n or data[end - 1:end] != b"\n":
            raise InvalidArgument(f"entry {name!r}: pax record overruns its header")
        key, eq, value = data[sp + 1:end - 1].partition(b"=")
        if not eq:
            raise InvalidArgument(f"entry {name!r}: pax record without '='")
        out[key.decode("utf-8", "surrogateescape")] = value
        pos = end
    return out


class TarReader:
    """Iterate the entries of a tar stream coming from a :class:`Source`.

    After each yielded entry the caller must consume its data with exactly one of
    :meth:`copy_to_fd` or :meth:`skip_data` (the iterator skips it if not).
    """

    def __init__(self, source: Source, limits: TarLimits) -> None:
        self._src = source
        self._limits = limits
        self._buf = b""
        self._pos = 0
        self._left = 0  # unread data bytes of the current entry (plus padding)
        self._pad = 0
        self.entries = 0

    # -- buffer ---------------------------------------------------------------------
    def _fill(self, need: int) -> bool:
        """Make ``need`` bytes available at _pos; False at a clean end."""
        avail = len(self._buf) - self._pos
        if avail >= need:
            return True
        parts = [self._buf[self._pos:]]
        while avail < need:
            chunk = self._src.read_chunk()
            if not chunk:
                self._buf = b"".join(parts)
                self._pos = 0
                return False
            parts.append(chunk)
            avail += len(chunk)
        self._buf = b"".join(parts)
        self._pos = 0
        return True

    def _take(self, n: int) -> bytes:
        if not self._fill(n):
            raise InvalidArgument("truncated tar stream")
        data = self._buf[self._pos:self._pos + n]
        self._pos += n
        return data

    def copy_to_fd(self, fd: int, name: str) -> int:
        """Write the current entry's data to ``fd``; returns bytes written."""
        left = self._left
        total = left
        write = os.write
        while left:
            avail = len(self._buf) - self._pos
            if not avail:
                chunk = self._src.read_chunk()
                if not chunk:
                    raise InvalidArgument(f"entry {name!r}: truncated data")
                self._buf, self._pos = chunk, 0
                avail = len(chunk)
            n = avail if avail < left else left
            view = memoryview(self._buf)[self._pos:self._pos + n]
            while view:
                w = write(fd, view)
                view = view[w:]
            self._pos += n
            left -= n
        self._left = 0
        self._skip(self._pad)
        self._pad = 0
        return total

    def read_data(self, name: str) -> bytes:
        data = self._take(self._left)
        self._left = 0
        self._skip(self._pad)
        self._pad = 0
        return data

    def skip_data(self) -> None:
        self._skip(self._left + self._pad)
        self._left = self._pad = 0

    def _skip(self, n: int) -> None:
        while n:
            avail = len(self._buf) - self._pos
            if not avail:
                chunk = self._src.read_chunk()
                if not chunk:
                    raise InvalidArgument("truncated tar stream")
                self._buf, self._pos = chunk, 0
                avail = len(chunk)
            step = avail if avail < n else n
            self._pos += step
            n -= step

    # -- headers --------------------------------------------------------------------
    def __iter__(self) -> Iterator[TarEntry]:
        # Longer than the style's 60 lines on purpose: this is the per-entry hot loop
        # of every unpack, and keeping header parsing inline avoids a call per field.
        lim = self._limits
        pax: dict[str, bytes] = {}
        longname = longlink = None
        while True:
            if self._left or self._pad:
                self.skip_data()
            if not self._fill(BLOCK):
                if len(self._buf) - self._pos:
                    raise InvalidArgument("truncated tar header at end of stream")
                return  # EOF on a block boundary: accepted, like Go's reader
            block = self._buf[self._pos:self._pos + BLOCK]
            self._pos += BLOCK
            if block.count(0) == BLOCK:
                return  # end-of-archive marker; trailing data is drained by the caller
            name = _text(block[0:100])
            chk = _num(block[148:156], "checksum", name)
            if chk != sum(block) - sum(block[148:156]) + 256:
                raise InvalidArgument(f"entry {name!r}: bad header checksum (not a tar?)")
            tflag = chr(block[156]) if block[156] else "\0"
            size = _num(block[124:136], "size", name)
            if block[257:263] == b"ustar\x00" and block[345]:
                name = _text(block[345:500]) + "/" + name
            if tflag in ("x", "g", "L", "K", "X"):
                if size > lim.max_header_bytes:
                    raise UnsafeContent(
                        f"entry {name!r}: {size}-byte extended header exceeds the "
                        f"{lim.max_header_bytes}-byte limit")
                self._left, self._pad = size, -size % BLOCK
                data = self.read_data(name)
                if tflag == "x" or tflag == "X":
                    pax.update(parse_pax(data, name))
                elif tflag == "L":
                    longname = _text(data)
                elif tflag == "K":
                    longlink = _text(data)
                # "g" (global) headers are ignored, as docker does.
                continue
            if tflag == "S" or any(k.startswith("GNU.sparse") for k in pax):
                raise UnsafeContent(f"entry {name!r}: sparse entries are not supported")
            self.entries += 1
            if self.entries > lim.max_entries:
                raise UnsafeContent(
                    f"entry {name!r}: archive has more than {lim.max_entries} entries")
            entry = TarEntry(
                name=name, type=_REGULAR_TYPES.get(tflag, tflag), size=size,
                mode=_num(block[100:108], "mode", name) & 0o7777,
                uid=_num(block[108:116], "uid", name), gid=_num(block[116:124], "gid", name),
                mtime_ns=_num(block[136:148], "mtime", name) * 1_000_000_000,
                linkname=_text(block[157:257]))
            if tflag in ("3", "4"):
                entry.devmajor = _num(block[329:337], "devmajor", name)
                entry.devminor = _num(block[337:345], "devminor", name)
            if longname is not None:
                entry.name, longname = longname, None
            if longlink is not None:
                entry.linkname, longlink = longlink, None
            if pax:
                self._apply_pax(entry, pax)
                pax = {}
            if tflag == "\0" and entry.name.endswith("/"):
                entry.type = DIR  # v7 archives mark directories by a trailing slash
            if entry.type in (REG, "7"):
                if entry.size > lim.max_file_size:
                    raise UnsafeContent(
                        f"entry {entry.name!r}: {entry.size}-byte file exceeds the "
                        f"{lim.max_file_size}-byte limit")
            elif entry.type in (HARDLINK, SYMLINK, CHAR, BLOCKDEV, DIR, FIFO):
                entry.size = 0  # header-only types carry no data (as Go's reader treats them)
            if len(entry.name.encode("utf-8", "surrogateescape")) > lim.max_path_length:
                raise UnsafeContent(
                    f"entry {entry.name[:80]!r}...: path longer than {lim.max_path_length}")
            if entry.size > lim.max_file_size:
                raise UnsafeContent(f"entry {entry.name!r}: data size {entry.size} too large")
            self._left, self._pad = entry.size, -entry.size % BLOCK
            yield entry

    def _apply_pax(self, entry: TarEntry, pax: dict[str, bytes]) -> None:
        lim = self._limits
        xbytes = 0
        for key, raw in pax.items():
            if key.startswith("SCHILY.xattr."):
                entry.xattrs[key[13:]] = raw
                xbytes += len(key) + len(raw)
            elif key.startswith("LIBARCHIVE.xattr."):
                xname = unquote_to_bytes(key[17:]).decode("utf-8", "surrogateescape")
                try:
                    entry.xattrs[xname] = base64.b64decode(raw + b"==")
                except ValueError:
                    raise InvalidArgument(f"entry {entry.name!r}: bad xattr encoding") from None
                xbytes += len(key) + len(raw)
            else:
                value = raw.decode("utf-8", "surrogateescape")
                if key == "path":
                    entry.name = value
                elif key == "linkpath":
                    entry.linkname = value
                elif key in ("size", "uid", "gid"):
                    try:
                        num = int(value)
                    except ValueError:
                        raise InvalidArgument(
                            f"entry {entry.name!r}: bad pax {key} {value!r}") from None
                    if num < 0:
                        raise UnsafeContent(f"entry {entry.name!r}: negative pax {key}")
                    setattr(entry, key, num)
                elif key == "mtime":
                    entry.mtime_ns = _pax_time(value, entry.name)
                elif key == "atime":
                    entry.atime_ns = _pax_time(value, entry.name)
        if xbytes > lim.max_xattr_bytes:
            raise UnsafeContent(
                f"entry {entry.name!r}: {xbytes} bytes of xattrs exceed the "
                f"{lim.max_xattr_bytes}-byte limit")


__all__ = [
    "COMPRESSIONS", "Source", "TarEntry", "TarLimits", "TarReader", "detect_compression",
    "parse_pax",
]
