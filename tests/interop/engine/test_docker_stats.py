"""docker stats --no-stream and docker-py's stats(stream=False) against dockyardd."""

from __future__ import annotations

import re

import pytest

from tests.integration.daemon.harness import short_workdir
from tests.integration.engine.engined import engine_daemon
from tests.interop.engine.test_docker_exec import docker


@pytest.fixture
def eng(tmp_path_factory):
    with engine_daemon(short_workdir(tmp_path_factory, "st")) as e:
        yield e


def _size(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)([KMGT]?i?B)", text.strip())
    assert m, text
    mult = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}
    return float(m.group(1)) * mult[m.group(2)]


def test_docker_stats_no_stream_shows_sane_numbers(eng):
    busy = eng.run(["sh", "-c", "x=$(head -c 8388608 /dev/zero | tr '\\0' a); "
                                "while :; do :; done"], name="busybee")
    idle = eng.run(["sleep", "300"], name="idler")
    r = docker(eng, "stats", "--no-stream", "--format",
               "{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.MemPerc}}|{{.PIDs}}", busy, idle)
    assert r.returncode == 0, r.stderr
    rows = {line.split("|")[0]: line.split("|") for line in r.stdout.splitlines()}
    _, cpu, mem, memperc, pids = rows["busybee"]
    assert 5.0 < float(cpu.rstrip("%")) < 230.0, r.stdout
    used, limit = (_size(x) for x in mem.split(" / "))
    assert used > 8 << 20 and limit > used
    assert float(memperc.rstrip("%")) >= 0 and int(pids) >= 1
    _, idle_cpu, mem, _, _ = rows["idler"]
    assert float(idle_cpu.rstrip("%")) < float(cpu.rstrip("%"))
    r = docker(eng, "stats", "--no-stream", busy)
    header = r.stdout.splitlines()[0].split()
    assert header[:4] == ["CONTAINER", "ID", "NAME", "CPU"], r.stdout


def test_docker_py_stats_and_top(eng):
    import docker as dockerpy

    cid = eng.run(["sleep", "300"], name="topped",
                  HostConfig={"NetworkMode": "none", "Memory": 64 << 20})
    client = dockerpy.DockerClient(base_url=eng.d.host, version="1.41", timeout=60)
    try:
        c = client.containers.get(cid)
        s = c.stats(stream=False)
        assert s["id"] == cid and s["name"] == "/topped"
        assert s["cpu_stats"]["cpu_usage"]["total_usage"] > 0
        assert s["precpu_stats"]["cpu_usage"]["total_usage"] > 0
        assert s["memory_stats"]["usage"] > 0
        assert s["memory_stats"]["limit"] == 64 << 20
        t = c.top()
        assert t["Titles"][1] == "PID"
        assert [p[-1] for p in t["Processes"]] == ["sleep 300"]
    finally:
        client.close()


def test_docker_stats_streams(eng):
    import subprocess
    import time

    from tests.support.dockerd import DOCKER_CLI

    cid = eng.run(["sleep", "300"], name="streamed")
    proc = subprocess.Popen([DOCKER_CLI, "-H", eng.d.host, "stats", "--format",
                             "{{.Name}} {{.MemUsage}}", cid], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(5)
    proc.terminate()
    out, err = proc.communicate(timeout=10)
    rows = [line for line in out.replace("\x1b[2J\x1b[H", "\n").splitlines()
            if line.strip().endswith("B") and "streamed" in line]
    assert len(rows) >= 2, (out, err)


def test_stats_networks_on_the_default_bridge(eng):
    import docker as dockerpy

    cid = eng.run(["sleep", "300"], HostConfig={"NetworkMode": "bridge"})
    client = dockerpy.DockerClient(base_url=eng.d.host, version="1.41", timeout=60)
    try:
        s = client.containers.get(cid).stats(stream=False)
    finally:
        client.close()
    assert set(s["networks"]) == {"eth0"}, s.get("networks")
    assert set(s["networks"]["eth0"]) == {"rx_bytes", "rx_packets", "rx_errors",
                                          "rx_dropped", "tx_bytes", "tx_packets",
                                          "tx_errors", "tx_dropped"}
