"""docker CLI and dockyard CLI on one real dockyardd print the same thing.

Time-based columns ("2 seconds ago") can tick between the two runs, so each
comparison is retried a few times before it counts as a difference.
"""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from tests.integration.cli.clid import CLI, name

DOCKER = shutil.which("docker")


@pytest.fixture(autouse=True)
def _docker_cli_installed():
    """CI installs docker.io; without its CLI these comparisons cannot run: fail loudly."""
    if DOCKER is None:
        pytest.fail("the docker CLI (/usr/bin/docker, package docker.io) is not installed: "
                    "run scripts/setup.sh", pytrace=False)


def docker(cli: CLI, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([DOCKER, *args], capture_output=True, text=True, env=cli.env,
                          input=input, timeout=60)


def same(cli: CLI, *args: str) -> None:
    for _ in range(10):   # "4 seconds ago" may tick between the two runs: try again
        d = docker(cli, *args)
        o = cli.run(*args)
        if (d.stdout, d.returncode) == (o.stdout, o.returncode):
            return
        time.sleep(0.37)
    assert o.stdout == d.stdout, f"docker: {d.stderr}\nours: {o.stderr}"
    assert o.returncode == d.returncode


def test_listing_and_inspect_match(cli: CLI):
    t0 = int(time.time()) - 1
    a, b = name("sbs-a"), name("sbs-b")
    cli.ok("run", "-d", "--name", a, "--network", "none", "-l", "x=1", "busybox",
           "sleep", "300")
    cli.ok("create", "--name", b, "--network", "none", "-e", "A=<&>", "busybox", "true")
    for args in (["ps"], ["ps", "-a"], ["ps", "-a", "--no-trunc"], ["ps", "-aq"],
                 ["ps", "-a", "--format", "{{.Names}}\t{{.Image}}\t{{.State}}"],
                 ["ps", "-a", "--format", "{{json .}}"], ["ps", "-s"],
                 ["inspect", a], ["inspect", a, b], ["container", "inspect", b],
                 ["inspect", "-f", "{{.State.Pid}} {{.State.Status}}", a],
                 ["inspect", "-f", "{{json .Config.Env}}", b],
                 ["inspect", "-f", "{{json .HostConfig.RestartPolicy}}", b],
                 ["images"], ["images", "-q"], ["inspect", "busybox"],
                 ["volume", "ls"], ["top", a], ["port", a], ["diff", a],
                 ["inspect", name("missing")], ["system", "df"], ["network", "ls"],
                 ["events", "--since", str(t0), "--until", str(int(time.time()))],
                 ["events", "--since", str(t0), "--until", str(int(time.time())),
                  "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}"]):
        same(cli, *args)


def test_docker_cli_runs_containers_on_dockyardd(cli: CLI):
    n = name("dk")
    out = docker(cli, "run", "--rm", "--network", "none", "busybox", "sh", "-c",
                 "sleep 0.3; echo via-docker; exit 6")
    assert (out.returncode, out.stdout) == (6, "via-docker\n"), out.stderr
    out = docker(cli, "run", "-d", "--name", n, "--network", "none", "busybox",
                 "sleep", "300")
    assert out.returncode == 0, out.stderr
    assert cli.ok("ps", "--format", "{{.Names}}") == n + "\n"
    out = docker(cli, "exec", "-i", n, "cat", input="through docker exec\n")
    assert out.stdout == "through docker exec\n"
    assert docker(cli, "rm", "-f", n).returncode == 0
