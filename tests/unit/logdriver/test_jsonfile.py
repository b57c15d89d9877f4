"""json-file lines byte for byte as dockerd writes them, and decoding them back."""

from __future__ import annotations

import json

import pytest

from dockyard.logdriver import frame
from dockyard.logdriver.entry import format_time, parse_time, parse_time_ns
from dockyard.logdriver.jsonfile import JsonFileWriter, decode, encode, escape

T = 1_700_000_000_123_456_789  # 2023-11-14T22:13:20.123456789Z


def test_line_format_matches_dockerd():
    assert encode("stdout", b"hello\n", T) == \
        b'{"log":"hello\\n","stream":"stdout","time":"2023-11-14T22:13:20.123456789Z"}\n'


@pytest.mark.parametrize(("raw", "escaped"), [
    (b'a"b\\c', 'a\\"b\\\\c'),
    (b"\r\n", "\\r\\n"),
    (b"\t", "\\u0009"),                 # dockerd has no short \t escape
    (b"\x00\x1f\x08\x0c", "\\u0000\\u001f\\u0008\\u000c"),
    (b"<a href='x'>&</a>", "\\u003ca href='x'\\u003e\\u0026\\u003c/a\\u003e"),
    ("caf\u00e9 \u2028\u2029".encode(), "caf\u00e9 \\u2028\\u2029"),
    (b"\x7f", "\x7f"),
    (b"\xff\xfe ok", "\\ufffd\\ufffd ok"),  # one escape per invalid byte, like Go
    (b"\xe2\x82", "\\ufffd\\ufffd"),         # a truncated sequence: one per byte
    (b"\xed\xa0\x80", "\\ufffd" * 3),       # an encoded surrogate is invalid
    ("\ufffd".encode(), "\ufffd"),           # a real U+FFFD is kept as it is
])
def test_escaping(raw, escaped):
    assert escape(raw) == escaped
    line = encode("stderr", raw, T)
    assert json.loads(line)["log"] == json.loads(f'"{escaped}"')


@pytest.mark.parametrize(("ns", "text"), [
    (T, "2023-11-14T22:13:20.123456789Z"),
    (1_700_000_000_120_000_000, "2023-11-14T22:13:20.12Z"),   # trailing zeros dropped
    (1_700_000_000_000_000_000, "2023-11-14T22:13:20Z"),      # and the dot
    (0, "1970-01-01T00:00:00Z"),
])
def test_time_format_is_go_rfc3339nano(ns, text):
    assert format_time(ns) == text
    assert parse_time_ns(text) == ns


def test_parse_time_offsets_and_errors():
    assert parse_time("2023-11-14T23:13:20+01:00") == parse_time("2023-11-14T22:13:20Z")
    assert parse_time_ns("2023-11-14T22:13:20.5Z") == 1_700_000_000_500_000_000
    for bad in ("", "yesterday", "2023-11-14 22:13:20Z", "2023-11-14T22:13:20"):
        with pytest.raises(ValueError):
            parse_time(bad)


def test_decode_roundtrip():
    e = decode(encode("stderr", b"x<y\xff\n", T).rstrip(b"\n"))
    assert (e.stream, e.time, e.data) == ("stderr", "2023-11-14T22:13:20.123456789Z",
                                          "x<y\ufffd\n".encode())
    assert e.timestamp == pytest.approx(T / 1e9)
    with pytest.raises(ValueError):
        decode(b'{"log": "trunc')
    with pytest.raises(ValueError):
        decode(b"[1, 2]")


def test_writer_appends_lines_and_skips_empty(tmp_path):
    path = tmp_path / "c-json.log"
    w = JsonFileWriter(str(path))
    w.write("stdout", b"one\n", T)
    w.write("stdout", b"", T)
    w.write("stderr", b"partial", T)
    w.close()
    lines = path.read_bytes().splitlines()
    assert [json.loads(x)["log"] for x in lines] == ["one\n", "partial"]
    # reopened: appends
    w = JsonFileWriter(str(path))
    w.write("stdout", b"two\n", T)
    w.close()
    assert len(path.read_bytes().splitlines()) == 3


def test_frame_header():
    assert frame(1, b"hi") == b"\x01\x00\x00\x00\x00\x00\x00\x02hi"
    assert frame(2, b"") == b"\x02\x00\x00\x00\x00\x00\x00\x00"
    big = b"x" * 70000
    assert frame(2, big)[:8] == b"\x02\x00\x00\x00" + (70000).to_bytes(4, "big")


def test_fast_and_slow_escaping_agree():
    """json's C escaper (taken when nothing dockerd treats differently is present)
    and the translate table give the same text on every input."""
    import random

    from dockyard.logdriver.jsonfile import _ESCAPES

    rng = random.Random(7)
    alphabet = [bytes([b]) for b in range(256)] + ["é€\u2028😀\ufffd".encode()]
    for _ in range(3000):
        data = b"".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
        text = data.decode("utf-8", "surrogateescape")
        assert escape(data) == text.translate(_ESCAPES), data


def test_encode_many_equals_encode():
    from dockyard.logdriver.jsonfile import encode_many

    msgs = [b"a\n", b"<b>\t\n", b"\xff"]
    assert encode_many("stdout", msgs, T) == [encode("stdout", m, T) for m in msgs]
