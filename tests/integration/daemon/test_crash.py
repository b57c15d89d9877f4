"""A SIGKILLed ``dockyardd`` leaves the image store consistent, and a new daemon
serves the same images: after finished work, and in the middle of a load."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from tests.integration.daemon.harness import bootstrap_busybox, running_daemon, short_workdir

pytestmark = pytest.mark.integration


@pytest.fixture
def work(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.fail("integration tests need root")
    return short_workdir(tmp_path_factory, "crash")


def store_check(data_root) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dockyard.cli.main", "system", "check"],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "DOCKYARD_ROOT": str(data_root)})


def listing(d) -> list[tuple[str, tuple[str, ...]]]:
    return sorted((i["Id"], tuple(sorted(i["RepoTags"])))
                  for i in d.request("GET", "/images/json?all=1").json())


def test_sigkill_after_work_keeps_every_image(work):
    bootstrap_busybox(work / "root")
    with running_daemon(work) as d:
        assert d.request("POST", "/images/busybox/tag?repo=kept&tag=1").status == 201
        saved = d.request("GET", "/images/busybox/get").body
        assert d.request("DELETE", "/images/busybox").status == 200
        assert d.request("POST", "/images/load", body=saved).status == 200
        before = listing(d)
        d.kill()
        d.start()
        assert listing(d) == before
        inspect = d.request("GET", "/images/kept:1/json")
        assert inspect.status == 200
    report = store_check(work / "root")
    assert report.returncode == 0, report.stdout + report.stderr


def test_sigkill_in_the_middle_of_a_load_loses_nothing_and_shows_nothing_half_done(work):
    bootstrap_busybox(work / "root")
    with running_daemon(work) as d:
        saved = d.request("GET", "/images/busybox/get").body
        assert d.request("POST", "/images/busybox/tag?repo=other&tag=2").status == 201
        before = listing(d)
        # Send half of an archive with a big declared length, then kill the daemon.
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(str(d.socket_path))
        try:
            head = (f"POST /images/load HTTP/1.1\r\nHost: x\r\n"
                    f"Content-Length: {len(saved) * 4}\r\n"
                    "Content-Type: application/x-tar\r\n\r\n").encode()
            sock.sendall(head + saved[: len(saved) // 2])
            time.sleep(0.5)
            d.kill()
        finally:
            sock.close()
        d.start()
        assert listing(d) == before
        # and the daemon still does work on that store
        assert d.request("DELETE", "/images/other:2").status == 200
        assert d.request("POST", "/images/load", body=saved).status == 200
    report = store_check(work / "root")
    assert report.returncode == 0, report.stdout + report.stderr
