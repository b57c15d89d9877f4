"""The same daemon answers, the same text printed: docker CLI vs dockyard CLI.

A canned daemon serves recorded JSON shapes (ps, inspect, volume ls, network ls,
port, diff, top, version-independent fields); both CLIs format them and must print
byte-identical stdout and exit with the same status.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from tests.unit.cli.fakedaemon import FakeDaemon, http_response

DOCKER = shutil.which("docker")


@pytest.fixture(autouse=True)
def _docker_cli_installed():
    """CI installs docker.io; without its CLI these comparisons cannot run: fail loudly."""
    if DOCKER is None:
        pytest.fail("the docker CLI (/usr/bin/docker, package docker.io) is not installed: "
                    "run scripts/setup.sh", pytrace=False)

NOW = int(time.time())
CID = "8dfafdbc3a40" + "1" * 52
CID2 = "77aa00bc3a40" + "2" * 52
CONTAINERS = [
    {"Id": CID, "Names": ["/web"], "Image": "busybox", "ImageID": "sha256:" + "b" * 64,
     "Command": "httpd -f -p 80 -h /var/www/html", "Created": NOW - 125,
     "Ports": [{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
               {"IP": "::", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
               {"PrivatePort": 443, "Type": "tcp"}, {"PrivatePort": 444, "Type": "tcp"}],
     "Labels": {"a": "1", "com.example": "x y"}, "State": "running",
     "Status": "Up 2 minutes", "HostConfig": {"NetworkMode": "default"},
     "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "172.17.0.2"}}},
     "Mounts": [{"Type": "volume", "Name": "data" * 20, "Source": "/var/lib/x",
                 "Destination": "/data", "Driver": "local", "Mode": "", "RW": True,
                 "Propagation": ""}], "SizeRw": 12345, "SizeRootFs": 4_500_000},
    {"Id": CID2, "Names": ["/quirky_name"], "Image": "sha256:" + "b" * 64,
     "ImageID": "sha256:" + "b" * 64, "Command": "true", "Created": NOW - 7200,
     "Ports": [], "Labels": {}, "State": "exited", "Status": "Exited (0) 2 hours ago",
     "HostConfig": {"NetworkMode": "none"}, "NetworkSettings": {"Networks": {}},
     "Mounts": [], "SizeRw": 0, "SizeRootFs": 0},
]
INSPECT = {
    "Id": CID, "Created": "2026-11-27T23:00:00.123456789Z", "Path": "httpd",
    "Args": ["-f", "-p", "80"], "Name": "/web", "RestartCount": 0,
    "State": {"Status": "running", "Running": True, "Paused": False, "Pid": 4242,
              "ExitCode": 0, "Error": "", "StartedAt": "2026-11-27T23:00:01Z",
              "FinishedAt": "0001-01-01T00:00:00Z", "OOMKilled": False},
    "Config": {"Hostname": "8dfafdbc3a40", "Env": ["PATH=/bin", "A=<&>"], "Cmd": ["httpd"],
               "Entrypoint": None, "Labels": {"b": "2", "a": "1"}, "Tty": False,
               "ExposedPorts": {"80/tcp": {}}, "Image": "busybox", "Volumes": None},
    "HostConfig": {"Memory": 67108864, "NanoCpus": 1500000000, "Binds": None,
                   "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}},
    "NetworkSettings": {"IPAddress": "172.17.0.2",
                        "Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"},
                                             {"HostIp": "::", "HostPort": "8080"}],
                                  "443/tcp": None},
                        "Networks": {"bridge": {"IPAddress": "172.17.0.2"}}},
    "Mounts": [], "Unicode": "héllo ✓",
}
VOLUMES = {"Volumes": [
    {"Name": "data", "Driver": "local", "Mountpoint": "/var/lib/dockyard/volumes/data/_data",
     "Labels": {"x": "1"}, "Scope": "local", "CreatedAt": "2026-11-27T23:00:00Z",
     "Options": {}},
    {"Name": "a" * 64, "Driver": "local", "Mountpoint": "/m", "Labels": None,
     "Scope": "local", "CreatedAt": "2026-11-27T23:00:00Z", "Options": None}],
    "Warnings": None}
NETWORKS = [
    {"Name": "bridge", "Id": "f" * 64, "Driver": "bridge", "Scope": "local",
     "EnableIPv6": False, "Internal": False, "Labels": {}, "Created": "2026-11-27T23:00:00Z",
     "IPAM": {"Driver": "default", "Config": [{"Subnet": "172.17.0.0/16"}]}},
    {"Name": "host", "Id": "e" * 64, "Driver": "host", "Scope": "local",
     "EnableIPv6": False, "Internal": False, "Labels": {}, "Created": "2026-11-27T23:00:00Z"},
    {"Name": "my-long-network-name", "Id": "d" * 64, "Driver": "bridge", "Scope": "local",
     "EnableIPv6": True, "Internal": True, "Labels": {"k": "v"},
     "Created": "2026-11-27T23:00:00Z"},
]
TOP = {"Titles": ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"],
       "Processes": [["root", "4242", "4230", "0", "23:00", "?", "00:00:00", "httpd -f"]]}
CHANGES = [{"Path": "/etc", "Kind": 0}, {"Path": "/etc/x", "Kind": 1},
           {"Path": "/tmp/y", "Kind": 2}]


def _handler(method, path, headers, body, conn):
    p = path.split("?", 1)[0]
    for prefix in ("/v1.41", "/v1.50"):
        if p.startswith(prefix):
            p = p[len(prefix):]
    if p == "/_ping":
        return http_response(200, "" if method == "HEAD" else "OK", {"Ostype": "linux"})
    if p == "/containers/json":
        # Created moves in 30 s steps: both CLIs see the same CreatedAt, and the ages
        # (140-170 s, 7200-7230 s) stay "2 minutes ago" / "2 hours ago".
        now = int(time.time()) // 30 * 30
        items = [{**c, "Created": now - age} for c, age in zip(CONTAINERS, (140, 7200),
                                                                  strict=True)]
        return http_response(200, items)
    if p in (f"/containers/{CID}/json", "/containers/web/json"):
        return http_response(200, INSPECT)
    if p.startswith("/containers/") and p.endswith("/json"):
        ref = p.split("/")[2]
        return http_response(404, {"message": f"No such container: {ref}"})
    if p.endswith("/top"):
        return http_response(200, TOP)
    if p.endswith("/changes"):
        return http_response(200, CHANGES)
    if p == "/volumes":
        return http_response(200, VOLUMES)
    if p == "/networks":
        return http_response(200, NETWORKS)
    if p.startswith("/containers/") and method in ("POST", "DELETE"):
        ref = p.split("/")[2]
        if ref == "nope":
            return http_response(404, {"message": f"No such container: {ref}"})
        return http_response(204)
    return http_response(404, {"message": "page not found"})


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    d = FakeDaemon(tmp_path_factory.mktemp("sbs") / "d.sock", _handler)
    yield d
    d.close()


def _both(daemon, *args):
    env = {**os.environ, "DOCKER_HOST": daemon.host, "DOCKYARD_HOST": daemon.host,
           "DOCKER_CONFIG": "/nonexistent-docker-config", "TZ": "UTC"}
    d = subprocess.run([DOCKER, *args], capture_output=True, text=True, env=env, timeout=60)
    o = subprocess.run([sys.executable, "-m", "dockyard.cli.main", *args],
                       capture_output=True, text=True, env=env, timeout=60)
    return d, o


@pytest.mark.parametrize("args", [
    ["ps"], ["ps", "-a"], ["ps", "--no-trunc"], ["ps", "-q"], ["ps", "-aq", "--no-trunc"],
    ["ps", "-s"], ["ps", "--format", "{{.ID}} {{.Names}} {{.Status}}"],
    ["ps", "--format", "{{json .}}"],
    ["ps", "--format", "table {{.Names}}\t{{.Image}}\t{{.Ports}}\t{{.Labels}}"],
    ["ps", "--format", "table {{.ID}}\t{{.Mounts}}\t{{.Networks}}\t{{.State}}\t{{.Size}}"],
    ["container", "ls", "-a"],
    ["inspect", "web"], ["container", "inspect", "web"],
    ["inspect", "--format", "{{.State.Pid}}", "web"],
    ["inspect", "-f", "{{json .Config.Labels}}", "web"],
    ["inspect", "-f", "{{.Config.Cmd}} {{.HostConfig.Memory}} {{.State.Running}}", "web"],
    ["inspect", "-f", "{{json .NetworkSettings.Ports}}", "web"],
    ["inspect", "-f", "{{json .Config.Env}}", "web"],
    ["container", "inspect", "nope"], ["inspect", "nope"],
    ["inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", "web"],
    ["inspect", "-f", "{{range $p, $b := .NetworkSettings.Ports}}{{$p}}={{if $b}}"
                      "{{(index $b 0).HostPort}}{{else}}none{{end}} {{end}}", "web"],
    ["inspect", "-f", "{{join .Config.Env \",\"}} {{len .Config.Env}}", "web"],
    ["inspect", "-f", "{{printf \"%s|%-8s|%d\" .Name .State.Status .State.Pid}}", "web"],
    ["inspect", "-f", "{{with .State}}{{.Status}}{{end}} {{.Config.Labels.a}}", "web"],
    ["inspect", "-f", "{{- if eq .State.Status \"running\" -}} up {{- else -}} down "
                      "{{- end}}", "web"],
    ["inspect", "-f", "{{range .Config.Env}}{{println .}}{{end}}", "web"],
    ["inspect", "-f", "{{.Config.Cmd | json}} {{upper .Name}} {{index .Config.Labels "
                      "\"b\"}}", "web"],
    ["ps", "--format", "{{.Names | upper}} {{len .Labels}}"],
    ["ps", "-a", "--format", "{{.Names}} [{{.Label \"com.example\"}}] [{{.Label \"no\"}}]"],
    ["volume", "ls"], ["volume", "ls", "-q"], ["volume", "ls", "--format", "{{.Name}}"],
    ["network", "ls"], ["network", "ls", "--no-trunc"], ["network", "ls", "-q"],
    ["network", "ls", "--format", "table {{.Name}}\t{{.IPv6}}\t{{.Internal}}"],
    ["port", "web"], ["port", "web", "80"], ["port", "web", "80/tcp"],
    ["top", "web"], ["diff", "web"],
    ["stop", "web", "nope"], ["rm", "-f", "web"], ["kill", "-s", "HUP", "web"],
])
def test_same_output(daemon, args):
    d, o = _both(daemon, *args)
    assert o.stdout == d.stdout, f"docker stderr: {d.stderr}\nours stderr: {o.stderr}"
    assert o.returncode == d.returncode, (d.stderr, o.stderr)


def test_same_ps_json_fields(daemon):
    d, o = _both(daemon, "ps", "-a", "--format", "{{json .}}")
    for dl, ol in zip(d.stdout.splitlines(), o.stdout.splitlines(), strict=True):
        assert json.loads(ol) == json.loads(dl)
