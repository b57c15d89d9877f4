"""docker-py (the real client library) against dockyardd's containers: run with
detach, ports, environment, labels, restart_policy and name; list with filters;
logs; wait; stop; remove; the foreground run's output and errors."""

from __future__ import annotations

import socket
import time
import urllib.request

import docker  # a declared test dependency: missing is a failure, not a skip
import pytest

from tests.integration.daemon.harness import short_workdir
from tests.interop.network.netdaemon import network_daemon

pytestmark = pytest.mark.interop


@pytest.fixture
def client(tmp_path_factory):
    with network_daemon(short_workdir(tmp_path_factory, "dpy")) as (d, _env):
        c = docker.DockerClient(base_url=d.host, version="auto")
        try:
            yield c
        finally:
            c.close()


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_run_detached_with_options(client):
    port = free_port()
    c = client.containers.run(
        "busybox", ["sh", "-c", "echo $GREETING; mkdir -p /www; echo page > /www/index.html; "
                    "httpd -f -p 80 -h /www"],
        detach=True, name="pyweb", environment={"GREETING": "hello-py"},
        labels={"app": "web", "tier": "front"}, ports={"80/tcp": ("127.0.0.1", port)},
        restart_policy={"Name": "on-failure", "MaximumRetryCount": 3})
    c.reload()
    assert c.name == "pyweb" and c.status == "running"
    assert c.labels == {"app": "web", "tier": "front"}
    assert c.attrs["HostConfig"]["RestartPolicy"] == {"Name": "on-failure",
                                                      "MaximumRetryCount": 3}
    assert "GREETING=hello-py" in c.attrs["Config"]["Env"]
    deadline = time.monotonic() + 10
    body = b""
    while time.monotonic() < deadline:
        try:
            body = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()
            break
        except OSError:
            time.sleep(0.2)
    assert body == b"page\n"
    assert b"hello-py" in c.logs()
    assert [x.name for x in client.containers.list(filters={"label": "app=web"})] == ["pyweb"]
    assert client.containers.list(filters={"label": "app=db"}) == []
    assert [x.id for x in client.containers.list(filters={"name": "pyweb"})] == [c.id]
    c.stop(timeout=2)
    c.reload()
    assert c.status == "exited"
    assert client.containers.list() == []
    assert [x.id for x in client.containers.list(all=True, filters={"status": "exited"})] \
        == [c.id]
    c.remove()
    with pytest.raises(docker.errors.NotFound):
        client.containers.get("pyweb")


def test_run_foreground_wait_and_errors(client):
    out = client.containers.run("busybox", ["echo", "fg"], network_mode="none", remove=True)
    assert out == b"fg\n"
    with pytest.raises(docker.errors.ContainerError) as e:
        client.containers.run("busybox", ["sh", "-c", "echo oops >&2; exit 3"],
                              network_mode="none", remove=True)
    assert e.value.exit_status == 3
    with pytest.raises(docker.errors.ImageNotFound):
        client.containers.create("no-such-image:1", ["true"])   # (run would try a pull)
    c = client.containers.create("busybox", ["sh", "-c", "exit 4"], network_mode="none")
    c.start()
    assert c.wait() == {"StatusCode": 4, "Error": None}
    assert client.api.inspect_container(c.id)["State"]["ExitCode"] == 4
    c.remove(force=True)


def test_logs_stream_and_kill(client):
    c = client.containers.run("busybox", ["sh", "-c", "for i in 1 2 3; do echo l$i; "
                                          "sleep 0.2; done; sleep 100"],
                              detach=True, network_mode="none")
    got = []
    for chunk in c.logs(stream=True, follow=True):
        got.append(chunk)
        if b"l3" in b"".join(got):
            break
    assert b"".join(got) == b"l1\nl2\nl3\n"
    c.kill()
    assert c.wait()["StatusCode"] == 137
    c.remove()
