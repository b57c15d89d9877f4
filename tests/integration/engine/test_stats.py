"""stats from a real container's cgroup: the numbers move under load, and the
HTTP endpoint streams documents a second apart (dockerd's shape)."""

from __future__ import annotations

import http.client
import json
import time

import pytest

from dockyard.engine import stats as st
from tests.conftest import require_root
from tests.integration.engine.test_exec_harness import (
    ApiServer,
    runtime_container,
    service_for,
)


@pytest.fixture
def busy(runtime_cmd, busybox_rootfs, container_id, tmp_path):
    require_root()
    # one busy loop, and 8 MiB of memory held in a shell variable
    script = "x=$(head -c 8388608 /dev/zero | tr '\\0' a); while :; do :; done"
    with runtime_container(runtime_cmd, busybox_rootfs, container_id, tmp_path / "runtime",
                           args=["sh", "-c", script]) as c:
        yield c


def test_numbers_move_under_load(busy):
    sampler = st.sampler_for(busy.id, "busy", busy.pid)
    first = sampler.next_document()
    time.sleep(1.0)
    doc = sampler.next_document()
    assert doc["preread"] == first["read"]
    assert doc["cpu_stats"]["cpu_usage"]["total_usage"] > \
        doc["precpu_stats"]["cpu_usage"]["total_usage"]
    assert doc["cpu_stats"]["system_cpu_usage"] > doc["precpu_stats"]["system_cpu_usage"]
    # (one core spinning shows ~100 %; other tests may load the 2 cores heavily)
    assert 5.0 < st.cpu_percent(doc) < 230.0, st.cpu_percent(doc)
    assert st.memory_usage_no_cache(doc) > 8 << 20
    assert doc["memory_stats"]["limit"] > 0
    assert doc["pids_stats"]["current"] >= 1
    assert doc["name"] == "/busy" and doc["id"] == busy.id
    assert doc["cpu_stats"]["online_cpus"] >= 1
    # its own network namespace with only loopback: no "networks", like --network none
    assert "networks" not in doc
    # an interface appears (in the container's netns, gone with it): counters show up
    import subprocess

    subprocess.run(["nsenter", "-t", str(busy.pid), "-n", "sh", "-c",
                    "ip link add eth0 type veth peer name eth1 && ip link set eth1 up && "
                    "ip link set eth0 up && "
                    "ip addr add 10.99.0.1/24 dev eth0"], check=True)
    import sys

    subprocess.run(["nsenter", "-t", str(busy.pid), "-n", sys.executable, "-c",
                    "import socket, time; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)"
                    "; s.sendto(b'x', ('10.99.0.2', 9)); time.sleep(0.3)"], check=True)
    doc = sampler.next_document()
    assert set(doc["networks"]) == {"eth0", "eth1"}
    assert set(doc["networks"]["eth0"]) == set(st.NET_KEYS)
    assert doc["networks"]["eth0"]["tx_packets"] >= 1


def _get(server, path: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("docker", timeout=30)
    conn.sock = server.raw()
    conn.request("GET", path)
    resp = conn.getresponse()
    resp.conn = conn  # closed with the response below
    return resp


def test_stats_endpoint_modes(busy, tmp_path):
    svc = service_for(busy)
    with ApiServer(svc, tmp_path / "api.sock") as server:
        t0 = time.monotonic()
        doc = json.loads(_get(server, f"/containers/{busy.id}/stats?stream=false").read())
        assert time.monotonic() - t0 >= 0.9      # two samples a second apart
        assert doc["preread"] != st.ZERO_TIME and st.cpu_percent(doc) > 5.0
        doc = json.loads(_get(server, f"/v1.41/containers/{busy.id}/stats?stream=0&"
                                      "one-shot=1").read())
        assert doc["preread"] == st.ZERO_TIME
        resp = _get(server, f"/containers/{busy.id}/stats?stream=1&one-shot=1")
        assert resp.status == 400
        resp = _get(server, f"/containers/{busy.id}/stats")
        assert resp.status == 200
        docs = [json.loads(resp.readline()) for _ in range(3)]
        resp.close()
        resp.conn.close()
        assert docs[1]["preread"] == docs[0]["read"]
        assert docs[2]["cpu_stats"]["cpu_usage"]["total_usage"] > \
            docs[1]["cpu_stats"]["cpu_usage"]["total_usage"]
        # a stopped container: dockerd's zero document
        server.service = svc
        stopped = service_for(busy, status="exited")
        with ApiServer(stopped, tmp_path / "api2.sock") as other:
            doc = json.loads(_get(other, f"/containers/{busy.id}/stats?stream=false").read())
            assert doc["read"] == st.ZERO_TIME and doc["memory_stats"] == {}
            resp = _get(other, f"/containers/{busy.id}/stats")    # dockerd: zeros, on
            docs = [json.loads(resp.readline()) for _ in range(2)]
            resp.close()
            resp.conn.close()
            assert [d["read"] for d in docs] == [st.ZERO_TIME] * 2
