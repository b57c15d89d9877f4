"""The ``local`` driver's record layout (docker's ``local`` log driver, uncompressed).

Each record is ``u32 size | protobuf LogEntry | u32 size`` (big-endian sizes; the
trailing copy lets a reader walk the file backwards for ``tail``). The message is
docker's ``LogEntry``: 1 source (string), 2 time_nano (int64), 3 line (bytes),
4 partial (bool). Only those fields are written or read; unknown ones are skipped.
Rotated files are kept uncompressed (dockerd gzips them by default).
"""

from __future__ import annotations

import struct
import time

from dockyard.logdriver.entry import LogEntry, format_time
from dockyard.logdriver.rotate import RotatingFile


def _varint(n: int) -> bytes:
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def encode(stream: str, data: bytes, t_ns: int, partial: bool = False) -> bytes:
    src = stream.encode()
    msg = (b"\x0a" + _varint(len(src)) + src + b"\x10" + _varint(t_ns)
           + b"\x1a" + _varint(len(data)) + data + (b"\x20\x01" if partial else b""))
    size = struct.pack(">I", len(msg))
    return size + msg + size


def _read_varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def decode_message(msg: bytes) -> LogEntry:
    i = 0
    source, t_ns, line = "stdout", 0, b""
    while i < len(msg):
        key, i = _read_varint(msg, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _read_varint(msg, i)
            if field == 2:
                t_ns = value - (1 << 64) if value >= 1 << 63 else value
        elif wire == 2:
            size, i = _read_varint(msg, i)
            value_b = msg[i:i + size]
            if len(value_b) != size:
                raise ValueError("truncated field")
            i += size
            if field == 1:
                source = value_b.decode(errors="replace")
            elif field == 3:
                line = value_b
        elif wire == 5:
            i += 4
        elif wire == 1:
            i += 8
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
    return LogEntry(source, format_time(t_ns), line)


def split_records(buf: bytes) -> tuple[list[LogEntry], int]:
    """Decode the whole records at the start of ``buf``; return them and bytes used."""
    out = []
    i = 0
    while len(buf) - i >= 4:
        (size,) = struct.unpack_from(">I", buf, i)
        end = i + 4 + size + 4
        if len(buf) < end:
            break
        out.append(decode_message(buf[i + 4:i + 4 + size]))
        i = end
    return out, i


class LocalWriter:
    driver = "local"

    def __init__(self, path: str, max_size: int | None = None, max_file: int = 1) -> None:
        self.file = RotatingFile(path, max_size, max_file)

    def write(self, stream: str, data: bytes, t_ns: int | None = None) -> None:
        if not data:
            return
        self.file.write(encode(stream, data, time.time_ns() if t_ns is None else t_ns,
                               partial=not data.endswith(b"\n")))

    def write_many(self, stream: str, messages: list[bytes], t_ns: int) -> None:
        self.file.write_many([encode(stream, m, t_ns, partial=not m.endswith(b"\n"))
                              for m in messages if m])

    def close(self) -> None:
        self.file.close()
