"""linux.resources: validation, unit conversions and the exact v1/v2 file writes."""

from __future__ import annotations

import pytest

from dockyard.errors import InvalidArgument, Unavailable
from dockyard.runtime.cgroups import validate
from dockyard.runtime.cgroups.resources import (
    DeviceRule,
    blkio_weight_to_io_weight,
    parse_rules,
    shares_to_weight,
    swap_to_v2,
)
from dockyard.runtime.cgroups.v1 import rule_lines, v1_writes
from dockyard.runtime.cgroups.v2 import v2_writes


@pytest.mark.parametrize(("shares", "weight"), [
    (0, 0), (2, 1), (1024, 39), (512, 20), (262144, 10000), (1, 1), (10**6, 10000)])
def test_shares_to_weight_matches_runc(shares: int, weight: int) -> None:
    assert shares_to_weight(shares) == weight


def test_blkio_weight_to_io_weight() -> None:
    assert blkio_weight_to_io_weight(0) == 0
    assert blkio_weight_to_io_weight(10) == 1
    assert blkio_weight_to_io_weight(500) == 4950
    assert blkio_weight_to_io_weight(1000) == 10000


def test_swap_to_v2_subtracts_the_memory_limit() -> None:
    assert swap_to_v2(100, 300) == 200
    assert swap_to_v2(100, -1) == -1
    assert swap_to_v2(100, None) is None
    for limit, swap in ((100, 50), (-1, 300), (None, 300)):
        with pytest.raises(InvalidArgument):
            swap_to_v2(limit, swap)


@pytest.mark.parametrize(("resources", "path"), [
    ({"memory": {"limit": "1g"}}, "linux.resources.memory.limit"),
    ({"memory": {"swappiness": 101}}, "linux.resources.memory.swappiness"),
    ({"memory": {"limit": 200, "swap": 100}}, "linux.resources.memory.swap"),
    ({"cpu": {"cpus": "0-a"}}, "linux.resources.cpu.cpus"),
    ({"cpu": {"period": 10}}, "linux.resources.cpu.period"),
    ({"blockIO": {"weight": 5}}, "linux.resources.blockIO.weight"),
    ({"blockIO": {"throttleReadBpsDevice": [{"major": 8}]}},
     "linux.resources.blockIO.throttleReadBpsDevice[0]"),
    ({"hugepageLimits": [{"pageSize": "2M", "limit": 1}]},
     "linux.resources.hugepageLimits[0].pageSize"),
    ({"devices": [{"allow": True, "type": "x"}]}, "linux.resources.devices[0].type"),
    ({"devices": [{"allow": True, "access": "rwx"}]}, "linux.resources.devices[0].access"),
    ({"devices": [{"type": "c"}]}, "linux.resources.devices[0].allow"),
    ({"unified": {"../x": "1"}}, "linux.resources.unified"),
    ({"pids": {"limit": True}}, "linux.resources.pids.limit"),
])
def test_validate_names_the_bad_json_path(resources: dict, path: str) -> None:
    with pytest.raises(InvalidArgument, match=path.replace("[", r"\[").replace("]", r"\]")):
        validate(resources)


def test_validate_accepts_a_full_valid_section() -> None:
    validate(FULL)


FULL = {
    "memory": {"limit": 1 << 30, "reservation": 1 << 29, "swap": 2 << 30,
               "kernelTCP": 1 << 20, "swappiness": 10, "disableOOMKiller": True},
    "cpu": {"shares": 512, "quota": 50000, "period": 100000, "realtimeRuntime": 0,
            "cpus": "0-1", "mems": "0", "idle": 0},
    "pids": {"limit": 32},
    "blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1000}],
                "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 0}]},
    "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
    "devices": [{"allow": False, "access": "rwm"},
                {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"}],
}


def test_v1_writes_in_order() -> None:
    assert v1_writes(FULL, current_memsw=-1) == [
        ("memory.limit_in_bytes", str(1 << 30)),
        ("memory.memsw.limit_in_bytes", str(2 << 30)),
        ("memory.soft_limit_in_bytes", str(1 << 29)),
        ("memory.kmem.tcp.limit_in_bytes", str(1 << 20)),
        ("memory.swappiness", "10"),
        ("memory.oom_control", "1"),
        ("cpu.shares", "512"),
        ("cpu.cfs_period_us", "100000"),
        ("cpu.cfs_quota_us", "50000"),
        ("cpu.idle", "0"),
        ("cpuset.cpus", "0-1"),
        ("cpuset.mems", "0"),
        ("pids.max", "32"),
        ("blkio.throttle.read_bps_device", "8:0 1000"),
        ("blkio.throttle.write_iops_device", "8:0 0"),
        ("hugetlb.2MB.limit_in_bytes", "4194304"),
    ]


def test_v1_memsw_goes_first_when_raising_above_the_current_one() -> None:
    writes = v1_writes({"memory": {"limit": 100, "swap": 300}}, current_memsw=200)
    assert [w[0] for w in writes] == ["memory.memsw.limit_in_bytes", "memory.limit_in_bytes"]
    writes = v1_writes({"memory": {"limit": 100, "swap": 150}}, current_memsw=200)
    assert [w[0] for w in writes] == ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]


def test_v1_optional_blkio_and_network_files() -> None:
    res = {"blockIO": {"weight": 500, "leafWeight": 300,
                       "weightDevice": [{"major": 8, "minor": 0, "weight": 200}]},
           "network": {"classID": 0x100001, "priorities": [{"name": "eth0", "priority": 5}]},
           "pids": {"limit": -1}}
    assert v1_writes(res) == [
        ("pids.max", "max"),
        ("blkio.weight", "500"), ("blkio.leaf_weight", "300"),
        ("blkio.weight_device", "8:0 200"),
        ("net_cls.classid", str(0x100001)), ("net_prio.ifpriomap", "eth0 5"),
    ]


def test_v1_refuses_unified_settings() -> None:
    with pytest.raises(InvalidArgument, match="unified"):
        v1_writes({"unified": {"memory.high": "1G"}})
    assert v1_writes({"unified": {}}) == []


def test_v2_writes_in_order() -> None:
    assert v2_writes(FULL, has=lambda name: False) == [
        ("memory.swap.max", str(1 << 30)),
        ("memory.max", str(1 << 30)),
        ("memory.low", str(1 << 29)),
        ("cpu.weight", "20"),
        ("cpu.max", "50000 100000"),
        ("cpu.idle", "0"),
        ("cpuset.cpus", "0-1"),
        ("cpuset.mems", "0"),
        ("pids.max", "32"),
        ("io.max", "8:0 rbps=1000"),
        ("io.max", "8:0 wiops=max"),
        ("hugetlb.2MB.max", "4194304"),
    ]


def test_v2_cpu_max_and_io_weight_variants() -> None:
    assert v2_writes({"cpu": {"quota": -1, "period": 50000}}) == [("cpu.max", "max 50000")]
    assert v2_writes({"cpu": {"quota": 20000}}) == [("cpu.max", "20000")]
    assert v2_writes({"blockIO": {"weight": 500}}, has=lambda n: False) == \
        [("io.weight", "default 4950")]
    assert v2_writes({"blockIO": {"weight": 500}}, has=lambda n: n == "io.bfq.weight") == \
        [("io.bfq.weight", "500")]
    assert v2_writes({"unified": {"memory.high": "1G"}}) == [("memory.high", "1G")]


def test_v2_refuses_what_it_cannot_do() -> None:
    with pytest.raises(Unavailable, match="real-time"):
        v2_writes({"cpu": {"realtimeRuntime": 1000}})
    with pytest.raises(Unavailable, match="net_cls"):
        v2_writes({"network": {"classID": 1}})


def test_device_rules_and_v1_lines_keep_the_spec_order() -> None:
    rules = parse_rules([
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "wr"},
        {"allow": True, "type": "b", "major": 8, "access": "m"},
        {"allow": False, "type": "c", "minor": 5},
    ])
    assert rules[1] == DeviceRule(True, "c", 1, 3, "rw")
    assert rule_lines(rules) == [
        ("devices.deny", "a"), ("devices.deny", "a"),
        ("devices.allow", "c 1:3 rw"), ("devices.allow", "b 8:* m"),
        ("devices.deny", "c *:5 rwm"),
    ]


def test_v1_device_rules_are_written_one_per_write_on_open_files(tmp_path) -> None:
    from dockyard.runtime.cgroups.v1 import apply_device_rules as apply_rules

    (tmp_path / "devices.allow").write_text("")
    (tmp_path / "devices.deny").write_text("")
    apply_rules(str(tmp_path), parse_rules([
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
        {"allow": True, "type": "c", "major": 136, "access": "rw"}]))
    # a plain file keeps every write back to back (cgroupfs parses each one)
    assert (tmp_path / "devices.allow").read_text() == "c 1:3 rwmc 136:* rw"
    assert (tmp_path / "devices.deny").read_text() == "aa"


def test_v1_device_rules_without_the_controller_files_fail_clearly(tmp_path) -> None:
    from dockyard.runtime.cgroups.v1 import apply_device_rules as apply_rules

    with pytest.raises(Unavailable, match=r"devices\.deny"):
        apply_rules(str(tmp_path), parse_rules([{"allow": False}]))
