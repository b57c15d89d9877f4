"""What the host's cgroups can enforce, and dockerd's "discard with a warning" rule.

dockerd does not refuse a resource option the kernel cannot enforce: it drops it from
the HostConfig it stores and answers the create with a warning (``docker run`` prints
"WARNING: Your kernel does not support ..."). ``adapt_resources`` does the same, with
dockerd's warning texts, so inspect and the config.json show what will really apply.
Features are read from the cgroup files (v1: per-controller hierarchies; v2: the root's
``cgroup.controllers`` and interface files).
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass

__all__ = ["CgroupFeatures", "adapt_resources", "detect_features"]


@dataclass(frozen=True)
class CgroupFeatures:
    memory_limit: bool = True
    swap_limit: bool = True
    memory_reservation: bool = True
    oom_kill_disable: bool = True
    memory_swappiness: bool = True
    kernel_memory: bool = True
    cpu_shares: bool = True
    cpu_cfs: bool = True
    cpu_realtime: bool = True
    cpuset: bool = True
    blkio_weight: bool = True
    blkio_weight_device: bool = True
    blkio_read_bps: bool = True
    blkio_write_bps: bool = True
    blkio_read_iops: bool = True
    blkio_write_iops: bool = True
    pids_limit: bool = True


def _v1(root: str, controller: str, name: str) -> bool:
    for d in (controller, f"{controller},cpuacct", f"cpuacct,{controller}"):
        if os.path.exists(os.path.join(root, d, name)):
            return True
    return False


def detect_features(root: str = "/sys/fs/cgroup") -> CgroupFeatures:
    """The running host's cgroup features (``root`` for tests)."""
    controllers_file = os.path.join(root, "cgroup.controllers")
    if os.path.exists(controllers_file):
        try:
            with open(controllers_file) as f:
                have = set(f.read().split())
        except OSError:
            have = set()
        io = "io" in have
        return CgroupFeatures(
            memory_limit="memory" in have, swap_limit="memory" in have,
            memory_reservation="memory" in have, oom_kill_disable=False,
            memory_swappiness=False, kernel_memory=False, cpu_shares="cpu" in have,
            cpu_cfs="cpu" in have, cpu_realtime=False, cpuset="cpuset" in have,
            blkio_weight=io, blkio_weight_device=io, blkio_read_bps=io,
            blkio_write_bps=io, blkio_read_iops=io, blkio_write_iops=io,
            pids_limit="pids" in have)
    return CgroupFeatures(
        memory_limit=os.path.isdir(os.path.join(root, "memory")),
        swap_limit=_v1(root, "memory", "memory.memsw.limit_in_bytes"),
        memory_reservation=_v1(root, "memory", "memory.soft_limit_in_bytes"),
        oom_kill_disable=_v1(root, "memory", "memory.oom_control"),
        memory_swappiness=_v1(root, "memory", "memory.swappiness"),
        kernel_memory=_v1(root, "memory", "memory.kmem.limit_in_bytes"),
        cpu_shares=_v1(root, "cpu", "cpu.shares"),
        cpu_cfs=_v1(root, "cpu", "cpu.cfs_quota_us"),
        cpu_realtime=_v1(root, "cpu", "cpu.rt_period_us"),
        cpuset=os.path.isdir(os.path.join(root, "cpuset")),
        blkio_weight=_v1(root, "blkio", "blkio.weight"),
        blkio_weight_device=_v1(root, "blkio", "blkio.weight_device"),
        blkio_read_bps=_v1(root, "blkio", "blkio.throttle.read_bps_device"),
        blkio_write_bps=_v1(root, "blkio", "blkio.throttle.write_bps_device"),
        blkio_read_iops=_v1(root, "blkio", "blkio.throttle.read_iops_device"),
        blkio_write_iops=_v1(root, "blkio", "blkio.throttle.write_iops_device"),
        pids_limit=os.path.isdir(os.path.join(root, "pids")))


_KERNEL = "Your kernel does not support "


def adapt_resources(host_config: dict, features: CgroupFeatures | None = None
                    ) -> tuple[dict, list[str]]:
    """(HostConfig without what the host cannot enforce, dockerd's warnings).

    Run it after validate_create and before normalize_host_config, as dockerd does.
    """
    f = features or detect_features()
    hc = copy.deepcopy(host_config or {})
    warn: list[str] = []
    _adapt_memory(hc, f, warn)
    _adapt_cpu(hc, f, warn)
    _adapt_blkio(hc, f, warn)
    return hc, warn


def _adapt_memory(hc: dict, f: CgroupFeatures, warn: list[str]) -> None:
    if (hc.get("MemorySwappiness") or 0) == -1:
        hc["MemorySwappiness"] = None
    if (hc.get("Memory") or 0) > 0 and not f.memory_limit:
        warn.append(_KERNEL + "memory limit capabilities or the cgroup is not mounted. "
                    "Limitation discarded.")
        hc["Memory"], hc["MemorySwap"] = 0, -1
    if (hc.get("Memory") or 0) > 0 and hc.get("MemorySwap", 0) != -1 and not f.swap_limit:
        warn.append(_KERNEL + "swap limit capabilities or the cgroup is not mounted. "
                    "Memory limited without swap.")
        hc["MemorySwap"] = -1
    if hc.get("MemorySwappiness") is not None and not f.memory_swappiness:
        warn.append(_KERNEL + "memory swappiness capabilities or the cgroup is not mounted. "
                    "Memory swappiness discarded.")
        hc["MemorySwappiness"] = None
    if (hc.get("MemoryReservation") or 0) > 0 and not f.memory_reservation:
        warn.append(_KERNEL + "memory soft limit capabilities or the cgroup is not mounted. "
                    "Limitation discarded.")
        hc["MemoryReservation"] = 0
    if (hc.get("KernelMemory") or 0) > 0:
        warn.append("Specifying a kernel memory limit is deprecated and will be removed in "
                    "a future release.")
        if not f.kernel_memory:
            warn.append(_KERNEL + "kernel memory limit capabilities or the cgroup is not "
                        "mounted. Limitation discarded.")
            hc["KernelMemory"] = 0
    if hc.get("OomKillDisable") is not None and not f.oom_kill_disable:
        if hc["OomKillDisable"]:
            warn.append(_KERNEL + "OomKillDisable. OomKillDisable discarded.")
        hc["OomKillDisable"] = None
    if hc.get("OomKillDisable") and not (hc.get("Memory") or 0):
        warn.append("OOM killer is disabled for the container, but no memory limit is set, "
                    "this can result in the system running out of resources.")
    if hc.get("PidsLimit") is not None and not f.pids_limit:
        if hc["PidsLimit"] > 0:
            warn.append(_KERNEL + "PIDs limit capabilities or the cgroup is not mounted. "
                        "PIDs limit discarded.")
        hc["PidsLimit"] = None


def _adapt_cpu(hc: dict, f: CgroupFeatures, warn: list[str]) -> None:
    if (hc.get("CpuShares") or 0) > 0 and not f.cpu_shares:
        warn.append(_KERNEL + "CPU shares or the cgroup is not mounted. Shares discarded.")
        hc["CpuShares"] = 0
    if (hc.get("CpuPeriod") or hc.get("CpuQuota")) and not f.cpu_cfs:
        warn.append(_KERNEL + "CPU CFS scheduler. CPU period/quota discarded.")
        hc["CpuPeriod"] = hc["CpuQuota"] = 0
    if (hc.get("CpuPercent") or 0) > 0:
        warn.append("linux does not support CPU percent. Percent discarded.")
        hc["CpuPercent"] = 0
    if (hc.get("CpusetCpus") or hc.get("CpusetMems")) and not f.cpuset:
        warn.append(_KERNEL + "cpuset or the cgroup is not mounted. Cpuset discarded.")
        hc["CpusetCpus"] = hc["CpusetMems"] = ""


def _adapt_blkio(hc: dict, f: CgroupFeatures, warn: list[str]) -> None:
    if (hc.get("BlkioWeight") or 0) > 0 and not f.blkio_weight:
        warn.append(_KERNEL + "Block I/O weight or the cgroup is not mounted. Weight "
                    "discarded.")
        hc["BlkioWeight"] = 0
    for key, ok, what in (
            ("BlkioWeightDevice", f.blkio_weight_device,
             "Block I/O weight_device or the cgroup is not mounted. Weight-device discarded."),
            ("BlkioDeviceReadBps", f.blkio_read_bps,
             "BPS Block I/O read limit or the cgroup is not mounted. Block I/O BPS read "
             "limit discarded."),
            ("BlkioDeviceWriteBps", f.blkio_write_bps,
             "BPS Block I/O write limit or the cgroup is not mounted. Block I/O BPS write "
             "limit discarded."),
            ("BlkioDeviceReadIOps", f.blkio_read_iops,
             "IOPS Block read limit or the cgroup is not mounted. Block I/O IOPS read limit "
             "discarded."),
            ("BlkioDeviceWriteIOps", f.blkio_write_iops,
             "IOPS Block write limit or the cgroup is not mounted. Block I/O IOPS write "
             "limit discarded.")):
        if hc.get(key) and not ok:
            warn.append(_KERNEL + what)
            hc[key] = []
