"""``/_ping``, ``/version``, ``/info``, ``/system/df``: the daemon describing itself."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from dockyard import __version__
from dockyard.api.app import API_VERSION, MIN_API_VERSION, Route, backend_of, json_response

GIT_COMMIT = "dockyard"
BUILDER_VERSION = "1"   # the classic builder's number: no BuildKit here


def _ping_headers() -> dict[str, str]:
    return {"Api-Version": API_VERSION, "Builder-Version": BUILDER_VERSION,
            "Docker-Experimental": "false", "Ostype": "linux",
            "Cache-Control": "no-cache, no-store, must-revalidate", "Pragma": "no-cache"}


async def ping(request: web.Request) -> web.Response:
    # aiohttp sends no body for HEAD (the headers still say Content-Length: 2).
    return web.Response(body=b"OK", content_type="text/plain", headers=_ping_headers())


async def version(request: web.Request) -> web.Response:
    host = backend_of(request).host
    assert host is not None
    details = {
        "ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": GIT_COMMIT, "GoVersion": f"python{host.python}",
        "Os": "linux", "Arch": host.goarch, "KernelVersion": host.kernel,
        "BuildTime": "", "Experimental": "false",
    }
    doc = {
        "Platform": {"Name": f"dockyard {__version__}"},
        "Components": [{"Name": "Engine", "Version": __version__, "Details": details}],
        "Version": __version__,
        "ApiVersion": API_VERSION,
        "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": GIT_COMMIT,
        "GoVersion": f"python{host.python}",
        "Os": "linux",
        "Arch": host.goarch,
        "KernelVersion": host.kernel,
        "BuildTime": "",
    }
    return json_response(doc)


async def info(request: web.Request) -> web.Response:
    backend = backend_of(request)
    host = backend.host
    assert host is not None
    cfg = backend.config
    images = await backend.images(lambda svc: len(svc.store.list()))
    counts = await backend.run(_container_counts, backend)
    reg = backend.registry_config
    doc: dict[str, Any] = {
        "ID": backend.identity.id,
        "Containers": sum(counts.values()), "ContainersRunning": counts["running"],
        "ContainersPaused": counts["paused"], "ContainersStopped": counts["stopped"],
        "Images": images,
        "Driver": host.driver,
        "DriverStatus": [["Backing Filesystem", _fs_type(str(backend.data_root))]],
        "Plugins": {"Volume": [], "Network": [], "Authorization": None, "Log": []},
        "MemoryLimit": True, "SwapLimit": False, "KernelMemory": False,
        "KernelMemoryTCP": False, "CpuCfsPeriod": True, "CpuCfsQuota": True,
        "CPUShares": True, "CPUSet": True, "PidsLimit": True, "IPv4Forwarding": True,
        "BridgeNfIptables": False, "BridgeNfIp6tables": False, "Debug": cfg.debug,
        "OomKillDisable": False,
        "NFd": _count_fds(), "NGoroutines": 0,
        "SystemTime": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": host.cgroup_version,
        "NEventsListener": backend.events.listeners,
        "KernelVersion": host.kernel,
        "OperatingSystem": host.os_name,
        "OSVersion": host.os_version,
        "OSType": "linux",
        "Architecture": host.machine,
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": {
            "AllowNondistributableArtifactsCIDRs": [],
            "AllowNondistributableArtifactsHostnames": [],
            "InsecureRegistryCIDRs": ["127.0.0.0/8"],
            "IndexConfigs": {"docker.io": {"Name": "docker.io", "Mirrors": list(reg.mirrors),
                                           "Secure": True, "Official": True}},
            "Mirrors": list(reg.mirrors),
        },
        "NCPU": host.ncpu,
        "MemTotal": host.mem_total,
        "GenericResources": None,
        "DockerRootDir": str(backend.data_root),
        "HttpProxy": "", "HttpsProxy": "", "NoProxy": "",
        "Name": host.hostname,
        "Labels": list(cfg.labels),
        "ExperimentalBuild": False,
        "ServerVersion": __version__,
        "Runtimes": {"dockyard": {"path": "dockyard-runtime"}},
        "DefaultRuntime": "dockyard",
        "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive",
                  "ControlAvailable": False, "Error": "", "RemoteManagers": None},
        "LiveRestoreEnabled": True,
        "Isolation": "",
        "InitBinary": "",
        "ContainerdCommit": {"ID": "", "Expected": ""},
        "RuncCommit": {"ID": "", "Expected": ""},
        "InitCommit": {"ID": "", "Expected": ""},
        "SecurityOptions": ["name=seccomp,profile=default"]
        + (["name=cgroupns"] if host.cgroup_version == "2" else []),
        "Warnings": _warnings(host),
    }
    for key in ("InsecureRegistryCIDRs",):
        doc["RegistryConfig"][key] += [x for x in reg.insecure if "/" in x]
    for name in reg.insecure:
        if "/" not in name:
            doc["RegistryConfig"]["IndexConfigs"][name] = {
                "Name": name, "Mirrors": [], "Secure": False, "Official": False}
    return json_response(doc)


def _warnings(host: Any) -> list[str]:
    out = []
    if host.cgroup_mode == "none":
        out.append("WARNING: no cgroup hierarchy is mounted; resource limits will not work")
    return out


def _count_fds() -> int:
    import os

    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 0


def _fs_type(path: str) -> str:
    """The file system type under ``path`` (longest mount point that contains it)."""
    best, kind = "", "unknown"
    try:
        with open("/proc/self/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) < 3:
                    continue
                mnt = parts[1].replace("\\040", " ")
                inside = path == mnt or path.startswith(mnt.rstrip("/") + "/")
                if inside and len(mnt) >= len(best):
                    best, kind = mnt, parts[2]
    except OSError:
        pass
    return kind


async def disk_usage(request: web.Request) -> web.Response:
    from dockyard.image.dockershape import summary_json

    backend = backend_of(request)

    def collect(svc: Any) -> dict[str, Any]:
        usage = svc.disk_usage()
        images = []
        for s in usage.details:
            doc = summary_json(s)
            doc["Containers"] = s.containers
            doc["SharedSize"] = 0
            images.append(doc)
        return {"LayersSize": usage.layers_size, "Images": images}

    from dockyard.api.volumes import disk_usage as volumes_usage

    doc = await backend.images(collect)
    doc["Containers"] = await backend.run(_containers_usage, backend)
    doc["Volumes"] = await backend.run(volumes_usage, backend)
    doc["BuildCache"] = []
    return json_response(doc)


def _container_counts(backend: Any) -> dict[str, int]:
    """/info's container numbers by docker's grouping (restarting counts as running)."""
    counts = {"running": 0, "paused": 0, "stopped": 0}
    for rec in backend.containers.list(all=True):
        status = rec.state.status
        key = ("running" if status in ("running", "restarting")
               else "paused" if status == "paused" else "stopped")
        counts[key] += 1
    return counts


def _containers_usage(backend: Any) -> list[dict[str, Any]]:
    """/system/df's Containers: the list's shape with SizeRw and SizeRootFs."""
    from dockyard.engine.inspect import summary

    svc = backend.containers
    return [summary(rec, (svc.size_rw(rec), svc.size_rootfs(rec)))
            for rec in svc.list(all=True)]


ROUTES: list[Route] = [
    ("GET", "/_ping", ping),
    ("GET", "/version", version),
    ("GET", "/info", info),
    ("GET", "/system/df", disk_usage),
]

__all__ = ["ROUTES"]
