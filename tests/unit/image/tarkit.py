"""Build tar streams byte by byte, including malformed and hostile ones.

:mod:`tarfile` refuses to write most of what the hostile corpus needs (bad
checksums, negative sizes, sparse types, lying pax records), so tests assemble
headers here.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def _octal(value: int, width: int) -> bytes:
    return f"{value:0{width - 1}o}".encode()[: width - 1] + b"\0"


def header(name: str | bytes, kind: str = "0", *, size: int = 0, mode: int = 0o644,
           uid: int = 0, gid: int = 0, mtime: int = 1_700_000_000, linkname: str = "",
           devmajor: int = 0, devminor: int = 0, size_field: bytes | None = None,
           bad_checksum: bool = False) -> bytes:
    raw_name = name.encode() if isinstance(name, str) else name
    h = bytearray(512)
    h[0:100] = raw_name[:100].ljust(100, b"\0")
    h[100:108] = _octal(mode, 8)
    h[108:116] = _octal(uid, 8)
    h[116:124] = _octal(gid, 8)
    h[124:136] = size_field if size_field is not None else _octal(size, 12)
    h[136:148] = _octal(mtime, 12)
    h[148:156] = b"        "
    h[156:157] = kind.encode()
    h[157:257] = linkname.encode()[:100].ljust(100, b"\0")
    h[257:265] = b"ustar\x0000"
    h[329:337] = _octal(devmajor, 8)
    h[337:345] = _octal(devminor, 8)
    chk = sum(h) + (1 if bad_checksum else 0)
    h[148:156] = f"{chk:06o}\0 ".encode()
    return bytes(h)


def pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 512)


def file(name: str, data: bytes = b"", **kw) -> bytes:
    return header(name, "0", size=len(data), **kw) + pad(data)


def directory(name: str, **kw) -> bytes:
    kw.setdefault("mode", 0o755)
    return header(name.rstrip("/") + "/", "5", **kw)


def symlink(name: str, target: str, **kw) -> bytes:
    kw.setdefault("mode", 0o777)
    return header(name, "2", linkname=target, **kw)


def hardlink(name: str, target: str, **kw) -> bytes:
    return header(name, "1", linkname=target, **kw)


def pax_records(records: dict[str, bytes | str]) -> bytes:
    body = b""
    for key, value in records.items():
        v = value.encode() if isinstance(value, str) else value
        rec = b" " + key.encode() + b"=" + v + b"\n"
        n = len(rec) + 1
        while len(str(n)) + len(rec) != n:
            n = len(str(n)) + len(rec)
        body += str(n).encode() + rec
    return body


def pax(records: dict[str, bytes | str]) -> bytes:
    body = pax_records(records)
    return header("PaxHeader", "x", size=len(body)) + pad(body)


def end() -> bytes:
    return b"\0" * 1024


def tar(*parts: bytes) -> bytes:
    return b"".join(parts) + end()


def snapshot_tree(path: Path) -> dict[str, tuple]:
    """Everything observable about a tree (for "canary untouched" checks)."""
    out: dict[str, tuple] = {}
    for top, dirs, files in os.walk(path):
        for name in dirs + files:
            p = os.path.join(top, name)
            st = os.lstat(p)
            data = b""
            if os.path.islink(p):
                data = os.readlink(p).encode()
            elif os.path.isfile(p):
                data = Path(p).read_bytes()
            out[os.path.relpath(p, path)] = (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns,
                                             st.st_nlink, data)
    return out


def tree_state(path: Path) -> dict[str, tuple]:
    """A tree as (type+mode, owner, mtime seconds, content) per path, for round trips.

    The root itself and socket files are left out (layers do not carry them).
    """
    out: dict[str, tuple] = {}
    for top, dirs, files in os.walk(path):
        for name in dirs + files:
            p = os.path.join(top, name)
            st = os.lstat(p)
            if stat.S_ISSOCK(st.st_mode):
                continue
            data: bytes | int = b""
            if stat.S_ISLNK(st.st_mode):
                data = os.readlink(p).encode()
            elif stat.S_ISREG(st.st_mode):
                data = Path(p).read_bytes()
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                data = st.st_rdev
            out[os.path.relpath(p, path)] = (st.st_mode, st.st_uid, st.st_gid,
                                             int(st.st_mtime), data)
    return out


def link_groups(path: Path) -> set[frozenset[str]]:
    """Sets of paths that share an inode (hardlink structure)."""
    by_ino: dict[int, set[str]] = {}
    for top, _dirs, files in os.walk(path):
        for name in files:
            p = os.path.join(top, name)
            st = os.lstat(p)
            if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
                by_ino.setdefault(st.st_ino, set()).add(os.path.relpath(p, path))
    return {frozenset(v) for v in by_ino.values()}
