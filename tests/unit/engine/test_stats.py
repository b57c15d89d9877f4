"""Docker's stats JSON from fixture cgroup files (v1 and v2), and the docker CLI's math."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockyard.engine import stats as st
from dockyard.runtime.cgroups.stats import read_v1, read_v2

V1_MEMORY_STAT = """cache 86016
rss 73883648
rss_huge 67108864
mapped_file 32768
inactive_anon 4096
active_anon 73928704
inactive_file 32768
active_file 4096
hierarchical_memory_limit 9223372036854771712
total_cache 86016
total_rss 73883648
total_inactive_file 32768
total_active_file 4096
"""

PROC_STAT = """cpu  2255 34 2290 22625563 6290 127 456 0 0 0
cpu0 1132 0 1180 11317917 4140 0 447 0 0 0
intr 114930548 113199788 3 0 5 263 0 4 [...]
"""

NET_DEV = "\n".join([
    "Inter-|   Receive                                                |  Transmit",
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets "
    "errs drop fifo colls carrier compressed",
    "    lo:     100       2    0    0    0     0          0         0      100       2 "
    "   0    0    0     0       0          0",
    "  eth0:    1296      16    1    2    0     0          0         0      656       8 "
    "   3    4    0     0       0          0",
    ""])

# The keys dockerd 20.10 answered on this machine (cgroup v1), for shape checks.
DOCKER_TOP_KEYS = ["read", "preread", "pids_stats", "blkio_stats", "num_procs",
                   "storage_stats", "cpu_stats", "precpu_stats", "memory_stats", "name",
                   "id"]


def _v1_tree(root: Path, usage: int = 74000000, cpu_total: int = 4_000_000_000) -> dict:
    mem, acct, cpu, pids, blk = (root / n for n in ("memory", "cpuacct", "cpu", "pids",
                                                     "blkio"))
    for d in (mem, acct, cpu, pids, blk):
        d.mkdir(parents=True, exist_ok=True)
    (mem / "memory.stat").write_text(V1_MEMORY_STAT)
    (mem / "memory.usage_in_bytes").write_text(f"{usage}\n")
    (mem / "memory.max_usage_in_bytes").write_text("74600448\n")
    (mem / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    (mem / "memory.failcnt").write_text("0\n")
    (acct / "cpuacct.usage").write_text(f"{cpu_total}\n")
    (acct / "cpuacct.usage_percpu").write_text(f"{cpu_total - 1000} 1000\n")
    (acct / "cpuacct.stat").write_text("user 405\nsystem 2\n")
    (cpu / "cpu.stat").write_text("nr_periods 10\nnr_throttled 2\nthrottled_time 5000\n")
    (pids / "pids.current").write_text("3\n")
    (pids / "pids.max").write_text("max\n")
    (blk / "blkio.throttle.io_service_bytes_recursive").write_text(
        "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Async 12288\n8:0 Total 12288\n"
        "Total 12288\n")
    (blk / "blkio.throttle.io_serviced_recursive").write_text("8:0 Read 1\n8:0 Write 2\n")
    return {"memory": str(mem), "cpuacct": str(acct), "cpu": str(cpu), "pids": str(pids),
            "blkio": str(blk)}


def _v2_tree(root: Path) -> str:
    root.mkdir(parents=True, exist_ok=True)
    (root / "memory.current").write_text("5000000\n")
    (root / "memory.peak").write_text("6000000\n")
    (root / "memory.max").write_text("268435456\n")
    (root / "memory.stat").write_text("anon 3000000\nfile 1500000\ninactive_file 1000000\n"
                                      "active_file 500000\n")
    (root / "memory.events").write_text("low 0\nhigh 0\nmax 0\noom 0\n")
    (root / "cpu.stat").write_text("usage_usec 2500000\nuser_usec 2000000\n"
                                   "system_usec 500000\nnr_periods 0\nnr_throttled 0\n"
                                   "throttled_usec 0\n")
    (root / "pids.current").write_text("2\n")
    (root / "pids.max").write_text("100\n")
    (root / "io.stat").write_text("8:0 rbytes=4096 wbytes=1024 rios=1 wios=1 dbytes=0 dios=0\n")
    return str(root)


def _sample(cg, version: int, read_ns: int, system_ns: int, networks=None) -> st.Sample:
    return st.Sample(read_ns, cg, version, system_ns, 2, networks, 8 << 30)


def test_v1_document_has_dockers_shape_and_values(tmp_path):
    cg = read_v1(_v1_tree(tmp_path))
    cur = _sample(cg, 1, 1_700_000_001_500_000_000, 20_000_000_000,
                  st.parse_net_dev(NET_DEV))
    doc = st.document("c" * 64, "web", cur, None)
    assert list(doc)[:len(DOCKER_TOP_KEYS)] == DOCKER_TOP_KEYS
    assert doc["name"] == "/web" and doc["id"] == "c" * 64
    assert doc["read"] == "2023-11-14T22:13:21.5Z"
    assert doc["preread"] == st.ZERO_TIME
    assert doc["pids_stats"] == {"current": 3}          # no limit: left out, like dockerd
    usage = doc["cpu_stats"]["cpu_usage"]
    assert usage == {"total_usage": 4_000_000_000, "percpu_usage": [3_999_999_000, 1000],
                     "usage_in_kernelmode": 20_000_000, "usage_in_usermode": 4_050_000_000}
    assert doc["cpu_stats"]["system_cpu_usage"] == 20_000_000_000
    assert doc["cpu_stats"]["online_cpus"] == 2
    assert doc["cpu_stats"]["throttling_data"] == {"periods": 10, "throttled_periods": 2,
                                                   "throttled_time": 5000}
    assert doc["precpu_stats"] == st.cpu_stats(None)
    mem = doc["memory_stats"]
    assert mem["usage"] == 74000000 and mem["max_usage"] == 74600448
    assert "failcnt" not in mem                          # omitempty
    assert mem["limit"] == 8 << 30                       # unlimited -> host memory
    assert mem["stats"]["total_inactive_file"] == 32768
    blk = doc["blkio_stats"]
    assert set(blk) == set(st.BLKIO_KEYS)
    assert {"major": 8, "minor": 0, "op": "Read", "value": 4096} in \
        blk["io_service_bytes_recursive"]
    assert blk["io_queue_recursive"] == []
    assert doc["networks"] == {"eth0": {"rx_bytes": 1296, "rx_packets": 16, "rx_errors": 1,
                                        "rx_dropped": 2, "tx_bytes": 656, "tx_packets": 8,
                                        "tx_errors": 3, "tx_dropped": 4}}
    json.dumps(doc)


def test_v2_document_leaves_out_what_v2_has_not(tmp_path):
    cg = read_v2(_v2_tree(tmp_path / "cg"))
    doc = st.document("d" * 64, "/db", _sample(cg, 2, 2_000_000_000, 10_000_000_000), None)
    assert doc["name"] == "/db"
    assert doc["pids_stats"] == {"current": 2, "limit": 100}
    usage = doc["cpu_stats"]["cpu_usage"]
    assert "percpu_usage" not in usage
    assert usage["total_usage"] == 2_500_000_000
    assert usage["usage_in_usermode"] == 2_000_000_000
    assert usage["usage_in_kernelmode"] == 500_000_000
    mem = doc["memory_stats"]
    assert "max_usage" not in mem and "failcnt" not in mem
    assert mem["limit"] == 268435456 and mem["usage"] == 5000000
    assert mem["stats"]["inactive_file"] == 1000000
    assert doc["blkio_stats"]["io_service_bytes_recursive"] == [
        {"major": 8, "minor": 0, "op": "read", "value": 4096},
        {"major": 8, "minor": 0, "op": "write", "value": 1024}]
    assert "networks" not in doc


def test_cpu_percent_is_the_docker_cli_formula(tmp_path):
    before = _sample(read_v1(_v1_tree(tmp_path / "a", cpu_total=1_000_000_000)), 1,
                     1_000_000_000, 100_000_000_000)
    after = _sample(read_v1(_v1_tree(tmp_path / "b", cpu_total=1_500_000_000)), 1,
                    2_000_000_000, 102_000_000_000)
    doc = st.document("x", "x", after, before)
    # 0.5 s of CPU over 2 s of host time on 2 CPUs -> 50 %
    assert st.cpu_percent(doc) == pytest.approx(50.0)
    assert doc["preread"] == "1970-01-01T00:00:01Z"
    # no previous sample: 0 %, as the CLI shows for a one-shot document
    assert st.cpu_percent(st.document("x", "x", after, None)) == pytest.approx(
        1_500_000_000 / 102_000_000_000 * 2 * 100)
    # online_cpus missing: the CLI counts percpu_usage entries
    doc["cpu_stats"].pop("online_cpus")
    assert st.cpu_percent(doc) == pytest.approx(50.0)


def test_memory_usage_without_cache(tmp_path):
    v1 = st.document("x", "x", _sample(read_v1(_v1_tree(tmp_path / "a")), 1, 1, 1), None)
    assert st.memory_usage_no_cache(v1) == 74000000 - 32768
    v2 = st.document("x", "x", _sample(read_v2(_v2_tree(tmp_path / "b")), 2, 1, 1), None)
    assert st.memory_usage_no_cache(v2) == 5000000 - 1000000


def test_zero_document_for_a_stopped_container():
    doc = st.document("e" * 64, "gone", None, None)
    assert doc["read"] == doc["preread"] == st.ZERO_TIME
    assert doc["pids_stats"] == {} and doc["memory_stats"] == {}
    assert doc["blkio_stats"] == dict.fromkeys(st.BLKIO_KEYS)
    assert doc["cpu_stats"]["cpu_usage"] == {"total_usage": 0, "usage_in_kernelmode": 0,
                                             "usage_in_usermode": 0}
    assert st.cpu_percent(doc) == 0.0


def test_system_cpu_usage_sums_seven_fields_in_ns():
    ticks = 2255 + 34 + 2290 + 22625563 + 6290 + 127 + 456
    assert st.system_cpu_usage(PROC_STAT, 100) == ticks * 10_000_000
    with pytest.raises(ValueError):
        st.system_cpu_usage("intr 1 2 3\n")


def test_net_dev_skips_loopback_and_short_lines():
    assert list(st.parse_net_dev(NET_DEV)) == ["eth0"]
    assert st.parse_net_dev(NET_DEV.splitlines()[0] + "\n\nbad: 1 2\n") == {}


def test_rfc3339nano_trims_like_go():
    assert st.rfc3339nano(0) == "1970-01-01T00:00:00Z"
    assert st.rfc3339nano(1_500_000_000) == "1970-01-01T00:00:01.5Z"
    assert st.rfc3339nano(1_000_000_001) == "1970-01-01T00:00:01.000000001Z"


def test_limit_below_host_memory_is_kept(tmp_path):
    paths = _v1_tree(tmp_path)
    Path(paths["memory"], "memory.limit_in_bytes").write_text("104857600\n")
    doc = st.document("x", "x", _sample(read_v1(paths), 1, 1, 1), None)
    assert doc["memory_stats"]["limit"] == 104857600
