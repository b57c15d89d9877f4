"""top: the host's ps narrowed to the container's cgroup, exec'd processes included."""

from __future__ import annotations

import asyncio
import http.client
import json

import pytest

from dockyard.daemon.events import EventBus
from dockyard.engine.top import container_top
from tests.conftest import require_root
from tests.integration.engine.test_exec_harness import (
    ApiServer,
    runtime_container,
    service_for,
)


@pytest.fixture
def container(runtime_cmd, busybox_rootfs, container_id, tmp_path):
    require_root()
    with runtime_container(runtime_cmd, busybox_rootfs, container_id,
                           tmp_path / "runtime") as c:
        yield c


def test_top_lists_the_containers_processes_only(container):
    got = container_top(container.pid, "")
    assert got["Titles"] == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    assert [(p[1], p[-1]) for p in got["Processes"]] == [(str(container.pid), "sleep 300")]
    aux = container_top(container.pid, "aux")
    assert aux["Titles"][:2] == ["USER", "PID"] and len(aux["Processes"]) == 1
    # a detached exec shows up too
    svc = service_for(container)

    async def spawn():
        exec_id = await svc.create(container.id, {"Cmd": ["sleep", "7"]})
        await svc.start(exec_id, detach=True)
        for _ in range(100):
            if svc.inspect(exec_id)["Pid"]:
                break
            await asyncio.sleep(0.02)
        got = container_top(container.pid, "-o pid,args")
        await svc.close()
        await asyncio.wait_for(svc.wait(exec_id), 10)
        return got

    got = asyncio.run(spawn())
    assert got["Titles"] == ["PID", "COMMAND"]
    assert sorted(p[1] for p in got["Processes"]) == ["sleep 300", "sleep 7"]


def test_top_endpoint(container, tmp_path):
    events = EventBus()
    with ApiServer(service_for(container, events=events), tmp_path / "api.sock") as server:
        conn = http.client.HTTPConnection("docker", timeout=30)
        conn.sock = server.raw()
        conn.request("GET", f"/containers/{container.id}/top?ps_args=-o%20pid,comm")
        resp = conn.getresponse()
        assert resp.status == 200
        assert json.loads(resp.read()) == {"Processes": [[str(container.pid), "sleep"]],
                                           "Titles": ["PID", "COMMAND"]}
        conn.close()
        conn = http.client.HTTPConnection("docker", timeout=30)
        conn.sock = server.raw()
        conn.request("GET", f"/containers/{container.id}/top?ps_args=--no-such-flag")
        resp = conn.getresponse()
        assert resp.status == 400 and b"Error running ps" in resp.read()
    assert [e.action for e in events.history(None, None)] == ["top"]
    with ApiServer(service_for(container, status="exited"), tmp_path / "b.sock") as server:
        conn = http.client.HTTPConnection("docker", timeout=30)
        conn.sock = server.raw()
        conn.request("GET", f"/containers/{container.id}/top")
        resp = conn.getresponse()
        assert resp.status == 409
        assert json.loads(resp.read())["message"] == f"Container {container.id} is not running"
