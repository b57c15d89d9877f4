"""``linux.resources`` from a HostConfig, with dockerd's conversions.

* memory: Limit/Reservation/Swap only when > 0 (Swap is docker's MemorySwap, the
  memory+swap total, as the runtime spec means it); swappiness when set;
  ``disableOOMKiller`` always (normalized HostConfig has it). KernelMemory is
  deliberately not passed: kernel memory accounting limits are gone from cgroup v2 and
  deprecated on v1 since Linux 5.4, and runc refuses them on newer kernels.
* cpu: ``shares`` always (0 = the runtime's default); NanoCpus becomes quota over a
  100 ms period; CpuPeriod/CpuQuota override; cpuset cpus/mems; realtime pair.
* pids: absent when unset; 0 or negative means unlimited (-1).
* blockIO: weight always; per-device weights and throttles with the device's
  major:minor read from the host path.
"""

from __future__ import annotations

import os
import stat

from dockyard.errors import InvalidArgument

__all__ = ["build_resources"]

NANO_PERIOD = 100_000  # microseconds: the CFS period docker pairs with NanoCpus


def _memory(hc: dict) -> dict:
    mem: dict = {}
    if (hc.get("Memory") or 0) > 0:
        mem["limit"] = hc["Memory"]
    if (hc.get("MemoryReservation") or 0) > 0:
        mem["reservation"] = hc["MemoryReservation"]
    if (hc.get("MemorySwap") or 0) > 0:
        mem["swap"] = hc["MemorySwap"]
    swappiness = hc.get("MemorySwappiness")
    if swappiness is not None and swappiness != -1:
        mem["swappiness"] = swappiness
    if hc.get("OomKillDisable") is not None:
        mem["disableOOMKiller"] = bool(hc["OomKillDisable"])
    return mem


def _cpu(hc: dict) -> dict:
    shares = hc.get("CpuShares") or 0
    if shares < 0:
        raise InvalidArgument("shares: invalid argument")
    cpu: dict = {"shares": shares}
    if hc.get("CpusetCpus"):
        cpu["cpus"] = hc["CpusetCpus"]
    if hc.get("CpusetMems"):
        cpu["mems"] = hc["CpusetMems"]
    nano = hc.get("NanoCpus") or 0
    if nano > 0:
        cpu["period"] = NANO_PERIOD
        cpu["quota"] = nano * NANO_PERIOD // 1_000_000_000
    if hc.get("CpuPeriod"):
        cpu["period"] = hc["CpuPeriod"]
    if hc.get("CpuQuota"):
        cpu["quota"] = hc["CpuQuota"]
    if hc.get("CpuRealtimePeriod"):
        cpu["realtimePeriod"] = hc["CpuRealtimePeriod"]
    if hc.get("CpuRealtimeRuntime"):
        cpu["realtimeRuntime"] = hc["CpuRealtimeRuntime"]
    return cpu


def _major_minor(path: str) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except OSError as e:
        raise InvalidArgument(f"stat {path}: {e.strerror.lower()}") from None
    if not (stat.S_ISBLK(st.st_mode) or stat.S_ISCHR(st.st_mode)):
        raise InvalidArgument(f"{path} is not a device")
    return os.major(st.st_rdev), os.minor(st.st_rdev)


def _throttles(items: list[dict] | None) -> list[dict]:
    out = []
    for item in items or ():
        major, minor = _major_minor(item.get("Path", ""))
        out.append({"major": major, "minor": minor, "rate": int(item.get("Rate", 0))})
    return out


def _block_io(hc: dict) -> dict:
    bio: dict = {"weight": hc.get("BlkioWeight") or 0}
    weights = []
    for item in hc.get("BlkioWeightDevice") or ():
        major, minor = _major_minor(item.get("Path", ""))
        weights.append({"major": major, "minor": minor, "weight": int(item.get("Weight", 0))})
    if weights:
        bio["weightDevice"] = weights
    for key, spec_key in (("BlkioDeviceReadBps", "throttleReadBpsDevice"),
                          ("BlkioDeviceWriteBps", "throttleWriteBpsDevice"),
                          ("BlkioDeviceReadIOps", "throttleReadIOPSDevice"),
                          ("BlkioDeviceWriteIOps", "throttleWriteIOPSDevice")):
        rows = _throttles(hc.get(key))
        if rows:
            bio[spec_key] = rows
    return bio


def build_resources(hc: dict, device_rules: list[dict]) -> dict:
    """The ``linux.resources`` object (``device_rules`` from spec_devices)."""
    res: dict = {"devices": device_rules, "memory": _memory(hc), "cpu": _cpu(hc),
                 "blockIO": _block_io(hc)}
    pids = hc.get("PidsLimit")
    if pids is not None:
        res["pids"] = {"limit": pids if pids > 0 else -1}
    return res
