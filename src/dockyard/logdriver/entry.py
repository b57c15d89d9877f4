"""The record every driver reads back, docker's stream framing and timestamps."""

from __future__ import annotations

import calendar
import struct
from dataclasses import dataclass

STREAMS = {"stdin": 0, "stdout": 1, "stderr": 2}


@dataclass(frozen=True)
class LogEntry:
    stream: str        # "stdout" | "stderr"
    time: str          # RFC3339Nano UTC, as docker writes it
    data: bytes        # the message, with its trailing newline when it had one

    @property
    def timestamp(self) -> float:
        return parse_time(self.time)


def frame(stream_no: int, data: bytes) -> bytes:
    """Docker's multiplexed stream frame: [stream, 0, 0, 0, len (big-endian u32)] + data."""
    return struct.pack(">BxxxI", stream_no, len(data)) + data


def format_time(t_ns: int) -> str:
    """Go's RFC3339Nano in UTC: trailing zeros of the fraction dropped (and the dot
    when nothing is left), as ``time.Time.Format(time.RFC3339Nano)`` writes it."""
    import time

    secs, nanos = divmod(t_ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    if nanos:
        return f"{base}.{nanos:09d}".rstrip("0") + "Z"
    return base + "Z"


def parse_time(text: str) -> float:
    """RFC3339(Nano) -> seconds since the epoch (UTC or a numeric offset)."""
    return parse_time_ns(text) / 1e9


def parse_time_ns(text: str) -> int:
    if len(text) < 20 or text[10] not in "Tt":
        raise ValueError(f"not an RFC3339 time: {text!r}")
    base = calendar.timegm((int(text[0:4]), int(text[5:7]), int(text[8:10]),
                            int(text[11:13]), int(text[14:16]), int(text[17:19]), 0, 0, 0))
    rest = text[19:]
    nanos = 0
    if rest.startswith("."):
        i = 1
        while i < len(rest) and rest[i].isdigit():
            i += 1
        nanos = int(rest[1:i].ljust(9, "0")[:9])
        rest = rest[i:]
    offset = 0
    if rest in ("Z", "z"):
        offset = 0
    elif len(rest) == 6 and rest[0] in "+-" and rest[3] == ":":
        offset = (int(rest[1:3]) * 3600 + int(rest[4:6]) * 60) * (1 if rest[0] == "+" else -1)
    else:
        raise ValueError(f"not an RFC3339 time: {text!r}")
    return (base - offset) * 1_000_000_000 + nanos
