"""Blocking work stays off the event loop: the daemon answers while a load waits
for its body, survives clients that vanish mid-stream, and runs image calls in
parallel without losing any."""

from __future__ import annotations

import os
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.integration.daemon.harness import bootstrap_busybox, running_daemon, short_workdir

pytestmark = pytest.mark.integration


@pytest.fixture
def daemon(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.fail("integration tests need root")
    work = short_workdir(tmp_path_factory, "conc")
    bootstrap_busybox(work / "root")
    with running_daemon(work) as d:
        yield d


def raw_connection(d) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(str(d.socket_path))
    return s


def timed(d, method: str, path: str) -> float:
    t0 = time.monotonic()
    assert d.request(method, path).status == 200
    return time.monotonic() - t0


def test_the_daemon_answers_while_a_load_waits_for_its_body(daemon):
    saved = daemon.request("GET", "/images/busybox/get").body
    s = raw_connection(daemon)
    try:
        s.sendall((f"POST /images/load HTTP/1.1\r\nHost: x\r\nContent-Length: {len(saved)}"
                   "\r\n\r\n").encode() + saved[:1000])
        time.sleep(0.3)
        assert timed(daemon, "GET", "/_ping") < 2.0
        assert timed(daemon, "GET", "/images/json") < 2.0
        s.sendall(saved[1000:])
        s.settimeout(30)
        reply = b""
        while b"Loaded image" not in reply:
            chunk = s.recv(65536)
            assert chunk, reply
            reply += chunk
        assert reply.startswith(b"HTTP/1.1 200")
    finally:
        s.close()


def test_a_client_gone_mid_load_or_mid_save_leaves_the_daemon_healthy(daemon):
    saved = daemon.request("GET", "/images/busybox/get").body
    s = raw_connection(daemon)
    s.sendall((f"POST /images/load HTTP/1.1\r\nHost: x\r\nContent-Length: {len(saved)}"
               "\r\n\r\n").encode() + saved[:5000])
    time.sleep(0.3)
    s.close()
    s = raw_connection(daemon)
    s.sendall(b"GET /images/busybox/get HTTP/1.1\r\nHost: x\r\n\r\n")
    assert s.recv(100).startswith(b"HTTP/1.1 200")
    s.close()
    time.sleep(0.3)
    assert [i["RepoTags"] for i in daemon.request("GET", "/images/json").json()] \
        == [["busybox:latest"]]
    t0 = time.monotonic()
    assert daemon.stop() == 0, daemon.log_tail()
    assert time.monotonic() - t0 < 10, "shutdown waited on an abandoned worker"


def test_parallel_tags_all_land(daemon):
    names = [f"par/img{i}:t" for i in range(12)]

    def tag(name: str) -> int:
        repo, _, t = name.partition(":")
        return daemon.request("POST", f"/images/busybox/tag?repo={repo}&tag={t}").status

    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(tag, names))
    assert statuses == [201] * len(names)
    listed = daemon.request("GET", "/images/json").json()[0]["RepoTags"]
    assert sorted(listed) == sorted([*names, "busybox:latest"])
