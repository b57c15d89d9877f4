"""Pieces of the start worker that run without root."""

from __future__ import annotations

import json
import os

from dockyard.shim.worker import _Warnings, read_request


def test_warnings_are_truthy_callables_with_plain_messages():
    w = _Warnings()
    # runtime.container.start uses `warn or default`: an empty collector must be used
    assert (w or None) is w
    w('warning: container abc: exec: "x": executable file not found in $PATH')
    assert w.messages == ['exec: "x": executable file not found in $PATH']


def _ask(line: bytes):
    r, w = os.pipe()
    a, b = os.pipe()
    os.write(w, line)
    os.close(w)
    try:
        req = read_request_pair(r, b)
        os.close(b)
        answer = os.read(a, 4096)
    finally:
        os.close(r)
        os.close(a)
    return req, answer


def read_request_pair(r: int, answer_w: int):
    # read_request reads and answers on one fd (a socket); emulate with a socketpair
    import socket

    s1, s2 = socket.socketpair()
    try:
        s2.sendall(os.read(r, 1 << 20))
        s2.shutdown(socket.SHUT_WR)
        req = read_request(s1.fileno())
        s1.shutdown(socket.SHUT_WR)
        os.write(answer_w, s2.recv(4096))
        return req
    finally:
        s1.close()
        s2.close()


def test_read_request():
    good = {"op": "start", "request": {"container_id": "c", "bundle": "/b"}}
    req, answer = _ask(json.dumps(good).encode() + b"\n")
    assert req.container_id == "c" and answer == b""
    req, answer = _ask(b"nonsense\n")
    assert req is None and json.loads(answer)["kind"] == "InvalidArgument"
    req, answer = _ask(b'{"op": "dance"}\n')
    assert req is None and "unknown zygote operation" in json.loads(answer)["error"]
    req, answer = _ask(b'{"op": "start", "request": {"bundle": "rel"}}\n')
    assert req is None and json.loads(answer)["kind"] == "InvalidArgument"


def test_a_silent_requester_is_given_up():
    import socket
    import time

    s1, s2 = socket.socketpair()
    try:
        t = time.monotonic()
        assert read_request(s1.fileno(), timeout=0.2) is None
        assert time.monotonic() - t < 5
    finally:
        s1.close()
        s2.close()
