"""How the shim cuts output into log messages and frames it for attached clients."""

from __future__ import annotations

import os
import socket

from dockyard.shim.output import MAX_MESSAGE, Attach, Output, Stdin


class Recorder:
    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.closed = False

    def write(self, stream, data, t_ns=None):
        self.messages.append((stream, data))

    def close(self):
        self.closed = True


def test_lines_partials_and_long_lines():
    rec = Recorder()
    out = Output(rec, tty=False)
    out.data("stdout", b"a\nb")
    out.data("stdout", b"c\n\n")
    out.data("stderr", b"x" * (MAX_MESSAGE + 10) + b"\nend")
    out.end("stdout")
    out.end("stderr")
    assert rec.messages == [
        ("stdout", b"a\n"), ("stdout", b"bc\n"), ("stdout", b"\n"),
        ("stderr", b"x" * MAX_MESSAGE), ("stderr", b"x" * 10 + b"\n"),
        ("stderr", b"end"),
    ]


def test_lazy_writer_from_log_config(tmp_path):
    path = tmp_path / "c.log"
    out = Output(None, tty=False, log={"driver": "json-file", "path": str(path),
                                       "max_size": None, "max_file": 1})
    assert not path.exists()
    out.data("stdout", b"hi\n")
    out.close()
    assert b'"log":"hi\\n"' in path.read_bytes()


def test_clients_get_frames_or_raw_bytes():
    a, b = socket.socketpair()
    c, d = socket.socketpair()
    try:
        out = Output(Recorder(), tty=False)
        only_err = Attach(a.fileno(), stdin=False, stdout=False, stderr=True)
        out.clients.append(only_err)
        assert out.data("stdout", b"o\n") == []
        assert out.data("stderr", b"e\n") == []
        assert b.recv(100) == b"\x02\x00\x00\x00\x00\x00\x00\x02e\n"
        tty = Output(Recorder(), tty=True)
        tty.clients.append(Attach(c.fileno(), stdin=True, stdout=True, stderr=True))
        tty.data("stdout", b"raw\r\n")
        assert d.recv(100) == b"raw\r\n"
    finally:
        for s in (a, b, c, d):
            s.close()


def test_a_gone_client_is_dropped():
    a, b = socket.socketpair()
    b.close()
    out = Output(Recorder(), tty=False)
    client = Attach(a.fileno(), stdin=False, stdout=True, stderr=True)
    out.clients.append(client)
    try:
        assert out.data("stdout", b"x\n") == [client]
    finally:
        a.close()


def test_stdin_buffers_and_closes_when_drained():
    r, w = os.pipe()
    os.set_blocking(w, False)
    s = Stdin(w, tty=False)
    s.feed(b"hello ")
    s.feed(b"world")
    s.close()
    assert s.fd == -1
    assert os.read(r, 100) == b"hello world"
    assert os.read(r, 100) == b""  # closed: EOF
    os.close(r)
    s.feed(b"ignored")  # after close: dropped, no error


class Broken(Recorder):
    def write_many(self, stream, messages, t_ns):
        raise OSError(28, "No space left on device")


def test_a_log_that_cannot_be_written_loses_output_not_the_monitor():
    out = Output(Broken(), tty=False)
    assert out.data("stdout", b"one\ntwo\n") == []
    out.data("stdout", b"tail")
    out.end("stdout")
    assert out.dropped == len(b"one\ntwo\ntail")
    assert "No space left" in out.log_error
