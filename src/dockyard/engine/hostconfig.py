"""Checking a create request and completing its HostConfig, as dockerd does.

``validate_create(config, host_config)`` runs the checks dockerd runs before a
container exists (runconfig's network-mode conflicts, verifyContainerSettings,
verifyPlatformContainerResources, the capability names, tmpfs and mount specs,
security options, sysctls, ulimits) and raises InvalidArgument with dockerd's words.
Checks that need other containers (``container:<name>`` exists and runs) are the
engine's; checks that need the host at start (a ``--device`` path) happen in build_spec.

``normalize_host_config(host_config)`` returns the HostConfig as ``GET
/containers/<id>/json`` shows it for a new container: every field present (a null the
client sent stays null, as in dockerd; the docker CLI sends [] and {} for most lists
and maps), dockerd's defaults filled
(IpcMode private, CgroupnsMode host/private by cgroup version, ShmSize 64 MiB,
MemorySwap twice Memory, OomKillDisable false, default masked/read-only paths unless
privileged, NetworkMode "default", LogConfig json-file...).
"""

from __future__ import annotations

import copy
import os
import posixpath
from typing import TYPE_CHECKING

from dockyard.engine import spec_checks as checks
from dockyard.errors import InvalidArgument

if TYPE_CHECKING:
    from dockyard.engine.spec_sysinfo import CgroupFeatures

__all__ = ["DEFAULT_MASKED_PATHS", "DEFAULT_READONLY_PATHS", "DEFAULT_SHM_SIZE",
           "cgroup_v2", "normalize_host_config", "validate_create"]

DEFAULT_SHM_SIZE = 64 * 1024 * 1024

#: docker's default masked and read-only /proc and /sys paths, in docker's order.
DEFAULT_MASKED_PATHS = (
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware",
)
DEFAULT_READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                          "/proc/sysrq-trigger")

_CONFLICT = "conflicting options: "


def cgroup_v2() -> bool:
    """True on a unified (cgroup v2 only) host; hybrid v1 hosts answer False."""
    return os.path.exists("/sys/fs/cgroup/cgroup.controllers")


_detect_v2 = cgroup_v2


def _container_target(mode: str) -> str | None:
    return mode.split(":", 1)[1] if mode.startswith("container:") else None


def _check_network_mode(config: dict, hc: dict) -> None:
    mode = hc.get("NetworkMode") or ""
    is_container = mode.startswith("container:") or mode == "container"
    if is_container and not _container_target(mode):
        raise InvalidArgument("Invalid network mode: invalid container format "
                              "container:<name|id>")
    if is_container:
        if config.get("Hostname"):
            raise InvalidArgument(_CONFLICT + "hostname and the network mode")
        if hc.get("Links"):
            raise InvalidArgument(_CONFLICT + "container type network can't be used with "
                                  "links. This would result in undefined behavior")
        if hc.get("Dns"):
            raise InvalidArgument(_CONFLICT + "dns and the network mode")
        if hc.get("ExtraHosts"):
            raise InvalidArgument(_CONFLICT + "custom host-to-IP mapping and the network "
                                  "mode")
    if (is_container or mode == "host") and config.get("MacAddress"):
        raise InvalidArgument(_CONFLICT + "mac-address and the network mode")
    if is_container and (hc.get("PortBindings") or hc.get("PublishAllPorts")):
        raise InvalidArgument(_CONFLICT + "port publishing and the container type network "
                              "mode")
    if is_container and config.get("ExposedPorts"):
        raise InvalidArgument(_CONFLICT + "port exposing and the container type network "
                              "mode")
    if hc.get("UTSMode") == "host" and config.get("Hostname"):
        raise InvalidArgument(_CONFLICT + "hostname and the UTS mode")
    if mode == "host" and hc.get("Links"):
        raise InvalidArgument(_CONFLICT + "host type networking can't be used with links. "
                              "This would result in undefined behavior")


def _check_namespace_modes(hc: dict) -> None:
    ipc = hc.get("IpcMode") or ""
    if ipc not in ("", "none", "private", "shareable", "host") and \
            not (ipc.startswith("container:") and len(ipc) > len("container:")):
        raise InvalidArgument(f"invalid IPC mode: {ipc}")
    pid = hc.get("PidMode") or ""
    if pid not in ("", "host") and \
            not (pid.startswith("container:") and len(pid) > len("container:")):
        raise InvalidArgument(f"invalid PID mode: {pid}")
    uts = hc.get("UTSMode") or ""
    if uts not in ("", "host"):
        raise InvalidArgument(f"invalid UTS mode: {uts}")
    cgroupns = hc.get("CgroupnsMode") or ""
    if cgroupns not in ("", "host", "private"):
        raise InvalidArgument(f"invalid cgroup namespace mode: {cgroupns}")
    userns = hc.get("UsernsMode") or ""
    if userns not in ("", "host"):
        raise InvalidArgument(f"invalid user namespace mode: {userns} (user namespace "
                              "remapping is not supported)")
    isolation = hc.get("Isolation") or ""
    if isolation not in ("", "default"):
        raise InvalidArgument(f"invalid isolation '{isolation}' on linux")


def _check_tmpfs(hc: dict) -> None:
    from dockyard.engine.spec_mounts import parse_tmpfs_data

    for dest, data in (hc.get("Tmpfs") or {}).items():
        if posixpath.normpath(dest.replace("\\", "/")) == "/":
            raise InvalidArgument("invalid specification: destination can't be '/'")
        if not dest.startswith("/"):
            raise InvalidArgument(f"invalid mount path: '{dest}' mount path must be "
                                  "absolute")
        parse_tmpfs_data(data or "")


def _check_devices(hc: dict) -> None:
    from dockyard.engine.spec_devices import parse_cgroup_rule

    for m in hc.get("Devices") or ():
        perms = (m or {}).get("CgroupPermissions") or ""
        if perms and (set(perms) - set("rwm") or len(perms) > 3):
            raise InvalidArgument(f"invalid device mode: {perms}")
        if not (m or {}).get("PathOnHost"):
            raise InvalidArgument("invalid device mapping: PathOnHost is empty")
    for rule in hc.get("DeviceCgroupRules") or ():
        parse_cgroup_rule(rule)


def validate_create(config: dict, host_config: dict, *,
                    features: CgroupFeatures | None = None) -> None:
    """Every check dockerd makes on a create body; InvalidArgument with its words.

    ``features``: the host's cgroup features (default: detected). Options the host
    cannot enforce are not refused but dropped with a warning by
    ``spec_sysinfo.adapt_resources``, as dockerd does; call it after this.
    """
    from dockyard.engine.spec_caps import normalize_caps

    if not isinstance(config, dict):
        raise InvalidArgument("Config cannot be empty in order to create a container")
    from dockyard.engine.spec_types import check_config_types, check_host_config_types

    hc = host_config or {}
    if not isinstance(hc, dict):
        raise InvalidArgument("HostConfig must be an object")
    check_config_types(config)
    check_host_config_types(hc)
    _check_network_mode(config, hc)
    _check_namespace_modes(hc)

    wd = config.get("WorkingDir") or ""
    if wd and not wd.startswith("/"):
        raise InvalidArgument(f"the working directory '{wd}' is invalid, it needs to be "
                              "an absolute path")
    if config.get("StopSignal"):
        checks.check_signal(config["StopSignal"])
    checks.check_env(config.get("Env"))
    checks.check_healthcheck(config.get("Healthcheck"))

    policy = hc.get("RestartPolicy") or {}
    if hc.get("AutoRemove") and (policy.get("Name") or "no") != "no":
        raise InvalidArgument("can't create 'AutoRemove' container with restart policy")
    for m in hc.get("Mounts") or ():
        checks.check_mount(m or {})
    for host in hc.get("ExtraHosts") or ():
        checks.check_extra_host(host)
    checks.check_port_bindings(hc.get("PortBindings"))
    checks.check_restart_policy(policy)
    normalize_caps(hc.get("CapAdd"), "CapAdd")
    normalize_caps(hc.get("CapDrop"), "CapDrop")

    if features is None:
        from dockyard.engine.spec_sysinfo import detect_features

        features = detect_features()
    checks.check_resources(hc, features)
    if (hc.get("ShmSize") or 0) < 0:
        raise InvalidArgument("SHM size can not be less than 0")
    oom = hc.get("OomScoreAdj") or 0
    if not -1000 <= oom <= 1000:
        raise InvalidArgument(f"Invalid value {oom}, range for oom score adj is "
                              "[-1000, 1000]")
    _check_tmpfs(hc)
    _check_devices(hc)
    checks.check_ulimits(hc.get("Ulimits"))
    checks.check_sysctls(hc.get("Sysctls"), hc)
    checks.check_security_opts(hc.get("SecurityOpt"))
    checks.check_log_config(hc.get("LogConfig"))
    checks.check_device_requests(hc.get("DeviceRequests"))


# Every field inspect shows, with the value a new container gets when it is absent.
_FIELDS: tuple[tuple[str, object], ...] = (
    ("Binds", None), ("ContainerIDFile", ""), ("LogConfig", None), ("NetworkMode", ""),
    ("PortBindings", None), ("RestartPolicy", None), ("AutoRemove", False),
    ("VolumeDriver", ""), ("VolumesFrom", None), ("ConsoleSize", None), ("CapAdd", None),
    ("CapDrop", None), ("CgroupnsMode", ""), ("Dns", None), ("DnsOptions", None),
    ("DnsSearch", None), ("ExtraHosts", None), ("GroupAdd", None), ("IpcMode", ""),
    ("Cgroup", ""), ("Links", None), ("OomScoreAdj", 0), ("PidMode", ""),
    ("Privileged", False), ("PublishAllPorts", False), ("ReadonlyRootfs", False),
    ("SecurityOpt", None), ("UTSMode", ""), ("UsernsMode", ""), ("ShmSize", 0),
    ("Runtime", ""), ("Isolation", ""), ("CpuShares", 0), ("Memory", 0), ("NanoCpus", 0),
    ("CgroupParent", ""), ("BlkioWeight", 0), ("BlkioWeightDevice", None),
    ("BlkioDeviceReadBps", None), ("BlkioDeviceWriteBps", None),
    ("BlkioDeviceReadIOps", None), ("BlkioDeviceWriteIOps", None), ("CpuPeriod", 0),
    ("CpuQuota", 0), ("CpuRealtimePeriod", 0), ("CpuRealtimeRuntime", 0),
    ("CpusetCpus", ""), ("CpusetMems", ""), ("Devices", None), ("DeviceCgroupRules", None),
    ("DeviceRequests", None), ("KernelMemory", 0), ("KernelMemoryTCP", 0),
    ("MemoryReservation", 0), ("MemorySwap", 0),
    ("MemorySwappiness", None), ("OomKillDisable", None), ("PidsLimit", None),
    ("Ulimits", None), ("CpuCount", 0), ("CpuPercent", 0), ("IOMaximumIOps", 0),
    ("IOMaximumBandwidth", 0), ("MaskedPaths", None), ("ReadonlyPaths", None),
)


def normalize_host_config(host_config: dict | None, *, default_runtime: str = "runc",
                          cgroup_v2: bool | None = None, shm_size: int = DEFAULT_SHM_SIZE,
                          ipc_mode: str = "private", log_driver: str = "json-file",
                          log_opts: dict | None = None) -> dict:
    """The HostConfig a new container stores (a new dict; the input is not changed).

    ``default_runtime``: the name inspect shows when none was asked for.
    ``cgroup_v2``: the host's cgroup mode (default: detected). ``shm_size``,
    ``ipc_mode``, ``log_driver``, ``log_opts``: the daemon's defaults (daemon.json
    ``default-shm-size``, ``default-ipc-mode``, ``log-driver``, ``log-opts``; the opts
    fill in what a container of that same driver leaves out, as dockerd merges them).
    Idempotent: normalizing twice gives the same dict.
    """
    given = copy.deepcopy(host_config or {})
    hc: dict = {}
    for key, default in _FIELDS:
        value = given.pop(key, None)
        hc[key] = copy.deepcopy(default) if value is None else value
    hc.update(given)  # Tmpfs, Sysctls, Mounts, Init, ... kept as sent

    log = dict(hc["LogConfig"] or {})
    log["Type"] = log.get("Type") or log_driver
    log["Config"] = dict(log.get("Config") or {})
    if log["Type"] == log_driver:
        for key, value in (log_opts or {}).items():
            log["Config"].setdefault(key, value)
    hc["LogConfig"] = log
    for key in ("CapAdd", "CapDrop"):  # StrSlice: inspect shows a list
        if isinstance(hc[key], str):
            hc[key] = [hc[key]]
    hc["NetworkMode"] = hc["NetworkMode"] or "default"
    policy = hc["RestartPolicy"] or {}
    hc["RestartPolicy"] = {"Name": policy.get("Name") or "",
                           "MaximumRetryCount": policy.get("MaximumRetryCount") or 0}
    if hc["ConsoleSize"] is None:
        hc["ConsoleSize"] = [0, 0]
    if not hc["CgroupnsMode"]:
        # v1 (and hybrid): the host's; v2: a private one, privileged or not.
        v2 = _detect_v2() if cgroup_v2 is None else cgroup_v2
        hc["CgroupnsMode"] = "private" if v2 else "host"
    hc["IpcMode"] = hc["IpcMode"] or ipc_mode
    hc["ShmSize"] = hc["ShmSize"] or shm_size
    hc["Runtime"] = hc["Runtime"] or default_runtime
    if hc["Memory"] > 0 and hc["MemorySwap"] == 0:
        hc["MemorySwap"] = hc["Memory"] * 2
    if hc["MemorySwappiness"] == -1:
        hc["MemorySwappiness"] = None
    if hc["PidsLimit"] is not None and hc["PidsLimit"] <= 0:
        hc["PidsLimit"] = None  # 0 and negatives mean "unlimited": no limit is stored
    if hc["OomKillDisable"] is None:
        hc["OomKillDisable"] = False
    # dockerd turns SELinux labelling off for containers sharing the host's ipc or pid
    # namespace and for privileged ones, and shows it (even without SELinux).
    if (hc["IpcMode"] == "host" or hc["PidMode"] == "host" or hc["Privileged"]) and \
            not any(o.split("=", 1)[0].split(":", 1)[0] == "label"
                    for o in hc["SecurityOpt"] or ()):
        hc["SecurityOpt"] = [*(hc["SecurityOpt"] or ()), "label=disable"]
    if "systempaths=unconfined" in (hc["SecurityOpt"] or ()):
        hc["MaskedPaths"], hc["ReadonlyPaths"] = [], []
    if not hc["Privileged"]:
        if hc["MaskedPaths"] is None:
            hc["MaskedPaths"] = list(DEFAULT_MASKED_PATHS)
        if hc["ReadonlyPaths"] is None:
            hc["ReadonlyPaths"] = list(DEFAULT_READONLY_PATHS)
    return hc
