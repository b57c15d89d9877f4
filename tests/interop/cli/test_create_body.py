"""The create request ``dockyard run/create FLAGS`` sends equals the docker CLI's.

Both CLIs talk to the same recording daemon (a canned unix-socket server); the
bodies are compared after dropping zero values (docker's Go structs send every
field, we send what matters), so any flag we translate differently fails here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.unit.cli.fakedaemon import FakeDaemon, http_response

DOCKER = shutil.which("docker")


@pytest.fixture(autouse=True)
def _docker_cli_installed():
    """CI installs docker.io; without its CLI these comparisons cannot run: fail loudly."""
    if DOCKER is None:
        pytest.fail("the docker CLI (/usr/bin/docker, package docker.io) is not installed: "
                    "run scripts/setup.sh", pytrace=False)

CASES = [
    [],
    ["-e", "A=1", "-e", "B", "--env-file", "{envfile}", "-l", "x=y", "--label", "k"],
    ["-p", "8080:80", "-p", "127.0.0.1:9000:9000/udp", "-p", "53", "-P", "--expose", "7000-7001"],
    ["-v", "/tmp:/data:ro", "-v", "named:/n", "-v", "/anon", "--tmpfs", "/run:size=1m"],
    ["--mount", "type=bind,source=/tmp,target=/b,readonly",
     "--mount", "type=volume,src=v1,dst=/v,volume-nocopy",
     "--mount", "type=tmpfs,target=/t,tmpfs-size=1048576,tmpfs-mode=1777"],
    ["-w", "/w", "-u", "1000:1000", "-h", "host1", "--domainname", "dom",
     "--entrypoint", "/bin/sh", "--stop-signal", "SIGUSR1", "--stop-timeout", "7"],
    ["--restart", "on-failure:3", "-m", "64m", "--memory-swap", "128m", "--cpus", "1.5",
     "--cpu-shares", "512", "--cpuset-cpus", "0", "--pids-limit", "50",
     "--memory-reservation", "32m", "--memory-swappiness", "10", "--oom-score-adj", "100"],
    ["--ulimit", "nofile=1024:2048", "--ulimit", "nproc=64", "--cap-add", "NET_ADMIN",
     "--cap-drop", "ALL", "--privileged", "--read-only", "--security-opt",
     "no-new-privileges", "--init"],
    ["--network", "none", "--dns", "1.1.1.1", "--dns-search", "example.com",
     "--dns-option", "ndots:2", "--add-host", "db:10.0.0.2"],
    ["--network", "mynet", "--network-alias", "web", "--ip", "172.30.0.9"],
    ["--log-driver", "json-file", "--log-opt", "max-size=1m", "--log-opt", "max-file=2",
     "--shm-size", "128m", "--sysctl", "net.ipv4.ip_forward=1",
     "--device", "/dev/null:/dev/xnull:rw", "--group-add", "10"],
    ["--health-cmd", "true", "--health-interval", "5s", "--health-timeout", "2s",
     "--health-retries", "3", "--health-start-period", "1m30s"],
    ["--no-healthcheck", "--rm", "--name", "named1", "-i", "-t"],
    ["-a", "stdout", "--pid", "host", "--ipc", "private", "--uts", "host",
     "--cgroupns", "private", "--runtime", "runc", "--cgroup-parent", "/x"],
    ["--entrypoint", ""],
]
ARGS = ["busybox", "sh", "-c", "echo hi"]


def _drop_zero(v):
    """Remove zero values ("", 0, False, None, [], {}) recursively, like omitempty."""
    if isinstance(v, dict):
        out = {k: _drop_zero(x) for k, x in v.items()}
        return {k: x for k, x in out.items() if x not in ("", 0, False, None, [], {})}
    if isinstance(v, list):
        return [_drop_zero(x) for x in v]
    return v


def _normalize(body: dict) -> dict:
    body = json.loads(json.dumps(body))
    hc = body.get("HostConfig", {})
    if hc.get("MemorySwappiness") == -1:   # docker's "unset"
        hc.pop("MemorySwappiness")
    hc.pop("ConsoleSize", None)   # docker sends the terminal size (API >= 1.42 only)
    if body.get("Env"):   # docker 28 orders a repeated variable randomly (a Go map)
        body["Env"] = sorted(body["Env"])
    if hc.get("Binds"):   # docker 28 builds Binds from a Go map: random order
        hc["Binds"] = sorted(hc["Binds"])
    # docker fills NetworkingConfig for the default network with an all-zero endpoint
    nc = body.get("NetworkingConfig", {}).get("EndpointsConfig", {})
    for name in list(nc):
        if not _drop_zero(nc[name]):
            nc[name] = {}
    return _drop_zero(body)


@pytest.fixture(scope="module")
def recorder(tmp_path_factory):
    bodies: list[tuple[str, dict]] = []

    def handler(method, path, headers, body, conn):
        if path.endswith("/_ping"):
            return http_response(200, "" if method == "HEAD" else "OK",
                                 {"Ostype": "linux"})
        if "/containers/create" in path:
            bodies.append((path, json.loads(body)))
            return http_response(201, {"Id": "a" * 64, "Warnings": []})
        return http_response(404, {"message": "page not found"})

    d = FakeDaemon(tmp_path_factory.mktemp("rec") / "r.sock", handler)
    d.bodies = bodies
    yield d
    d.close()


def _create(cmd: list[str], host: str, args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "DOCKYARD_HOST": host, "DOCKER_HOST": host,
           "DOCKER_CONFIG": "/nonexistent-docker-config"}
    return subprocess.run([*cmd, "create", *args], capture_output=True, text=True,
                          env=env, timeout=60, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("flags", CASES, ids=[" ".join(c)[:40] or "plain" for c in CASES])
def test_same_create_body_as_docker(recorder, flags, tmp_path):
    envfile = tmp_path / "env"
    envfile.write_text("# comment\nFROMFILE=1\n\n  LEAD=x\nB\nUNSET_HERE_X\n")
    flags = [f.replace("{envfile}", str(envfile)) for f in flags]
    args = flags + ARGS
    os.environ["B"] = "from-env"
    try:
        recorder.bodies.clear()
        d = _create([DOCKER, "-H", recorder.host], recorder.host, args)
        ours = _create([sys.executable, "-m", "dockyard.cli.main"], recorder.host, args)
    finally:
        os.environ.pop("B", None)
    assert d.returncode == ours.returncode == 0, (d.stderr, ours.stderr)
    assert len(recorder.bodies) == 2
    (dpath, dbody), (opath, obody) = recorder.bodies
    assert _normalize(obody) == _normalize(dbody)
    assert opath.split("?")[1:] == dpath.split("?")[1:]   # ?name=... the same


@pytest.mark.parametrize("flags", [["-p", "99999:80"], ["--restart", "always", "--rm"],
                                   ["--restart", "on-failure:x"], ["--nope"],
                                   ["--env-file", "/nonexistent/env"],
                                   ["-m", "12x"], ["--cpus", "abc"]])
def test_rejected_like_docker(recorder, flags):
    recorder.bodies.clear()
    args = flags + ARGS
    d = _create([DOCKER, "-H", recorder.host], recorder.host, args)
    ours = _create([sys.executable, "-m", "dockyard.cli.main"], recorder.host, args)
    assert d.returncode == 125
    assert ours.returncode == d.returncode, ours.stderr
    assert recorder.bodies == []
