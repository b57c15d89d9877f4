"""docker's ``json-file`` format: writing (shim side) and decoding (reader side).

Each message is one line, byte for byte what dockerd writes::

    {"log":"hello\\n","stream":"stdout","time":"2026-11-27T23:46:47.123456789Z"}

The ``log`` string is escaped like dockerd's hand-written encoder: ``\\\\``, ``\\"``,
``\\n`` and ``\\r`` get short escapes; every other control character and ``<``, ``>``,
``&`` become ``\\u00XX``; U+2028/U+2029 are escaped; each byte of invalid UTF-8
is written as ``\\ufffd``. ``time`` is Go's RFC3339Nano (trailing zeros dropped).
"""

from __future__ import annotations

import re
import time
from json.encoder import encode_basestring as _fast

from dockyard.logdriver.entry import LogEntry, format_time
from dockyard.logdriver.rotate import RotatingFile

_ESCAPES = {c: f"\\u{c:04x}" for c in range(0x20)}
_ESCAPES.update({
    0x0A: "\\n", 0x0D: "\\r", 0x22: '\\"', 0x5C: "\\\\",
    0x3C: "\\u003c", 0x3E: "\\u003e", 0x26: "\\u0026",
    0x2028: "\\u2028", 0x2029: "\\u2029",
})
# Bytes that are not UTF-8 arrive as lone surrogates U+DC80..U+DCFF (surrogateescape,
# one per byte, as Go's decoder reports one RuneError per byte); dockerd writes each
# as the escape \ufffd, while a real U+FFFD in the output stays as it is.
_ESCAPES.update({c: "\\ufffd" for c in range(0xDC80, 0xDD00)})


# Where json's C escaper (short \b, \f, \t; nothing for <, >, &, U+2028/9; lone
# surrogates passed through) differs from dockerd's: such text takes translate().
_SLOW = re.compile("[\t\b\f<>&\u2028\u2029\udc80-\udcff]")


def escape(data: bytes) -> str:
    text = data.decode("utf-8", "surrogateescape")
    if _SLOW.search(text) is None:
        return _fast(text)[1:-1]
    return text.translate(_ESCAPES)


def encode(stream: str, data: bytes, t_ns: int) -> bytes:
    """One json-file line (with its newline) for a message."""
    return (f'{{"log":"{escape(data)}","stream":"{stream}",'
            f'"time":"{format_time(t_ns)}"}}\n').encode()


def encode_many(stream: str, messages: list[bytes], t_ns: int) -> list[bytes]:
    """Lines for messages read at the same moment (one time string for all)."""
    tail = f'","stream":"{stream}","time":"{format_time(t_ns)}"}}\n'.encode()
    return [b'{"log":"' + escape(m).encode() + tail for m in messages]


def decode(line: bytes) -> LogEntry:
    """A json-file line -> LogEntry (ValueError on a damaged line)."""
    import json

    obj = json.loads(line)
    if not isinstance(obj, dict):
        raise ValueError("json-file line is not an object")
    text = obj.get("log", "")
    return LogEntry(obj.get("stream", "stdout"), obj.get("time", ""),
                    text.encode("utf-8", "surrogatepass"))


class JsonFileWriter:
    """The shim's json-file log: ``write`` one message (a line, or a partial one)."""

    driver = "json-file"

    def __init__(self, path: str, max_size: int | None = None, max_file: int = 1) -> None:
        self.file = RotatingFile(path, max_size, max_file)

    def write(self, stream: str, data: bytes, t_ns: int | None = None) -> None:
        if not data:
            return
        self.file.write(encode(stream, data, time.time_ns() if t_ns is None else t_ns))

    def write_many(self, stream: str, messages: list[bytes], t_ns: int) -> None:
        """Several messages in as few writes as the rotation rule allows."""
        self.file.write_many(encode_many(stream, [m for m in messages if m], t_ns))

    def close(self) -> None:
        self.file.close()
