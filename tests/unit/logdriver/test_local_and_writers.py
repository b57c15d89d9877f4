"""The local driver's records and open_writer's choices."""

from __future__ import annotations

import struct

import pytest

from dockyard.errors import InvalidArgument
from dockyard.logdriver import open_writer
from dockyard.logdriver.local import decode_message, encode, split_records


def test_record_layout():
    rec = encode("stdout", b"hi\n", 5)
    size = struct.unpack(">I", rec[:4])[0]
    assert rec[-4:] == rec[:4] and len(rec) == size + 8
    # protobuf: 1 source, 2 time_nano, 3 line
    assert rec[4:4 + size] == b"\x0a\x06stdout\x10\x05\x1a\x03hi\n"
    e = decode_message(rec[4:4 + size])
    assert (e.stream, e.data, e.time) == ("stdout", b"hi\n", "1970-01-01T00:00:00.000000005Z")


def test_partial_flag_and_split():
    a = encode("stderr", b"no newline", 1_700_000_000_000_000_000, partial=True)
    b = encode("stdout", b"x" * 300, 1)
    out, used = split_records(a + b + b[:7])
    assert [e.data for e in out] == [b"no newline", b"x" * 300]
    assert used == len(a) + len(b)


def test_open_writer(tmp_path):
    assert open_writer("none", "").driver == "none"
    assert open_writer("json-file", str(tmp_path / "a")).driver == "json-file"
    assert open_writer("local", str(tmp_path / "b")).driver == "local"
    with pytest.raises(InvalidArgument, match="unknown log driver"):
        open_writer("syslog", str(tmp_path / "c"))
    with pytest.raises(InvalidArgument, match="needs a log path"):
        open_writer("json-file", "")
