"""The real docker CLI against dockyardd's containers: run (foreground, -d, --rm,
-i with a pipe, -it through a pty), ps/logs/inspect/stop/kill/restart/rm/rename/
pause/wait, and docker's run exit codes (125, 126, 127)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time

import pytest

from tests.integration.daemon.harness import short_workdir
from tests.interop.network.netdaemon import network_daemon

pytestmark = pytest.mark.interop

DOCKER = "/usr/bin/docker"


@pytest.fixture
def env(tmp_path_factory):
    with network_daemon(short_workdir(tmp_path_factory, "dcli")) as (d, environ):
        yield d, environ


def docker(env, *args: str, input: bytes | None = None, check: bool = True,
           timeout: float = 60) -> subprocess.CompletedProcess:
    out = subprocess.run([DOCKER, *args], input=input, capture_output=True, env=env[1],
                         timeout=timeout)
    if check and out.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed ({out.returncode}):\n"
                             f"{out.stderr.decode()}\n{env[0].log_tail()}")
    return out


def text(out: subprocess.CompletedProcess) -> str:
    return out.stdout.decode()


def test_run_foreground_output_and_exit_code(env):
    out = docker(env, "run", "--network", "none", "busybox", "sh", "-c",
                 "echo to-out; echo to-err >&2; exit 3", check=False)
    assert out.returncode == 3
    assert out.stdout == b"to-out\n" and out.stderr == b"to-err\n"
    for i in range(5):   # attach-before-start never loses a fast container's output
        out = docker(env, "run", "--rm", "--network", "none", "busybox", "echo", f"n{i}")
        assert out.stdout == f"n{i}\n".encode()
    out = docker(env, "run", "--rm", "busybox", "echo", "bridged")
    assert out.stdout == b"bridged\n"
    assert text(docker(env, "ps", "-aq")).split() == [text(docker(env, "ps", "-aq",
                                                                  "--no-trunc"))[:12]]


def test_exit_codes_125_126_127(env):
    assert docker(env, "run", "--bogus-flag", "busybox", check=False).returncode == 125
    assert docker(env, "run", "--rm", "nosuchimage", check=False).returncode == 125
    out = docker(env, "run", "--rm", "--network", "none", "busybox", "nosuchcmd", check=False)
    assert out.returncode == 127, out.stderr
    out = docker(env, "run", "--rm", "--network", "none", "busybox", "/etc", check=False)
    assert out.returncode == 126, out.stderr
    assert text(docker(env, "ps", "-aq")) == ""   # --rm removed even failed starts


def test_stdin_pipe(env):
    out = docker(env, "run", "-i", "--rm", "--network", "none", "busybox", "cat",
                 input=b"hi\nthere\n")
    assert out.stdout == b"hi\nthere\n"


def test_detached_lifecycle(env):
    cid = text(docker(env, "run", "-d", "--name", "web", "--network", "none", "busybox",
                      "sh", "-c", "i=0; while true; do echo line$i; i=$((i+1)); "
                      "sleep 0.2; done")).strip()
    assert len(cid) == 64
    time.sleep(1.0)
    ps = text(docker(env, "ps", "--format", "{{.ID}} {{.Names}} {{.Status}}")).split("\n")[0]
    assert ps.startswith(cid[:12] + " web Up ")
    assert text(docker(env, "ps", "-q", "--filter", "name=web")).strip() == cid[:12]
    assert text(docker(env, "ps", "-q", "--filter", "status=exited")).strip() == ""
    pid = int(text(docker(env, "inspect", "--format", "{{.State.Pid}}", "web")))
    assert pid > 0 and os.path.exists(f"/proc/{pid}")
    logs = text(docker(env, "logs", "web")).split()
    assert logs[:2] == ["line0", "line1"]
    assert len(text(docker(env, "logs", "--tail", "2", "web")).split()) == 2
    stamped = text(docker(env, "logs", "-t", "--tail", "1", "web"))
    assert stamped[:4].isdigit() and "line" in stamped
    docker(env, "pause", "web")
    assert "Paused" in text(docker(env, "ps", "--format", "{{.Status}}"))
    docker(env, "unpause", "web")
    docker(env, "rename", "web", "web2")
    docker(env, "restart", "-t", "1", "web2")
    assert text(docker(env, "inspect", "--format", "{{.State.Running}}", "web2")).strip() \
        == "true"
    docker(env, "kill", "web2")
    assert text(docker(env, "wait", "web2")).strip() == "137"
    docker(env, "start", "web2")
    t0 = time.monotonic()
    docker(env, "stop", "-t", "1", "web2")
    assert time.monotonic() - t0 < 10
    assert text(docker(env, "ps", "-a", "--filter", "exited=137", "-q")).strip() == cid[:12]
    docker(env, "start", "web2")
    docker(env, "rm", "-f", "web2")
    assert text(docker(env, "ps", "-aq")) == ""


def test_logs_follow_ends_with_the_container(env):
    docker(env, "run", "-d", "--name", "fol", "--network", "none", "busybox", "sh", "-c",
           "for i in 1 2 3; do echo n$i; sleep 0.3; done")
    out = docker(env, "logs", "-f", "fol", timeout=30)
    assert text(out).split() == ["n1", "n2", "n3"]
    assert text(docker(env, "wait", "fol")).strip() == "0"


def test_run_it_through_a_pty(env):
    pid, fd = pty.fork()
    if pid == 0:
        os.environ.update(env[1])
        os.execv(DOCKER, [DOCKER, "run", "-it", "--rm", "--network", "none", "busybox",
                          "sh"])
    got = b""
    try:
        deadline = time.monotonic() + 30
        sent = False
        while time.monotonic() < deadline:
            r, _, _ = select.select([fd], [], [], 0.2)
            if r:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                got += chunk
            if not sent and (b"#" in got or time.monotonic() > deadline - 25):
                os.write(fd, b"echo pty-$((6*7)); tty; exit 4\r")
                sent = True
        _, status = os.waitpid(pid, 0)
        pid = 0
    finally:
        if pid:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        os.close(fd)
    assert b"pty-42" in got, got
    assert b"/dev/pts/" in got, got
    assert os.waitstatus_to_exitcode(status) == 4
