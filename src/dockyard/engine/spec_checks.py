"""Single-option checks behind ``validate_create`` (engine/hostconfig.py).

Each function raises InvalidArgument with dockerd's wording for one kind of option, so
the docker CLI and docker-py users see the messages they know. Kept apart from
hostconfig.py so that module reads as the list of what is checked, in dockerd's order.
"""

from __future__ import annotations

import ipaddress
import os
import posixpath
from typing import TYPE_CHECKING

from dockyard.errors import InvalidArgument

if TYPE_CHECKING:
    from dockyard.engine.spec_sysinfo import CgroupFeatures

__all__ = [
    "check_cpuset",
    "check_device_requests",
    "check_env",
    "check_extra_host",
    "check_healthcheck",
    "check_log_config",
    "check_mount",
    "check_port_bindings",
    "check_resources",
    "check_restart_policy",
    "check_security_opts",
    "check_signal",
    "check_sysctls",
    "check_ulimits",
    "cpu_count",
    "parse_security_opts",
]

MIN_MEMORY = 6 * 1024 * 1024          # dockerd's floor for any memory limit
MIN_DURATION_NS = 1_000_000           # healthcheck durations: at least 1ms

_SIGNALS = {
    "ABRT": 6, "ALRM": 14, "BUS": 7, "CHLD": 17, "CLD": 17, "CONT": 18, "FPE": 8,
    "HUP": 1, "ILL": 4, "INT": 2, "IO": 29, "IOT": 6, "KILL": 9, "PIPE": 13, "POLL": 29,
    "PROF": 27, "PWR": 30, "QUIT": 3, "SEGV": 11, "STKFLT": 16, "STOP": 19, "SYS": 31,
    "TERM": 15, "TRAP": 5, "TSTP": 20, "TTIN": 21, "TTOU": 22, "URG": 23, "USR1": 10,
    "USR2": 12, "VTALRM": 26, "WINCH": 28, "XCPU": 24, "XFSZ": 25, "UNUSED": 31,
}
_SIGRTMIN, _SIGRTMAX = 34, 64

#: setrlimit resources docker accepts in --ulimit (name -> RLIMIT_ suffix).
ULIMIT_NAMES = frozenset({
    "as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice",
    "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack",
})

# Sysctls isolated by a namespace (the rest are host-wide and refused).
_IPC_SYSCTLS = frozenset({
    "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
    "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
})
_UTS_SYSCTLS = frozenset({"kernel.domainname", "kernel.hostname"})


def signal_number(raw: str) -> int:
    """Docker's ParseSignal: a number (not 0), or a name with or without SIG."""
    text = str(raw)
    if text.lstrip("-").isdigit():
        n = int(text)
        if n == 0:
            raise InvalidArgument(f"Invalid signal: {raw}")
        return n
    name = text.upper()
    name = name[3:] if name.startswith("SIG") else name
    if name in _SIGNALS:
        return _SIGNALS[name]
    for base, sign, n_base in (("RTMIN", 1, _SIGRTMIN), ("RTMAX", -1, _SIGRTMAX)):
        if name == base:
            return n_base
        if name.startswith(base + ("+" if sign > 0 else "-")):
            off = name[len(base) + 1:]
            if off.isdigit() and _SIGRTMIN <= n_base + sign * int(off) <= _SIGRTMAX:
                return n_base + sign * int(off)
    raise InvalidArgument(f"Invalid signal: {raw}")


def check_signal(raw: str) -> None:
    signal_number(raw)


def check_env(env: list | None) -> None:
    for item in env or ():
        if not isinstance(item, str):
            raise InvalidArgument(f"invalid environment variable: {item!r}")
        if item == "=" or item.split("=", 1)[0] == "":
            raise InvalidArgument(f"invalid environment variable: {item}")


def check_healthcheck(hc: dict | None) -> None:
    if not hc:
        return
    for key in ("Interval", "Timeout", "StartPeriod"):
        value = hc.get(key) or 0
        if value != 0 and value < MIN_DURATION_NS:
            raise InvalidArgument(f"{key} in Healthcheck cannot be less than 1ms")
    if (hc.get("Retries") or 0) < 0:
        raise InvalidArgument("Retries in Healthcheck cannot be negative")


def check_restart_policy(policy: dict | None) -> None:
    policy = policy or {}
    name = policy.get("Name") or ""
    retries = policy.get("MaximumRetryCount") or 0
    if name in ("always", "unless-stopped", "no"):
        if retries != 0:
            raise InvalidArgument(
                f"maximum retry count cannot be used with restart policy '{name}'")
    elif name == "on-failure":
        if retries < 0:
            raise InvalidArgument("maximum retry count cannot be negative")
    elif name != "":
        raise InvalidArgument(f"invalid restart policy '{name}'")


def check_extra_host(value: str) -> None:
    name, sep, addr = value.partition(":")
    if not sep or not name:
        raise InvalidArgument(f'bad format for add-host: "{value}"')
    if addr == "host-gateway":
        return
    try:
        ipaddress.ip_address(addr.strip("[]"))
    except ValueError:
        raise InvalidArgument(f'invalid IP address in add-host: "{addr}"') from None


def _port(text: str, allow_range: bool) -> bool:
    def one(t: str) -> int | None:
        return int(t) if t.isdigit() and int(t) <= 65535 else None
    if text == "":
        return True
    if allow_range and "-" in text:
        start, _, end = text.partition("-")
        a, b = one(start), one(end)
        return a is not None and b is not None and b >= a
    return one(text) is not None


def check_port_bindings(bindings: dict | None) -> None:
    for key, targets in (bindings or {}).items():
        port, _, _proto = str(key).partition("/")
        if not _port(port, allow_range=False):
            raise InvalidArgument(f'invalid port specification: "{port}"')
        for target in targets or ():
            host_port = (target or {}).get("HostPort") or ""
            hp = host_port.partition("/")[0]
            if not _port(hp, allow_range=True):
                raise InvalidArgument(f'invalid port specification: "{host_port}"')


def _mount_error(kind: str, msg: str) -> InvalidArgument:
    return InvalidArgument(f'invalid mount config for type "{kind}": {msg}')


def check_mount(m: dict) -> None:
    """The HostConfig.Mounts checks dockerd does before anything is created."""
    kind = m.get("Type") or ""
    target = m.get("Target") or ""
    if not target:
        raise _mount_error(kind, "field Target must not be empty")
    if posixpath.normpath(target) == "/":
        raise _mount_error(kind, "invalid specification: destination can't be '/'")
    if not target.startswith("/"):
        raise _mount_error(kind, f"invalid mount path: '{target}' mount path must be "
                                 "absolute")
    source = m.get("Source") or ""
    if kind == "bind":
        if not source:
            raise _mount_error(kind, "field Source must not be empty")
        prop = (m.get("BindOptions") or {}).get("Propagation") or ""
        if prop and prop not in ("private", "rprivate", "shared", "rshared", "slave",
                                 "rslave"):
            raise _mount_error(kind, f"invalid propagation mode: {prop}")
        if m.get("VolumeOptions"):
            raise _mount_error(kind, "field VolumeOptions must not be specified")
        if not source.startswith("/"):
            raise _mount_error(kind, f"invalid mount path: '{source}' mount path must be "
                                     "absolute")
        if not os.path.lexists(source):
            raise _mount_error(kind, f"bind source path does not exist: {source}")
    elif kind == "volume":
        if m.get("BindOptions"):
            raise _mount_error(kind, "field BindOptions must not be specified")
        if not source and m.get("ReadOnly"):
            raise _mount_error(kind, "must not set ReadOnly mode when using anonymous "
                                     "volumes")
    elif kind == "tmpfs":
        if m.get("BindOptions"):
            raise _mount_error(kind, "field BindOptions must not be specified")
        if source:
            raise _mount_error(kind, "field Source must not be specified")
        opts = m.get("TmpfsOptions") or {}
        if (opts.get("SizeBytes") or 0) < 0:
            raise _mount_error(kind, "invalid tmpfs size")
    else:
        raise _mount_error(kind, "mount type unknown")


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _parse_set(text: str) -> set[int]:
    """A cpuset list such as ``0-2,4``; ValueError when malformed."""
    out: set[int] = set()
    if text == "":
        return out
    for part in text.split(","):
        start, sep, end = part.partition("-")
        if not start.isdigit() or (sep and not end.isdigit()):
            raise ValueError(f"invalid format: {text}")
        a, b = int(start), int(end) if sep else int(start)
        if b < a:
            raise ValueError(f"invalid format: {text}")
        out.update(range(a, b + 1))
    return out


def _online(kind: str) -> tuple[set[int], str]:
    path = f"/sys/devices/system/{'cpu' if kind == 'cpus' else 'node'}/online"
    try:
        with open(path) as f:
            text = f.read().strip()
        return _parse_set(text), text
    except (OSError, ValueError):
        n = cpu_count() if kind == "cpus" else 1
        return set(range(n)), f"0-{n - 1}"


def check_cpuset(value: str, kind: str) -> None:
    """``kind``: ``cpus`` or ``mems``."""
    if not value:
        return
    try:
        wanted = _parse_set(value)
    except ValueError as e:
        raise InvalidArgument(f"Invalid value {value} for cpuset {kind}: {e}") from None
    have, text = _online(kind)
    if not wanted <= have:
        what = "CPUs" if kind == "cpus" else "memory nodes"
        raise InvalidArgument(f"Requested {what} are not available - requested {value}, "
                              f"available: {text}")


def check_resources(hc: dict, f: CgroupFeatures | None = None) -> None:
    """verifyPlatformContainerResources' errors, in its order. A check dockerd makes
    only after discarding an option the host cannot enforce is skipped on such a host
    (``f``: the host's cgroup features; adapt_resources then drops the option)."""
    from dockyard.engine.spec_sysinfo import CgroupFeatures

    f = f or CgroupFeatures()
    _check_memory(hc, f)
    _check_cpu(hc, f)
    _check_blkio(hc, f)


def _check_memory(hc: dict, f: CgroupFeatures) -> None:
    mem = hc.get("Memory") or 0
    swap = hc.get("MemorySwap") or 0
    if mem != 0 and mem < MIN_MEMORY:
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    if mem > 0 and not f.memory_limit:
        mem, swap = 0, -1
    if mem > 0 and swap != -1 and not f.swap_limit:
        swap = -1
    if mem > 0 and swap > 0 and swap < mem:
        raise InvalidArgument("Minimum memoryswap limit should be larger than memory "
                              "limit, see usage")
    if mem == 0 and swap > 0:
        raise InvalidArgument("You should always set the Memory limit when using "
                              "Memoryswap limit, see usage")
    swappiness = hc.get("MemorySwappiness")
    if swappiness is not None and swappiness != -1 and f.memory_swappiness and \
            not 0 <= swappiness <= 100:
        raise InvalidArgument(f"Invalid value: {swappiness}, valid memory swappiness "
                              "range is 0-100")
    reservation = (hc.get("MemoryReservation") or 0) if f.memory_reservation else 0
    if reservation > 0 and reservation < MIN_MEMORY:
        raise InvalidArgument("Minimum memory reservation allowed is 6MB")
    if mem > 0 and reservation > 0 and mem < reservation:
        raise InvalidArgument("Minimum memory limit can not be less than memory "
                              "reservation limit, see usage")
    kmem = (hc.get("KernelMemory") or 0) if f.kernel_memory else 0
    if kmem > 0 and kmem < MIN_MEMORY:
        raise InvalidArgument("Minimum kernel memory limit allowed is 6MB")


def _check_cpu(hc: dict, f: CgroupFeatures) -> None:
    nano = hc.get("NanoCpus") or 0
    period = hc.get("CpuPeriod") or 0
    quota = hc.get("CpuQuota") or 0
    if nano > 0 and period > 0:
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Period cannot both "
                              "be set")
    if nano > 0 and quota > 0:
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Quota cannot both "
                              "be set")
    if nano > 0 and not f.cpu_cfs:
        raise InvalidArgument("NanoCPUs can not be set, as your kernel does not support "
                              "CPU CFS scheduler or the cgroup is not mounted")
    ncpu = cpu_count()
    if nano < 0 or nano > ncpu * 1_000_000_000:
        raise InvalidArgument(f"Range of CPUs is from 0.01 to {ncpu}.00, as there are only "
                              f"{ncpu} CPUs available")
    if (hc.get("CpuShares") or 0) < 0:
        raise InvalidArgument("shares: invalid argument")
    if not f.cpu_cfs:
        period = quota = 0
    if period != 0 and not 1000 <= period <= 1_000_000:
        raise InvalidArgument("CPU cfs period can not be less than 1ms (i.e. 1000) or "
                              "larger than 1s (i.e. 1000000)")
    if 0 < quota < 1000:
        raise InvalidArgument("CPU cfs quota can not be less than 1ms (i.e. 1000)")
    rt_period = hc.get("CpuRealtimePeriod") or 0
    rt_runtime = hc.get("CpuRealtimeRuntime") or 0
    if (rt_period or rt_runtime) and not f.cpu_realtime:
        raise InvalidArgument("Your kernel does not support CPU real-time scheduler")
    if rt_period and rt_runtime and rt_runtime > rt_period:
        raise InvalidArgument("cpu real-time runtime cannot be higher than cpu real-time "
                              "period")
    if f.cpuset:
        check_cpuset(hc.get("CpusetCpus") or "", "cpus")
        check_cpuset(hc.get("CpusetMems") or "", "mems")


def _check_blkio(hc: dict, f: CgroupFeatures) -> None:
    weight = hc.get("BlkioWeight") or 0
    if weight < 0 or (weight > 0 and f.blkio_weight and not 10 <= weight <= 1000):
        raise InvalidArgument("Range of blkio weight is from 10 to 1000")
    for item in hc.get("BlkioWeightDevice") or ():
        w = (item or {}).get("Weight") or 0
        if not 10 <= w <= 1000:
            raise InvalidArgument(f"invalid weight for device: {item.get('Path', '')}: "
                                  "Range of blkio weight is from 10 to 1000")
    if hc.get("IOMaximumBandwidth") or hc.get("IOMaximumIOps"):
        raise InvalidArgument("Invalid QoS settings: linux does not support Maximum IO "
                              "Bandwidth or Maximum IO IOps")


def check_ulimits(ulimits: list | None) -> None:
    for ul in ulimits or ():
        name = (ul or {}).get("Name", "")
        if name not in ULIMIT_NAMES:
            raise InvalidArgument(f"invalid ulimit type: {name}")
        soft, hard = ul.get("Soft", 0), ul.get("Hard", 0)
        if not isinstance(soft, int) or not isinstance(hard, int):
            raise InvalidArgument(f"invalid ulimit {name}: soft and hard must be integers")
        if hard != -1 and soft != -1 and soft > hard:
            raise InvalidArgument(f"ulimit soft limit must be less than or equal to hard "
                                  f"limit: {soft} > {hard}")


def check_sysctls(sysctls: dict | None, host_config: dict) -> None:
    """A sysctl is allowed only when a namespace of the container's own isolates it
    (runc's rule and words; dockerd itself passes them through and fails at start)."""
    net_mode = host_config.get("NetworkMode") or ""
    ipc_mode = host_config.get("IpcMode") or ""
    uts_mode = host_config.get("UTSMode") or ""
    for key in sysctls or {}:
        if key in _IPC_SYSCTLS or key.startswith("fs.mqueue."):
            if ipc_mode == "host":
                raise InvalidArgument(f'sysctl "{key}" is not allowed in the hosts ipc '
                                      "namespace")
            continue
        if key.startswith("net."):
            if net_mode == "host":
                raise InvalidArgument(f'sysctl "{key}" not allowed in host network '
                                      "namespace")
            continue
        if uts_mode != "host" and key in _UTS_SYSCTLS:
            if key == "kernel.hostname":
                raise InvalidArgument(f'sysctl "{key}" is not allowed as it conflicts with '
                                      'the OCI "hostname" field')
            continue
        raise InvalidArgument(f'sysctl "{key}" is not in a separate kernel namespace')


def parse_security_opts(opts: list[str] | None) -> dict:
    """``{"no_new_privileges": bool|None, "seccomp": str|None, "apparmor": ..., "label":
    [...], "systempaths": ...}`` from HostConfig.SecurityOpt, with dockerd's errors."""
    out: dict = {"no_new_privileges": None, "seccomp": None, "apparmor": None,
                 "label": [], "systempaths": None}
    for opt in opts or ():
        if opt == "no-new-privileges":
            out["no_new_privileges"] = True
            continue
        if opt == "disable":
            out["label"].append("disable")
            continue
        if "=" in opt:
            key, value = opt.split("=", 1)
        elif ":" in opt:
            key, value = opt.split(":", 1)
        else:
            raise InvalidArgument(f'invalid --security-opt 1: "{opt}"')
        if key == "label":
            out["label"].append(value)
        elif key == "apparmor":
            out["apparmor"] = value
        elif key == "seccomp":
            out["seccomp"] = value
        elif key == "no-new-privileges":
            flag = _parse_bool(value)
            if flag is None:
                raise InvalidArgument(f'invalid --security-opt 2: "{opt}"')
            out["no_new_privileges"] = flag
        elif key == "systempaths" and value == "unconfined":
            out["systempaths"] = value
        else:
            raise InvalidArgument(f'invalid --security-opt 2: "{opt}"')
    return out


def _parse_bool(text: str) -> bool | None:
    """Go's strconv.ParseBool."""
    if text in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if text in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    return None


def check_security_opts(opts: list[str] | None) -> None:
    parsed = parse_security_opts(opts)
    profile = parsed["seccomp"]
    if profile and profile != "unconfined":
        from dockyard.engine.spec_seccomp import load_profile

        load_profile(profile)


_LOG_OPTS = {
    "json-file": frozenset({"max-file", "max-size", "compress", "labels", "labels-regex",
                            "env", "env-regex", "tag"}),
    "local": frozenset({"max-file", "max-size", "compress"}),
}
_BUILTIN_LOG_OPTS = frozenset({"mode", "max-buffer-size"})


def check_log_config(log_config: dict | None) -> None:
    """dockerd's ValidateLogOpts for the drivers dockyard has (the driver name itself is
    the engine's to check against what the shim supports)."""
    cfg = (log_config or {}).get("Config") or {}
    driver = (log_config or {}).get("Type") or ""
    if driver == "none":
        return
    mode = cfg.get("mode", "")
    if mode not in ("", "blocking", "non-blocking"):
        raise InvalidArgument(f"logger: logging mode not supported: {mode}")
    if "max-buffer-size" in cfg and mode != "non-blocking":
        raise InvalidArgument("logger: max-buffer-size option is only supported with "
                              "'mode=non-blocking'")
    known = _LOG_OPTS.get(driver)
    if known is None:
        return
    for key in cfg:
        if key in _BUILTIN_LOG_OPTS or key in known:
            continue
        if driver == "json-file":
            raise InvalidArgument(f"unknown log opt '{key}' for json-file log driver")
        raise InvalidArgument(f"unknown log opt '{key}' for log driver {driver}")


def _go_list(value: object) -> str:
    if isinstance(value, list):
        return "[" + " ".join(_go_list(v) for v in value) + "]"
    return str(value)


def check_device_requests(requests: list | None) -> None:
    """``--gpus`` and other device requests need a device driver plugin (nvidia);
    dockyard has none, so every request fails with dockerd's words for that case."""
    for req in requests or ():
        req = req if isinstance(req, dict) else {}
        driver = req.get("Driver") or ""
        caps = req.get("Capabilities") or []
        raise InvalidArgument(f'could not select device driver "{driver}" with '
                              f"capabilities: {_go_list(caps)}")
