"""docker top against dockyardd: the container's processes only, ps arguments."""

from __future__ import annotations

import pytest

from tests.integration.daemon.harness import short_workdir
from tests.integration.engine.engined import engine_daemon
from tests.interop.engine.test_docker_exec import docker


@pytest.fixture
def eng(tmp_path_factory):
    with engine_daemon(short_workdir(tmp_path_factory, "tp")) as e:
        yield e


def test_docker_top(eng):
    cid = eng.run(["sh", "-c", "sleep 301 & sleep 302; true"])
    r = docker(eng, "top", cid)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["UID", "PID", "PPID"]
    cmds = sorted(line.split(None, 7)[-1] for line in lines[1:])
    # (ps cuts lines at 80 columns without a terminal, for dockerd too)
    assert cmds[0].startswith("sh -c sleep 301 & sleep 302")
    assert cmds[1:] == ["sleep 301", "sleep 302"]
    r = docker(eng, "top", cid, "-o", "pid,comm")
    assert r.returncode == 0 and r.stdout.split()[:2] == ["PID", "COMMAND"]
    eng.ok("POST", f"/containers/{cid}/kill")
    eng.wait(cid)
    r = docker(eng, "top", cid)
    assert r.returncode != 0 and "is not running" in r.stderr
