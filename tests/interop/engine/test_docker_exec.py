"""The real docker CLI (20.10) and docker-py against dockyardd: exec (plain, stdin
piping, -it through a pty, env/user/workdir, exit codes) and docker-py's exec_run."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time

import pytest

from tests.integration.daemon.harness import short_workdir
from tests.integration.engine.engined import Engine, engine_daemon
from tests.support.dockerd import DOCKER_CLI


@pytest.fixture
def eng(tmp_path_factory):
    with engine_daemon(short_workdir(tmp_path_factory, "ex")) as e:
        yield e


def docker(eng: Engine, *args: str, input: str | None = None,
           timeout: float = 60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    return subprocess.run([DOCKER_CLI, "-H", eng.d.host, *args], capture_output=True,
                          text=True, input=input, timeout=timeout, env=env)


def test_docker_exec_plain_piped_env_user_workdir(eng):
    cid = eng.run(["sleep", "300"])
    r = docker(eng, "exec", cid, "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (r.returncode, r.stdout, r.stderr) == (3, "out\n", "err\n")
    r = docker(eng, "exec", "-i", cid, "sh", "-c", "tr a-z A-Z", input="piped data\n")
    assert (r.returncode, r.stdout) == (0, "PIPED DATA\n")
    r = docker(eng, "exec", "-e", "X=1", "-w", "/tmp", "-u", "1000:1000", cid,
               "sh", "-c", "echo $X $(pwd) $(id -u):$(id -g)")
    assert (r.returncode, r.stdout) == (0, "1 /tmp 1000:1000\n"), r.stderr
    caps = {}
    for flag in ((), ("--privileged",)):
        r = docker(eng, "exec", *flag, cid, "sh", "-c", "grep CapEff /proc/self/status")
        caps[flag] = int(r.stdout.split()[1], 16)
    assert caps[("--privileged",)] > caps[()]
    r = docker(eng, "exec", "-t", cid, "sh", "-c", "tty; echo $TERM")
    # (text mode reads \r\n as \n)
    assert r.returncode == 0 and r.stdout.endswith("\nxterm\n"), r.stdout
    assert r.stdout.startswith("/dev/pts/")
    r = docker(eng, "exec", "-u", "nosuch", cid, "true")
    assert r.returncode == 126 and "unable to find user nosuch" in r.stdout + r.stderr
    r = docker(eng, "exec", "-w", "/no/such/dir", cid, "pwd")
    assert r.returncode == 126 and "/no/such/dir" in r.stdout + r.stderr, r
    r = docker(eng, "exec", cid, "/no/such/binary")
    assert r.returncode == 126, (r.returncode, r.stdout, r.stderr)
    r = docker(eng, "exec", "-d", cid, "sleep", "2")
    assert r.returncode == 0
    exec_ids = eng.inspect(cid)["ExecIDs"]
    assert exec_ids and len(exec_ids) >= 7
    assert eng.ok("GET", f"/exec/{exec_ids[0]}/json").json()["ContainerID"] == cid
    eng.ok("POST", f"/containers/{cid}/pause")
    r = docker(eng, "exec", cid, "true")
    assert r.returncode != 0 and "is paused, unpause the container before exec" in r.stderr
    eng.ok("POST", f"/containers/{cid}/unpause")
    eng.ok("POST", f"/containers/{cid}/stop", t=1)
    r = docker(eng, "exec", cid, "true")
    assert r.returncode != 0 and "is not running" in r.stderr


def test_docker_exec_it_through_a_pty(eng):
    cid = eng.run(["sleep", "300"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env["TERM"] = "xterm"
    master, slave = pty.openpty()
    import fcntl
    import struct
    import termios

    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 132, 0, 0))
    proc = subprocess.Popen([DOCKER_CLI, "-H", eng.d.host, "exec", "-it", cid, "sh"],
                            stdin=slave, stdout=slave, stderr=slave, env=env,
                            start_new_session=True)
    os.close(slave)
    out = b""
    try:
        os.write(master, b"stty size; tty; echo $((6*7)); exit 5\r")
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    out += os.read(master, 4096)
                except OSError:
                    break
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    text = out.decode(errors="replace")
    assert proc.returncode == 5, text
    assert "42" in text and "/dev/pts/" in text
    assert "40 132" in text, text


def test_docker_py_exec_run(eng):
    import docker as dockerpy

    cid = eng.run(["sleep", "300"])
    client = dockerpy.DockerClient(base_url=eng.d.host, version="1.41", timeout=60)
    try:
        c = client.containers.get(cid)
        res = c.exec_run(["sh", "-c", "echo hi; exit 4"])
        assert (res.exit_code, res.output) == (4, b"hi\n")
        res = c.exec_run("sh -c 'echo $A; echo e >&2'", environment={"A": "b"}, demux=True)
        assert res.exit_code == 0 and res.output == (b"b\n", b"e\n")
        res = c.exec_run("id -un", user="0")
        assert res.output == b"root\n"
        res = c.exec_run("tty", tty=True)
        assert res.output.startswith(b"/dev/pts/")
    finally:
        client.close()


def test_docker_exec_pipes_megabytes_both_ways(eng):
    cid = eng.run(["sleep", "300"])
    data = "".join(f"{i:07d}\n" for i in range(300_000))      # 2.4 MB
    r = docker(eng, "exec", "-i", cid, "sh", "-c", "cat; cat /proc/self/status >&2",
               input=data, timeout=120)
    assert r.returncode == 0, r.stderr[-500:]
    assert r.stdout == data
    assert "Name:" in r.stderr


def test_exec_in_a_runc_container_uses_runc(eng):
    cid = eng.run(["sleep", "300"], HostConfig={"NetworkMode": "none", "Runtime": "runc"})
    r = docker(eng, "exec", cid, "sh", "-c", "echo via runc; exit 2")
    assert (r.returncode, r.stdout) == (2, "via runc\n"), r.stderr
    r = docker(eng, "top", cid)
    assert r.returncode == 0 and "sleep 300" in r.stdout, r.stderr
    r = docker(eng, "stats", "--no-stream", "--format", "{{.PIDs}}", cid)
    assert (r.returncode, r.stdout) == (0, "1\n"), r.stderr


def test_docker_exec_it_detach_keys_leave_the_shell_running(eng):
    cid = eng.run(["sleep", "300"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    master, slave = pty.openpty()
    proc = subprocess.Popen([DOCKER_CLI, "-H", eng.d.host, "exec", "-it", cid, "sh", "-c",
                             "echo ready; exec sleep 123"],
                            stdin=slave, stdout=slave, stderr=slave, env=env,
                            start_new_session=True)
    os.close(slave)
    out = b""
    try:
        deadline = time.monotonic() + 20
        while b"ready" not in out and time.monotonic() < deadline:
            if select.select([master], [], [], 0.2)[0]:
                out += os.read(master, 4096)
        os.write(master, b"\x10\x11")          # ctrl-p ctrl-q
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    assert b"ready" in out
    r = docker(eng, "top", cid)
    assert "sleep 123" in r.stdout, r.stdout


def test_concurrent_docker_execs(eng):
    from concurrent.futures import ThreadPoolExecutor

    cid = eng.run(["sleep", "300"])
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(
            lambda i: docker(eng, "exec", cid, "sh", "-c", f"echo {i}; exit {i % 5}"),
            range(16)))
    for i, r in enumerate(results):
        assert (r.returncode, r.stdout) == (i % 5, f"{i}\n"), (i, r.stderr)
    r = docker(eng, "top", cid)
    assert [line.split(None, 7)[-1] for line in r.stdout.splitlines()[1:]] == ["sleep 300"]
