"""``run``/``create`` flags and their translation into the create request body.

The flag set and the mapping follow the Docker CLI (``docker create --help``);
the body has the shape of ``POST /containers/create`` (Config fields at the top,
``HostConfig``, ``NetworkingConfig``). Values docker checks on the client (ports,
sizes, durations, restart policy, --rm with --restart) are checked here with its
wording; everything else is the daemon's to judge.
"""

from __future__ import annotations

import os

from dockyard.cli.flags import FlagError, Opts, Spec
from dockyard.cli.units import duration_ns, mem_bytes, nano_cpus, parse_port_spec

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# (names, kind, help): "short long"; "-" = no short form.
CREATE_FLAGS: list[tuple[str, str, str]] = [
    ("a attach", "list", "Attach to STDIN, STDOUT or STDERR"),
    ("- add-host", "list", "Add a custom host-to-IP mapping (host:ip)"),
    ("- blkio-weight", "int", "Block IO (relative weight), between 10 and 1000"),
    ("- cap-add", "list", "Add Linux capabilities"),
    ("- cap-drop", "list", "Drop Linux capabilities"),
    ("- cgroup-parent", "str", "Optional parent cgroup for the container"),
    ("- cgroupns", "str", "Cgroup namespace to use (host|private)"),
    ("- cidfile", "str", "Write the container ID to the file"),
    ("- cpu-period", "int", "Limit CPU CFS (Completely Fair Scheduler) period"),
    ("- cpu-quota", "int", "Limit CPU CFS (Completely Fair Scheduler) quota"),
    ("- cpu-rt-period", "int", "Limit CPU real-time period in microseconds"),
    ("- cpu-rt-runtime", "int", "Limit CPU real-time runtime in microseconds"),
    ("c cpu-shares", "int", "CPU shares (relative weight)"),
    ("- cpus", "str", "Number of CPUs"),
    ("- cpuset-cpus", "str", "CPUs in which to allow execution (0-3, 0,1)"),
    ("- cpuset-mems", "str", "MEMs in which to allow execution (0-3, 0,1)"),
    ("d detach", "bool", "Run container in background and print container ID"),
    ("- detach-keys", "str", "Override the key sequence for detaching a container"),
    ("- device", "list", "Add a host device to the container"),
    ("- device-cgroup-rule", "list", "Add a rule to the cgroup allowed devices list"),
    ("- dns", "list", "Set custom DNS servers"),
    ("- dns-option", "list", "Set DNS options"),
    ("- dns-opt", "list", "Set DNS options"),
    ("- dns-search", "list", "Set custom DNS search domains"),
    ("- domainname", "str", "Container NIS domain name"),
    ("- entrypoint", "str", "Overwrite the default ENTRYPOINT of the image"),
    ("e env", "list", "Set environment variables"),
    ("- env-file", "list", "Read in a file of environment variables"),
    ("- expose", "list", "Expose a port or a range of ports"),
    ("- group-add", "list", "Add additional groups to join"),
    ("- health-cmd", "str", "Command to run to check health"),
    ("- health-interval", "str", "Time between running the check (ms|s|m|h) (default 0s)"),
    ("- health-retries", "int", "Consecutive failures needed to report unhealthy"),
    ("- health-start-period", "str", "Start period for the container to initialize "
                                     "before starting health-retries countdown"),
    ("- health-timeout", "str", "Maximum time to allow one check to run (ms|s|m|h)"),
    ("h hostname", "str", "Container host name"),
    ("- init", "bool", "Run an init inside the container that forwards signals and "
                       "reaps processes"),
    ("i interactive", "bool", "Keep STDIN open even if not attached"),
    ("- ip", "str", "IPv4 address (e.g., 172.30.100.104)"),
    ("- ip6", "str", "IPv6 address (e.g., 2001:db8::33)"),
    ("- ipc", "str", "IPC mode to use"),
    ("- isolation", "str", "Container isolation technology"),
    ("- kernel-memory", "str", "Kernel memory limit"),
    ("l label", "list", "Set meta data on a container"),
    ("- label-file", "list", "Read in a line delimited file of labels"),
    ("- link", "list", "Add link to another container"),
    ("- log-driver", "str", "Logging driver for the container"),
    ("- log-opt", "list", "Log driver options"),
    ("- mac-address", "str", "Container MAC address (e.g., 92:d0:c6:0a:29:33)"),
    ("m memory", "str", "Memory limit"),
    ("- memory-reservation", "str", "Memory soft limit"),
    ("- memory-swap", "str", "Swap limit equal to memory plus swap: '-1' to enable "
                             "unlimited swap"),
    ("- memory-swappiness", "int", "Tune container memory swappiness (0 to 100)"),
    ("- mount", "list", "Attach a filesystem mount to the container"),
    ("- name", "str", "Assign a name to the container"),
    ("- network", "str", "Connect a container to a network"),
    ("- net", "str", "Connect a container to a network"),
    ("- network-alias", "list", "Add network-scoped alias for the container"),
    ("- net-alias", "list", "Add network-scoped alias for the container"),
    ("- no-healthcheck", "bool", "Disable any container-specified HEALTHCHECK"),
    ("- oom-kill-disable", "bool", "Disable OOM Killer"),
    ("- oom-score-adj", "int", "Tune host's OOM preferences (-1000 to 1000)"),
    ("- pid", "str", "PID namespace to use"),
    ("- pids-limit", "int", "Tune container pids limit (set -1 for unlimited)"),
    ("- platform", "str", "Set platform if server is multi-platform capable"),
    ("- privileged", "bool", "Give extended privileges to this container"),
    ("p publish", "list", "Publish a container's port(s) to the host"),
    ("P publish-all", "bool", "Publish all exposed ports to random ports"),
    ("- pull", "str", 'Pull image before running ("always"|"missing"|"never")'),
    ("q quiet", "bool", "Suppress the pull output"),
    ("- read-only", "bool", "Mount the container's root filesystem as read only"),
    ("- restart", "str", "Restart policy to apply when a container exits (default \"no\")"),
    ("- rm", "bool", "Automatically remove the container when it exits"),
    ("- runtime", "str", "Runtime to use for this container"),
    ("- security-opt", "list", "Security Options"),
    ("- shm-size", "str", "Size of /dev/shm"),
    ("- sig-proxy", "bool", "Proxy received signals to the process (default true)"),
    ("- stop-signal", "str", "Signal to stop the container"),
    ("- stop-timeout", "int", "Timeout (in seconds) to stop a container"),
    ("- storage-opt", "list", "Storage driver options for the container"),
    ("- sysctl", "list", "Sysctl options"),
    ("- tmpfs", "list", "Mount a tmpfs directory"),
    ("t tty", "bool", "Allocate a pseudo-TTY"),
    ("- ulimit", "list", "Ulimit options"),
    ("u user", "str", "Username or UID (format: <name|uid>[:<group|gid>])"),
    ("- userns", "str", "User namespace to use"),
    ("- uts", "str", "UTS namespace to use"),
    ("v volume", "list", "Bind mount a volume"),
    ("- volumes-from", "list", "Mount volumes from the specified container(s)"),
    ("w workdir", "str", "Working directory inside the container"),
]

RUN_SPEC = Spec("[OPTIONS] IMAGE [COMMAND] [ARG...]", CREATE_FLAGS, interspersed=False,
                min_args=1, description="Create and run a new container from an image")
CREATE_SPEC = Spec("[OPTIONS] IMAGE [COMMAND] [ARG...]",
                   [f for f in CREATE_FLAGS if f[0] not in ("d detach", "- detach-keys",
                                                            "- sig-proxy")],
                   interspersed=False, min_args=1, description="Create a new container")


class CreateRequest:
    """What ``create``/``run`` send, plus what ``run`` needs afterwards."""

    def __init__(self, body: dict[str, Any], name: str | None, platform: str | None,
                 image: str) -> None:
        self.body = body
        self.name = name
        self.platform = platform
        self.image = image

    def params(self) -> dict[str, Any]:
        return {"name": self.name, "platform": self.platform}


def _kv_list(items: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or ():
        k, _, v = item.partition("=")
        out[k] = v
    return out


def _read_kv_file(path: str, what: str, env_lookup: bool) -> list[str]:
    """docker's env/label file: one ``K=V`` a line, ``#`` comments, blank lines skipped;
    a bare ``K`` in an env file takes the value from this process's environment."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise FlagError(f"open {path}: {e.strerror.lower() if e.strerror else e}"
                        ) from None
    out = []
    for raw in text.splitlines():
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        key, eq, value = line.partition("=")
        if any(c in key for c in " \t"):
            raise FlagError(f"invalid {what} file ({path}): variable '{key}' contains "
                            "whitespaces")
        if eq:
            out.append(f"{key}={value}")
        elif env_lookup:
            if key in os.environ:
                out.append(f"{key}={os.environ[key]}")
        else:
            out.append(key)
    return out


def _env(opts: Opts) -> list[str]:
    out: list[str] = []
    for path in opts.env_file or ():
        out += _read_kv_file(path, "env", True)
    for item in opts.env or ():
        if "=" not in item and item in os.environ:
            out.append(f"{item}={os.environ[item]}")
        else:
            out.append(item)
    return out


def _labels(opts: Opts) -> dict[str, str]:
    items: list[str] = []
    for path in opts.label_file or ():
        items += _read_kv_file(path, "label", False)
    items += opts.label or []
    return _kv_list(items)


def restart_policy(text: str | None) -> dict[str, Any]:
    if not text:
        return {"Name": "no", "MaximumRetryCount": 0}
    name, _, count = text.partition(":")
    retries = 0   # an unknown name is the daemon's to reject, as with docker
    if count:
        if name != "on-failure":
            raise FlagError(f"maximum retry count cannot be used with restart policy "
                            f"'{name}'")
        if not count.isdigit():
            raise FlagError(f"invalid restart policy format: maximum retry count must be "
                            f"an integer: {count}")
        retries = int(count)
    return {"Name": name, "MaximumRetryCount": retries}


def _ulimit(text: str) -> dict[str, Any]:
    name, eq, limits = text.partition("=")
    soft, colon, hard = limits.partition(":")
    try:
        s = int(soft)
        h = int(hard) if colon else s
    except ValueError:
        raise FlagError(f"invalid argument \"{text}\" for \"--ulimit\" flag: invalid "
                        "ulimit argument") from None
    if not eq or not name:
        raise FlagError(f"invalid argument \"{text}\" for \"--ulimit\" flag: invalid "
                        "ulimit argument")
    if s > h:
        raise FlagError(f"invalid argument \"{text}\" for \"--ulimit\" flag: ulimit soft "
                        f"limit must be less than or equal to hard limit: {s} > {h}")
    return {"Name": name, "Hard": h, "Soft": s}


def _device(text: str) -> dict[str, str]:
    parts = text.split(":")
    src = parts[0]
    dst = src
    perms = "rwm"
    if len(parts) == 2:
        if parts[1] and all(c in "rwm" for c in parts[1]):
            perms = parts[1]
        else:
            dst = parts[1]
    elif len(parts) == 3:
        dst, perms = parts[1], parts[2]
    elif len(parts) > 3:
        raise FlagError(f"invalid device specification: {text}")
    return {"PathOnHost": src, "PathInContainer": dst, "CgroupPermissions": perms}


def _mount(text: str) -> dict[str, Any]:
    """``--mount type=bind,source=/a,target=/b,readonly`` -> a HostConfig.Mounts entry."""
    m: dict[str, Any] = {"Type": "volume"}
    bind: dict[str, Any] = {}
    vol: dict[str, Any] = {}
    tmpfs: dict[str, Any] = {}
    for field in _csv(text):
        key, eq, value = field.partition("=")
        key = key.strip().lower()
        low = value.strip().lower()

        def truth(eq: str = eq, low: str = low, key: str = key, value: str = value
                  ) -> bool:
            if not eq:
                return True
            if low in ("1", "true"):
                return True
            if low in ("0", "false"):
                return False
            raise FlagError(f'invalid argument "{text}" for "--mount" flag: invalid value '
                            f"for {key}: {value}")
        if key == "type":
            m["Type"] = low
        elif key in ("source", "src"):
            m["Source"] = value
        elif key in ("target", "dst", "destination"):
            m["Target"] = value
        elif key in ("readonly", "ro"):
            m["ReadOnly"] = truth()
        elif key == "consistency":
            m["Consistency"] = value
        elif key == "bind-propagation":
            bind["Propagation"] = low
        elif key == "bind-nonrecursive":
            bind["NonRecursive"] = truth()
        elif key == "volume-driver":
            vol.setdefault("DriverConfig", {})["Name"] = value
        elif key == "volume-nocopy":
            vol["NoCopy"] = truth()
        elif key == "volume-label":
            k, _, v = value.partition("=")
            vol.setdefault("Labels", {})[k] = v
        elif key == "volume-opt":
            k, _, v = value.partition("=")
            vol.setdefault("DriverConfig", {}).setdefault("Options", {})[k] = v
        elif key == "tmpfs-size":
            tmpfs["SizeBytes"] = mem_bytes(value, "--mount")
        elif key == "tmpfs-mode":
            try:
                tmpfs["Mode"] = int(value, 8)
            except ValueError:
                raise FlagError(f'invalid argument "{text}" for "--mount" flag: invalid '
                                f"value for {key}: {value}") from None
        else:
            raise FlagError(f'invalid argument "{text}" for "--mount" flag: unexpected key '
                            f"'{key}' in '{field}'")
    if "Target" not in m:
        raise FlagError(f'invalid argument "{text}" for "--mount" flag: target is required')
    if bind:
        m["BindOptions"] = bind
    if vol:
        m["VolumeOptions"] = vol
    if tmpfs:
        m["TmpfsOptions"] = tmpfs
    return m


def _csv(text: str) -> list[str]:
    """Comma-separated fields; double quotes protect commas (encoding/csv's rule)."""
    out, cur, quoted = [], [], False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return [f for f in out if f]


def _security_opts(items: list[str] | None) -> list[str] | None:
    """docker reads ``seccomp=<file>`` on the client and sends the profile inline."""
    if not items:
        return None
    out = []
    for item in items:
        key, eq, value = item.partition("=")
        if not eq and ":" in item:
            key, _, value = item.partition(":")
            eq = "="
        if key == "seccomp" and value not in ("unconfined", "builtin") and eq:
            try:
                with open(value, encoding="utf-8") as f:
                    raw = f.read()
            except OSError as e:
                raise FlagError(f"opening seccomp profile ({value}) failed: {e}") from None
            from dockyard.cli import jsonfast
            try:
                compact = jsonfast.dumps(jsonfast.loads(raw))
            except ValueError as e:
                raise FlagError(f"compacting json for seccomp profile ({value}) failed: "
                                f"{e}") from None
            out.append(f"seccomp={compact}")
        else:
            out.append(item)
    return out


def _volumes(items: list[str] | None) -> tuple[list[str] | None, dict[str, dict]]:
    """``-v`` specs: with a source they are Binds (named volume or host path), a bare
    container path is an anonymous volume in Config.Volumes."""
    binds: list[str] = []
    anon: dict[str, dict] = {}
    for spec in items or ():
        if ":" in spec:
            src, _, rest = spec.partition(":")
            if not src or not rest:
                raise FlagError(f"invalid spec: {spec}: empty section between colons")
            binds.append(spec)
        else:
            if not spec.startswith("/"):
                raise FlagError(f"invalid volume specification: '{spec}'")
            anon[spec] = {}
    return (binds or None), anon


def _health(opts: Opts) -> dict[str, Any] | None:
    have = any(opts.given(d) for d in ("health_cmd", "health_interval", "health_retries",
                                       "health_start_period", "health_timeout"))
    if opts.no_healthcheck:
        if have:
            raise FlagError("--no-healthcheck conflicts with --health-* options")
        return {"Test": ["NONE"]}
    if not have:
        return None
    hc: dict[str, Any] = {}
    if opts.health_cmd:
        hc["Test"] = ["CMD-SHELL", opts.health_cmd]
    for dest, key in (("health_interval", "Interval"), ("health_timeout", "Timeout"),
                      ("health_start_period", "StartPeriod")):
        value = getattr(opts, dest)
        if value is not None:
            ns = duration_ns(value, "--" + dest.replace("_", "-"))
            if ns < 0:
                raise FlagError(f"--{dest.replace('_', '-')} cannot be negative")
            hc[key] = ns
    if opts.health_retries is not None:
        if opts.health_retries < 0:
            raise FlagError("--health-retries cannot be negative")
        hc["Retries"] = opts.health_retries
    return hc


def _ports(opts: Opts) -> tuple[dict[str, dict], dict[str, list[dict[str, str]]]]:
    exposed: dict[str, dict] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for spec in opts.publish or ():
        for port, binding in parse_port_spec(spec):
            exposed[port] = {}
            bindings.setdefault(port, []).append(binding)
    for spec in opts.expose or ():
        proto = "tcp"
        body = spec
        if "/" in spec:
            body, _, proto = spec.partition("/")
        lo, _, hi = body.partition("-")
        try:
            a = int(lo)
            b = int(hi) if hi else a
        except ValueError:
            raise FlagError(f"invalid range format for --expose: {spec}, error: "
                            f"strconv.ParseUint: parsing {body!r}: invalid syntax") from None
        for p in range(a, b + 1):
            exposed[f"{p}/{proto}"] = {}
    return exposed, bindings


def _caps(items: list[str] | None) -> list[str] | None:
    """docker's capability normalization: upper case, ``CAP_`` prefix, ``ALL`` kept."""
    if not items:
        return items
    out = []
    for c in items:
        c = c.strip().upper()
        if c != "ALL" and not c.startswith("CAP_"):
            c = "CAP_" + c
        if c not in out:
            out.append(c)
    return out


def _extra_hosts(items: list[str] | None) -> list[str] | None:
    if not items:
        return None
    for item in items:
        host, sep, ip = item.partition(":")
        if not sep or not host or not ip:
            raise FlagError(f'invalid argument "{item}" for "--add-host" flag: bad format '
                            f"for add-host: {item!r}")
    return list(items)


def build_create(opts: Opts, args: list[str], *, detach: bool) -> CreateRequest:
    """The create body for ``run``/``create`` options and [IMAGE, CMD...]."""
    image, cmd = args[0], args[1:]
    if opts.rm and opts.restart and opts.restart != "no":
        raise FlagError("Conflicting options: --restart and --rm")
    attach = [a.lower() for a in opts.attach or ()]
    for a in attach:
        if a not in ("stdin", "stdout", "stderr"):
            raise FlagError(f"invalid argument \"{a}\" for \"-a, --attach\" flag: valid "
                            "streams are STDIN, STDOUT and STDERR")
    if detach and attach:
        raise FlagError("Conflicting options: -a and -d")
    if detach:
        a_in = a_out = a_err = False
    elif attach:
        a_in, a_out, a_err = "stdin" in attach, "stdout" in attach, "stderr" in attach
    else:
        a_in, a_out, a_err = bool(opts.interactive), True, True
    binds, anon = _volumes(opts.volume)
    exposed, port_bindings = _ports(opts)
    entrypoint: list[str] | None = None
    if opts.entrypoint:
        entrypoint = [opts.entrypoint]
    elif opts.given("entrypoint"):
        entrypoint = [""]
    network = opts.network or opts.net or "default"
    env = _env(opts)
    config: dict[str, Any] = {
        "Hostname": opts.hostname or "",
        "Domainname": opts.domainname or "",
        "User": opts.user or "",
        "AttachStdin": a_in,
        "AttachStdout": a_out,
        "AttachStderr": a_err,
        "Tty": bool(opts.tty),
        "OpenStdin": bool(opts.interactive),
        "StdinOnce": bool(opts.interactive) and a_in,
        "Env": env or None,
        "Cmd": cmd or None,
        "Image": image,
        "Volumes": anon,
        "WorkingDir": opts.workdir or "",
        "Entrypoint": entrypoint,
        "OnBuild": None,
        "Labels": _labels(opts),
    }
    if exposed:
        config["ExposedPorts"] = exposed
    health = _health(opts)
    if health is not None:
        config["Healthcheck"] = health
    if opts.stop_signal:
        config["StopSignal"] = opts.stop_signal
    if opts.stop_timeout is not None:
        config["StopTimeout"] = opts.stop_timeout
    if opts.mac_address:
        config["MacAddress"] = opts.mac_address
    host: dict[str, Any] = {
        "Binds": binds,
        "ContainerIDFile": opts.cidfile or "",
        "LogConfig": {"Type": opts.log_driver or "", "Config": _kv_list(opts.log_opt)},
        "NetworkMode": network,
        "PortBindings": port_bindings,
        "RestartPolicy": restart_policy(opts.restart),
        "AutoRemove": bool(opts.rm),
        "VolumeDriver": "",
        "VolumesFrom": opts.volumes_from,
        "CapAdd": _caps(opts.cap_add),
        "CapDrop": _caps(opts.cap_drop),
        "CgroupnsMode": opts.cgroupns or "",
        "Dns": opts.dns or [],
        "DnsOptions": (opts.dns_option or []) + (opts.dns_opt or []),
        "DnsSearch": opts.dns_search or [],
        "ExtraHosts": _extra_hosts(opts.add_host),
        "GroupAdd": opts.group_add,
        "IpcMode": opts.ipc or "",
        "Cgroup": "",
        "Links": opts.link,
        "OomScoreAdj": opts.oom_score_adj or 0,
        "PidMode": opts.pid or "",
        "Privileged": bool(opts.privileged),
        "PublishAllPorts": bool(opts.publish_all),
        "ReadonlyRootfs": bool(opts.read_only),
        "SecurityOpt": _security_opts(opts.security_opt),
        "UTSMode": opts.uts or "",
        "UsernsMode": opts.userns or "",
        "ShmSize": mem_bytes(opts.shm_size, "--shm-size") if opts.shm_size else 0,
        "Isolation": opts.isolation or "",
        "CpuShares": opts.cpu_shares or 0,
        "Memory": mem_bytes(opts.memory, "--memory") if opts.memory else 0,
        "NanoCpus": nano_cpus(opts.cpus) if opts.cpus else 0,
        "CgroupParent": opts.cgroup_parent or "",
        "BlkioWeight": opts.blkio_weight or 0,
        "CpuPeriod": opts.cpu_period or 0,
        "CpuQuota": opts.cpu_quota or 0,
        "CpuRealtimePeriod": opts.cpu_rt_period or 0,
        "CpuRealtimeRuntime": opts.cpu_rt_runtime or 0,
        "CpusetCpus": opts.cpuset_cpus or "",
        "CpusetMems": opts.cpuset_mems or "",
        "Devices": [_device(d) for d in opts.device or ()],
        "DeviceCgroupRules": opts.device_cgroup_rule,
        "KernelMemory": mem_bytes(opts.kernel_memory, "--kernel-memory")
        if opts.kernel_memory else 0,
        "MemoryReservation": mem_bytes(opts.memory_reservation, "--memory-reservation")
        if opts.memory_reservation else 0,
        "MemorySwap": mem_bytes(opts.memory_swap, "--memory-swap", allow_unlimited=True)
        if opts.memory_swap else 0,
        "MemorySwappiness": opts.memory_swappiness
        if opts.memory_swappiness is not None else -1,
        "OomKillDisable": bool(opts.oom_kill_disable),
        "PidsLimit": opts.pids_limit if opts.pids_limit is not None else 0,
        "Ulimits": [_ulimit(u) for u in opts.ulimit or ()],
    }
    if opts.mount:
        host["Mounts"] = [_mount(m) for m in opts.mount]
    if opts.tmpfs:
        tmpfs = {}
        for spec in opts.tmpfs:
            dst, _, options = spec.partition(":")
            tmpfs[dst] = options
        host["Tmpfs"] = tmpfs
    if opts.sysctl:
        host["Sysctls"] = _kv_list(opts.sysctl)
    if opts.storage_opt:
        host["StorageOpt"] = _kv_list(opts.storage_opt)
    if opts.init:
        host["Init"] = True
    if opts.runtime:
        host["Runtime"] = opts.runtime
    endpoint: dict[str, Any] = {}
    aliases = (opts.network_alias or []) + (opts.net_alias or [])
    if aliases:
        endpoint["Aliases"] = aliases
    if opts.ip or opts.ip6:
        endpoint["IPAMConfig"] = {k: v for k, v in (("IPv4Address", opts.ip),
                                                    ("IPv6Address", opts.ip6)) if v}
    config["HostConfig"] = host
    config["NetworkingConfig"] = {"EndpointsConfig": {network: endpoint}} \
        if endpoint or network != "default" else {"EndpointsConfig": {}}
    return CreateRequest(config, opts.name, opts.platform, image)


__all__ = [
    "CREATE_FLAGS",
    "CREATE_SPEC",
    "RUN_SPEC",
    "CreateRequest",
    "build_create",
    "restart_policy",
]
