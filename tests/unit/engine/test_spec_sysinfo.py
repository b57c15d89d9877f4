"""adapt_resources drops what the host cannot enforce, with dockerd's warnings."""

from __future__ import annotations

from dockyard.engine.spec_sysinfo import CgroupFeatures, adapt_resources, detect_features

MB = 1024 * 1024
NOTHING = CgroupFeatures(**{k: False for k in CgroupFeatures.__dataclass_fields__})


def test_everything_supported_changes_nothing_but_swappiness_minus_one():
    hc = {"Memory": 64 * MB, "BlkioWeight": 300, "MemorySwappiness": -1, "PidsLimit": 5}
    out, warnings = adapt_resources(hc, CgroupFeatures())
    assert warnings == []
    assert out == {**hc, "MemorySwappiness": None}
    assert hc["MemorySwappiness"] == -1  # input untouched


def test_unsupported_options_are_dropped_with_warnings():
    hc = {"Memory": 64 * MB, "MemorySwap": 128 * MB, "MemorySwappiness": 10,
          "MemoryReservation": 32 * MB, "KernelMemory": 32 * MB, "OomKillDisable": True,
          "PidsLimit": 9, "CpuShares": 5, "CpuPeriod": 1000, "CpuQuota": 1000,
          "CpuPercent": 5, "CpusetCpus": "0", "BlkioWeight": 300,
          "BlkioDeviceReadBps": [{"Path": "/dev/sda", "Rate": 1}]}
    out, warnings = adapt_resources(hc, NOTHING)
    assert out["Memory"] == 0 and out["MemorySwap"] == -1
    assert out["MemorySwappiness"] is None and out["MemoryReservation"] == 0
    assert out["KernelMemory"] == 0 and out["OomKillDisable"] is None
    assert out["PidsLimit"] is None and out["CpuShares"] == 0
    assert out["CpuPeriod"] == 0 and out["CpuQuota"] == 0 and out["CpuPercent"] == 0
    assert out["CpusetCpus"] == "" and out["BlkioWeight"] == 0
    assert out["BlkioDeviceReadBps"] == []
    text = "\n".join(warnings)
    assert "Block I/O weight or the cgroup is not mounted. Weight discarded." in text
    assert "Memory limit" not in text and "memory limit capabilities" in text
    assert "Specifying a kernel memory limit is deprecated" in text
    assert len(warnings) >= 12


def test_swap_without_swap_accounting_is_unlimited():
    out, warnings = adapt_resources({"Memory": 64 * MB, "MemorySwap": 128 * MB},
                                    CgroupFeatures(swap_limit=False))
    assert out["MemorySwap"] == -1
    assert warnings == ["Your kernel does not support swap limit capabilities or the cgroup "
                        "is not mounted. Memory limited without swap."]


def test_oom_kill_disable_without_memory_limit_warns():
    out, warnings = adapt_resources({"OomKillDisable": True}, CgroupFeatures())
    assert out["OomKillDisable"] is True and "OOM killer is disabled" in warnings[0]


def test_detect_v1_and_v2_layouts(tmp_path):
    v1 = tmp_path / "v1"
    (v1 / "memory").mkdir(parents=True)
    (v1 / "memory" / "memory.swappiness").write_text("60")
    (v1 / "cpu,cpuacct").mkdir()
    (v1 / "cpu,cpuacct" / "cpu.cfs_quota_us").write_text("-1")
    f = detect_features(str(v1))
    assert f.memory_limit and f.memory_swappiness and f.cpu_cfs
    assert not f.swap_limit and not f.blkio_weight and not f.pids_limit
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    f = detect_features(str(v2))
    assert f.memory_limit and f.pids_limit and f.blkio_weight and f.cpu_cfs
    assert not f.memory_swappiness and not f.kernel_memory
