"""Issue 5, shown: ``kill -9`` of dockyardd under a running, logging container.

The container keeps running (its shim owns it, not the daemon), a new dockyardd
lists it as running, ``logs`` include what it wrote while no daemon was there, and
``stop`` records its exit code. Driven with the real docker CLI."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from tests.integration.daemon.harness import short_workdir
from tests.interop.network.netdaemon import network_daemon

pytestmark = pytest.mark.interop

DOCKER = "/usr/bin/docker"


def docker(env: dict, *args: str, check: bool = True) -> str:
    out = subprocess.run([DOCKER, *args], capture_output=True, env=env, timeout=60)
    if check and out.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {out.stderr.decode()}")
    return out.stdout.decode()


def test_container_survives_daemon_kill(tmp_path_factory):
    with network_daemon(short_workdir(tmp_path_factory, "kill9")) as (d, env):
        cid = docker(env, "run", "-d", "--name", "logger", "busybox", "sh", "-c",
                     "trap 'echo bye; exit 42' TERM; i=0; while true; do echo tick$i; "
                     "i=$((i+1)); sleep 0.1; done").strip()
        pid = int(docker(env, "inspect", "--format", "{{.State.Pid}}", cid))
        time.sleep(0.5)
        d.kill()                                   # SIGKILL, no clean-up
        assert os.path.exists(f"/proc/{pid}"), "the container died with the daemon"
        before = _lines(d, cid)
        time.sleep(1.0)                            # it keeps logging with no daemon
        during = _lines(d, cid)
        assert during > before + 3
        d.start()
        ps = docker(env, "ps", "--format", "{{.ID}} {{.Names}} {{.Status}}").split()
        assert ps[:3] == [cid[:12], "logger", "Up"]
        assert int(docker(env, "inspect", "--format", "{{.State.Pid}}", cid)) == pid
        lines = docker(env, "logs", cid).split()
        assert len(lines) >= during and lines[:3] == ["tick0", "tick1", "tick2"]
        docker(env, "stop", "-t", "5", cid)
        assert docker(env, "inspect", "--format", "{{.State.ExitCode}}", cid).strip() == "42"
        assert docker(env, "logs", "--tail", "1", cid).strip() == "bye"
        assert not os.path.exists(f"/proc/{pid}")


def test_container_that_exited_while_no_daemon(tmp_path_factory):
    with network_daemon(short_workdir(tmp_path_factory, "kill9b")) as (d, env):
        cid = docker(env, "run", "-d", "--network", "none", "busybox", "sh", "-c",
                     "sleep 1; exit 7").strip()
        d.kill()
        time.sleep(2.0)
        d.start()
        deadline = time.monotonic() + 10
        state = ""
        while time.monotonic() < deadline:
            state = docker(env, "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}",
                           cid).strip()
            if state.startswith("exited"):
                break
            time.sleep(0.1)
        assert state == "exited 7"
        assert docker(env, "wait", cid).strip() == "7"


def _log(d, cid: str) -> str:
    return str(d.data_root / "containers" / cid / f"{cid}-json.log")


def _lines(d, cid: str) -> int:
    with open(_log(d, cid)) as f:
        return len(f.read().splitlines())
