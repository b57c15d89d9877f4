"""``POST /containers/{id}/update``: new resources (applied live through the
runtime's ``update``) and a new restart policy, recorded in HostConfig."""

from __future__ import annotations

import json
import subprocess
from typing import TYPE_CHECKING, Any

from dockyard.engine import lifecycle, restart
from dockyard.errors import InvalidArgument

if TYPE_CHECKING:
    from dockyard.engine.containers import ContainerService
    from dockyard.engine.model import ContainerRecord

RESOURCE_KEYS = ("CpuShares", "Memory", "MemorySwap", "MemoryReservation", "NanoCpus",
                 "CpuPeriod", "CpuQuota", "CpusetCpus", "CpusetMems", "PidsLimit",
                 "BlkioWeight", "CpuRealtimePeriod", "CpuRealtimeRuntime", "KernelMemory")


def oci_resources(hc: dict[str, Any]) -> dict[str, Any]:
    """The OCI ``linux.resources`` for the keys an update body carries."""
    out: dict[str, Any] = {}
    mem: dict[str, Any] = {}
    if hc.get("Memory"):
        mem["limit"] = int(hc["Memory"])
    if hc.get("MemorySwap"):
        mem["swap"] = int(hc["MemorySwap"])
    if hc.get("MemoryReservation"):
        mem["reservation"] = int(hc["MemoryReservation"])
    if mem:
        out["memory"] = mem
    cpu: dict[str, Any] = {}
    if hc.get("CpuShares"):
        cpu["shares"] = int(hc["CpuShares"])
    if hc.get("NanoCpus"):
        period = 100000
        cpu["period"] = period
        cpu["quota"] = int(hc["NanoCpus"]) * period // 1_000_000_000
    if hc.get("CpuPeriod"):
        cpu["period"] = int(hc["CpuPeriod"])
    if hc.get("CpuQuota"):
        cpu["quota"] = int(hc["CpuQuota"])
    if hc.get("CpusetCpus"):
        cpu["cpus"] = str(hc["CpusetCpus"])
    if hc.get("CpusetMems"):
        cpu["mems"] = str(hc["CpusetMems"])
    if cpu:
        out["cpu"] = cpu
    if hc.get("PidsLimit"):
        out["pids"] = {"limit": int(hc["PidsLimit"])}
    if hc.get("BlkioWeight"):
        out["blockIO"] = {"weight": int(hc["BlkioWeight"])}
    return out


def _apply_live(svc: ContainerService, rec: ContainerRecord, resources: dict) -> None:
    runtime = lifecycle.runtime_for(svc.backend, rec)
    root = str(svc.backend.exec_root / "runtime")
    if runtime == "dockyard":
        from dockyard.runtime import state as st
        from dockyard.runtime.container.update import update

        update(st.StateStore(root), rec.id, resources)
        return
    out = subprocess.run([runtime, "--root", root, "update", "--resources", "-", rec.id],
                         input=json.dumps(resources), capture_output=True, text=True,
                         timeout=30)
    if out.returncode != 0:
        raise InvalidArgument(f"Cannot update container {rec.id}: {out.stderr.strip()}")


async def apply(svc: ContainerService, rec: ContainerRecord, body: dict[str, Any]
                ) -> list[str]:
    if not isinstance(body, dict):
        raise InvalidArgument("invalid update body: expected a JSON object")
    unknown = [k for k in body if k not in RESOURCE_KEYS and k not in
               ("RestartPolicy", "BlkioWeightDevice", "BlkioDeviceReadBps",
                "BlkioDeviceWriteBps", "BlkioDeviceReadIOps", "BlkioDeviceWriteIOps",
                "CgroupParent", "Devices", "DeviceCgroupRules", "DeviceRequests",
                "OomKillDisable", "MemorySwappiness", "Ulimits", "CpuCount", "CpuPercent",
                "IOMaximumIOps", "IOMaximumBandwidth", "KernelMemoryTCP")]
    if unknown:
        raise InvalidArgument(f"unknown update field(s): {', '.join(sorted(unknown))}")
    changes = {k: v for k, v in body.items() if k in RESOURCE_KEYS and v not in (None, 0, "")}
    policy = body.get("RestartPolicy")
    if policy is not None and (policy.get("Name") or ""):
        restart.check_policy(policy)
        if rec.host_config.get("AutoRemove") and policy.get("Name") not in ("", "no"):
            raise InvalidArgument("Restart policy cannot be updated because AutoRemove is "
                                  "enabled for the container")
    if changes and rec.state.status in ("running", "paused"):
        await svc.backend.run(_apply_live, svc, rec, oci_resources(changes))
    hc = dict(rec.host_config)
    hc.update(changes)
    if policy is not None and (policy.get("Name") or ""):
        hc["RestartPolicy"] = {"Name": policy.get("Name") or "",
                               "MaximumRetryCount": int(policy.get("MaximumRetryCount") or 0)}
    svc.store.update_state(rec.id, host_config=hc)
    svc.event(svc.store.get(rec.id), "update")
    return []


__all__ = ["RESOURCE_KEYS", "apply", "oci_resources"]
