"""``dockyard run`` against a canned daemon: request order, streams, exit codes.

The fake daemon plays dockerd's part of the protocol: create (404 for a missing
image until pulled), attach (101 then multiplexed frames), wait (200 header at
once, body at exit), start. The CLI runs as a real subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest

from .fakedaemon import FakeDaemon, http_response

CID = "c" * 64


def frame(stream: int, data: bytes) -> bytes:
    return bytes([stream, 0, 0, 0]) + len(data).to_bytes(4, "big") + data


class Scenario:
    def __init__(self, *, exit_code: int = 0, image_present: bool = True,
                 start_error: str | None = None, echo_stdin: bool = False) -> None:
        self.exit_code = exit_code
        self.image_present = image_present
        self.start_error = start_error
        self.echo_stdin = echo_stdin
        self.started = threading.Event()
        self.attach_done = threading.Event()
        self.create_body: dict = {}

    def __call__(self, method, path, headers, body, conn):
        if path == "/_ping":
            return http_response(200, "OK")
        p = path.split("?", 1)[0]
        if p.endswith("/containers/create"):
            if not self.image_present:
                return http_response(404, {"message": "No such image: busybox:latest"})
            self.create_body = json.loads(body)
            return http_response(201, {"Id": CID, "Warnings": []})
        if p.endswith("/images/create"):
            self.image_present = True
            msgs = [{"status": "Pulling from library/busybox", "id": "latest"},
                    {"status": "Digest: sha256:abc"},
                    {"status": "Status: Downloaded newer image for busybox:latest"}]
            return http_response(200, "".join(json.dumps(m) + "\r\n" for m in msgs),
                                 chunked=True)
        if p.endswith("/attach"):
            conn.sendall(b"HTTP/1.1 101 UPGRADED\r\nContent-Type: "
                         b"application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\n"
                         b"Upgrade: tcp\r\n\r\n")
            assert self.started.wait(10)
            if self.echo_stdin:
                data = b""
                while chunk := conn.recv(4096):
                    data += chunk
                conn.sendall(frame(1, b"got:" + data))
            else:
                conn.sendall(frame(1, b"hello out\n") + frame(2, b"hello err\n"))
            self.attach_done.set()
            return None
        if p.endswith("/wait"):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n")
            self.attach_done.wait(10)
            body = json.dumps({"StatusCode": self.exit_code, "Error": None}).encode()
            conn.sendall(f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n")
            return None
        if p.endswith("/start"):
            if self.start_error:
                self.attach_done.set()
                self.started.set()
                return http_response(400, {"message": self.start_error})
            self.started.set()
            return http_response(204)
        if method == "DELETE":
            return http_response(204)
        return http_response(404, {"message": "page not found"})


def run_cli(host: str, *args: str, stdin: bytes | None = None):
    env = {**os.environ, "DOCKYARD_HOST": host}
    return subprocess.run([sys.executable, "-m", "dockyard.cli.main", *args],
                          input=stdin, capture_output=True, env=env, timeout=30)


@pytest.fixture
def daemon(tmp_path):
    made = []

    def make(scenario: Scenario) -> FakeDaemon:
        d = FakeDaemon(tmp_path / f"d{len(made)}.sock", scenario)
        made.append(d)
        return d
    yield make
    for d in made:
        d.close()


def test_run_streams_and_returns_the_exit_code(daemon):
    sc = Scenario(exit_code=3)
    d = daemon(sc)
    out = run_cli(d.host, "run", "--rm", "busybox", "sh", "-c", "x")
    assert out.returncode == 3, out.stderr
    assert out.stdout == b"hello out\n"
    assert out.stderr == b"hello err\n"
    paths = [r[1].split("?")[0].replace("/v1.41", "") for r in d.requests]
    assert paths == ["/_ping", "/containers/create", f"/containers/{CID}/attach",
                     f"/containers/{CID}/wait", f"/containers/{CID}/start"]
    wait_q = next(r[1] for r in d.requests if "/wait" in r[1])
    assert "condition=removed" in wait_q
    body = sc.create_body
    assert body["Image"] == "busybox" and body["Cmd"] == ["sh", "-c", "x"]
    assert body["HostConfig"]["AutoRemove"] is True
    assert body["AttachStdout"] and body["AttachStderr"] and not body["AttachStdin"]


def test_run_without_rm_waits_for_next_exit(daemon):
    d = daemon(Scenario())
    assert run_cli(d.host, "run", "busybox").returncode == 0
    assert any("condition=next-exit" in r[1] for r in d.requests)


def test_run_pulls_a_missing_image(daemon):
    d = daemon(Scenario(image_present=False))
    out = run_cli(d.host, "run", "busybox", "true")
    assert out.returncode == 0, out.stderr
    err = out.stderr.decode()
    assert err.startswith("Unable to find image 'busybox:latest' locally\n")
    assert "latest: Pulling from library/busybox" in err
    assert "Status: Downloaded newer image for busybox:latest" in err
    pulls = [r[1] for r in d.requests if "/images/create" in r[1]]
    assert pulls == ["/v1.41/images/create?fromImage=busybox&tag=latest"]


@pytest.mark.parametrize(("message", "code"), [
    ("exec: \"nope\": executable file not found in $PATH", 127),
    ("exec: \"/etc\": permission denied", 126),
    ("cgroup trouble", 125)])
def test_start_failures_map_to_docker_exit_codes(daemon, message, code):
    d = daemon(Scenario(start_error=message))
    out = run_cli(d.host, "run", "--rm", "busybox", "nope")
    assert out.returncode == code
    assert f"Error response from daemon: {message}" in out.stderr.decode()


def test_stdin_is_piped_and_closed(daemon):
    d = daemon(Scenario(echo_stdin=True))
    out = run_cli(d.host, "run", "-i", "busybox", "cat", stdin=b"piped data")
    assert out.returncode == 0, out.stderr
    assert out.stdout == b"got:piped data"


def test_detached_run_prints_the_id(daemon):
    sc = Scenario()
    d = daemon(sc)
    out = run_cli(d.host, "run", "-d", "--name", "web", "-p", "8080:80", "busybox")
    assert out.returncode == 0, out.stderr
    assert out.stdout.decode() == CID + "\n"
    create = next(r for r in d.requests if "/containers/create" in r[1])
    assert "name=web" in create[1]
    assert sc.create_body["HostConfig"]["PortBindings"] == {
        "80/tcp": [{"HostIp": "", "HostPort": "8080"}]}
    assert not any("/attach" in r[1] for r in d.requests)


def test_flag_errors_exit_125(daemon):
    d = daemon(Scenario())
    out = run_cli(d.host, "run", "--nope", "busybox")
    assert out.returncode == 125
    assert out.stderr.decode().startswith("unknown flag: --nope\n\nUsage:  dockyard run")
    out = run_cli(d.host, "run", "--rm", "--restart", "always", "busybox")
    assert out.returncode == 125
    assert "conflicting options" in out.stderr.decode().lower()
    assert d.requests == []   # nothing reached the daemon


def test_unreachable_daemon_exits_125_for_run(tmp_path):
    out = run_cli(f"unix://{tmp_path}/none.sock", "run", "busybox")
    assert out.returncode == 125
    assert "Cannot connect to the dockyard daemon" in out.stderr.decode()
    out = run_cli(f"unix://{tmp_path}/none.sock", "ps")
    assert out.returncode == 1


def test_run_path_imports_stay_light(daemon):
    """The modules `dockyard run` loads: no argparse, re, enum, json, dataclasses."""
    d = daemon(Scenario())
    code = ("import sys, runpy; sys.argv = ['dockyard', 'run', '--rm', 'busybox', 'true'];"
            "from dockyard.cli import main\n"
            "try:\n    main.main()\nfinally:\n"
            "    bad = [m for m in ('argparse', 're', 'enum', 'json', 'dataclasses', "
            "'typing', 'http.client', 'socket', 'subprocess') if m in sys.modules]\n"
            "    sys.stderr.write('HEAVY:%r' % bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         env={**os.environ, "DOCKYARD_HOST": d.host}, timeout=30)
    assert b"HEAVY:[]" in out.stderr, out.stderr
