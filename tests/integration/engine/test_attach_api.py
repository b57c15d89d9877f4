"""``POST /containers/{id}/attach`` on the wire: the 101 upgrade with dockerd's
headers, multiplexed frames, stdin to a container opened with StdinOnce, a client
half-close still receiving the output, ``logs=1`` replay, the 200 form without an
upgrade, and ``/resize`` of a TTY container."""

from __future__ import annotations

import json
import socket
import time

import pytest

from tests.integration.daemon.harness import short_workdir
from tests.integration.engine.engined import demux, engine_daemon

pytestmark = pytest.mark.integration


@pytest.fixture
def eng(tmp_path_factory):
    with engine_daemon(short_workdir(tmp_path_factory, "att")) as e:
        yield e


def hijack(eng, cid: str, query: str, upgrade: bool = True) -> tuple[socket.socket, bytes]:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(str(eng.d.socket_path))
    extra = "Connection: Upgrade\r\nUpgrade: tcp\r\n" if upgrade else ""
    s.sendall(f"POST /v1.41/containers/{cid}/attach?{query} HTTP/1.1\r\nHost: d\r\n"
              f"{extra}Content-Length: 0\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        assert chunk, head
        head += chunk
    return s, head


def read_all(s: socket.socket) -> bytes:
    out = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return out
        out += chunk


def test_attach_before_start_with_stdin_and_half_close(eng):
    cid = eng.create(["sh", "-c", "read a; echo got-$a; echo err >&2"], OpenStdin=True,
                     StdinOnce=True, AttachStdin=True)
    s, head = hijack(eng, cid, "stream=1&stdin=1&stdout=1&stderr=1")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 101 UPGRADED"
    headers = {k.lower(): v for k, _, v in (ln.partition(": ") for ln in lines[1:] if ln)}
    assert headers["content-type"] == "application/vnd.docker.multiplexed-stream"
    assert headers["upgrade"] == "tcp" and headers["connection"].lower() == "upgrade"
    eng.ok("POST", f"/containers/{cid}/start")
    s.sendall(b"hello\n")
    s.shutdown(socket.SHUT_WR)          # the docker CLI's CloseWrite after stdin EOF
    frames = demux(read_all(s))
    s.close()
    assert sorted(frames) == [(1, b"got-hello\n"), (2, b"err\n")]
    assert eng.wait(cid)["StatusCode"] == 0


def test_attach_logs_replay_and_plain_200(eng):
    cid = eng.run(["sh", "-c", "echo early; sleep 1000"])
    time.sleep(0.5)
    s, head = hijack(eng, cid, "logs=1&stream=0&stdout=1", upgrade=False)
    assert head.startswith(b"HTTP/1.1 200")
    assert b"application/vnd.docker.multiplexed-stream" in head
    assert demux(read_all(s)) == [(1, b"early\n")]
    s.close()


def test_tty_attach_raw_and_resize(eng):
    cid = eng.run(["sh", "-c", "sleep 0.5; stty size; sleep 1000"], Tty=True,
                  OpenStdin=True)
    s, head = hijack(eng, cid, "stream=1&stdout=1&stderr=1&stdin=1")
    assert b"application/vnd.docker.raw-stream" in head
    eng.ok("POST", f"/containers/{cid}/resize", h=33, w=101)
    got = b""
    deadline = time.monotonic() + 10
    while b"33 101" not in got and time.monotonic() < deadline:
        got += s.recv(4096)
    assert b"33 101" in got and not got.startswith(b"\x01\x00")   # raw, no frames
    s.close()
    stopped = eng.req("POST", "/containers/nope/resize", h=1, w=1)
    assert stopped.status == 404 and json.loads(stopped.body)["message"]
