"""A Docker container (merged Config + HostConfig) -> its OCI runtime config.json.

What dockerd + runc would run, field by field (daemon/oci_linux.go createSpec, read
for behaviour): the process (command line with ``--init``'s tini in front, env with
PATH and HOSTNAME defaults, cwd, the user resolved in the container's own passwd and
group files, terminal, capabilities, rlimits, no_new_privs, oom_score_adj), the root,
hostname, mounts (spec_mounts.py), namespaces, resources (spec_resources.py), devices
(spec_devices.py), seccomp (dockyard's default profile or the request's), masked and
read-only paths, sysctls (plus docker's two unprivileged-network defaults), cgroups path.

Deliberate differences from dockerd, each for a reason:

* No libnetwork ``prestart`` hook: dockyard's network service prepares the netns
  before the container starts and the spec joins it by path.
* Host networking is "no network namespace" rather than joining a bind-mounted copy
  of the host's; the effect is the same.
* KernelMemory is not passed (see spec_resources.py).
* ``--privileged`` and ``--cap-add ALL`` get every capability the kernel has that the
  daemon itself holds (dockerd 20.10 stops at CAP_AUDIT_READ and does not look at its
  bounding set, so on a host lacking one its privileged containers fail to start).
* The default seccomp profile is the current official one, not the older copy
  dockerd 20.10 embeds (see seccomp_default.py).

The parity of all the rest is tested against dockerd 20.10 + runc in
tests/interop/engine/test_spec_parity.py.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field

from dockyard.errors import InvalidArgument

# generate_name and DEFAULT_SECCOMP are importable from here too (lazily, see below).
__all__ = ["DEFAULT_PATH_ENV", "OCI_VERSION", "SpecInputs", "build_spec", "container_env",
           "preload"]

OCI_VERSION = "1.0.2-dev"  # what dockerd 20.10 writes; both runc and dockyard-runtime take it
DEFAULT_PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_INIT_PATH = "/usr/bin/tini-static"
_U64 = (1 << 64) - 1
_UNPRIVILEGED_NET_SYSCTLS = (("net.ipv4.ping_group_range", "0 2147483647"),
                             ("net.ipv4.ip_unprivileged_port_start", "0"))


def __getattr__(name: str) -> object:
    # PEP 562: the contract names these here; their modules load only when asked.
    if name == "DEFAULT_SECCOMP":
        from dockyard.engine.seccomp_default import DEFAULT_SECCOMP

        return DEFAULT_SECCOMP
    if name == "generate_name":
        from dockyard.engine.namesgen import generate_name

        return generate_name
    raise AttributeError(name)


@dataclass(frozen=True)
class SpecInputs:
    """Everything build_spec needs; the engine gathers it at container start.

    ``config``/``host_config``: the stored (merged, normalized) Docker JSON.
    ``mounts``: engine/mounts.py MountPlans. ``netns``: the network namespace path to
    join; None: the host's network for NetworkMode host or container:<x> (x on the
    host's network), else a new empty one; "": a new empty one.
    ``ipc_ns``/``pid_ns``: namespace paths for ``container:`` modes. ``files``: the
    network files to bind (/etc/hostname, /etc/hosts, /etc/resolv.conf -> host paths).
    ``cgroups_path``: used unless HostConfig.CgroupParent is set (default
    ``/dockyard/<id>``). ``shm_path``: a host /dev/shm to bind (shareable or joined IPC);
    None = a private tmpfs of ShmSize.
    """

    container_id: str
    rootfs: str
    config: dict
    host_config: dict
    mounts: list = field(default_factory=list)
    netns: str | None = None
    ipc_ns: str | None = None
    pid_ns: str | None = None
    files: dict[str, str] = field(default_factory=dict)
    cgroups_path: str = ""
    init_path: str = DEFAULT_INIT_PATH
    shm_path: str | None = None


def container_env(config: dict) -> list[str]:
    """PATH, HOSTNAME (and TERM with a tty) defaults, overridden or extended by
    Config.Env; a bare ``NAME`` in Config.Env removes a default NAME, as in dockerd."""
    env = [DEFAULT_PATH_ENV, "HOSTNAME=" + (config.get("Hostname") or "")]
    if config.get("Tty"):
        env.append("TERM=xterm")
    index = {e.split("=", 1)[0]: i for i, e in enumerate(env)}
    for item in config.get("Env") or ():
        name, sep, _ = item.partition("=")
        if not sep:
            if name in index:
                env[index[name]] = ""
            continue
        if name in index:
            env[index[name]] = item
        else:
            env.append(item)  # dockerd keeps a repeated name twice, in order
    return [e for e in env if e]


def _namespaces(inp: SpecInputs, hc: dict) -> list[dict]:
    nss: list[dict] = [{"type": "mount"}]
    net_mode = hc.get("NetworkMode") or ""
    if inp.netns:
        nss.append({"type": "network", "path": inp.netns})
    elif net_mode.startswith("container:"):
        # None: the joined container runs on the host's network, so does this one
        if inp.netns is not None:
            raise InvalidArgument(f"network mode {net_mode}: the joined container's "
                                  "network namespace path is missing")
    elif net_mode != "host":
        nss.append({"type": "network"})
    if hc.get("UTSMode") != "host":
        nss.append({"type": "uts"})
    pid_mode = hc.get("PidMode") or ""
    if pid_mode.startswith("container:"):
        if not inp.pid_ns:
            raise InvalidArgument(f"pid mode {pid_mode}: the joined container's pid "
                                  "namespace path is missing")
        nss.append({"type": "pid", "path": inp.pid_ns})
    elif pid_mode != "host":
        nss.append({"type": "pid"})
    ipc_mode = hc.get("IpcMode") or ""
    if ipc_mode.startswith("container:"):
        if not inp.ipc_ns:
            raise InvalidArgument(f"ipc mode {ipc_mode}: the joined container's ipc "
                                  "namespace path is missing")
        nss.append({"type": "ipc", "path": inp.ipc_ns})
    elif ipc_mode != "host":
        nss.append({"type": "ipc"})
    if hc.get("CgroupnsMode") == "private":
        nss.append({"type": "cgroup"})
    return nss


def _sysctls(config: dict, hc: dict) -> dict[str, str]:
    out: dict[str, str] = {}
    if config.get("Domainname"):
        out["kernel.domainname"] = config["Domainname"]
    net_mode = hc.get("NetworkMode") or ""
    if net_mode != "host" and not net_mode.startswith("container:"):
        for key, value in _UNPRIVILEGED_NET_SYSCTLS:
            if os.path.exists("/proc/sys/" + key.replace(".", "/")):
                out[key] = value
    out.update(hc.get("Sysctls") or {})
    return out


def _rlimits(hc: dict, default_ulimits: dict | None) -> list[dict]:
    ulimits = list(hc.get("Ulimits") or [])
    names = {u.get("Name") for u in ulimits}
    for name, ul in (default_ulimits or {}).items():
        if name not in names:
            ulimits.append(ul)
    # -1 (unlimited) becomes RLIM_INFINITY: the spec's fields are unsigned 64-bit, as
    # dockerd's uint64 conversion gives
    return [{"type": "RLIMIT_" + u["Name"].upper(), "hard": int(u.get("Hard", 0)) & _U64,
             "soft": int(u.get("Soft", 0)) & _U64} for u in ulimits]


def _cgroups_path(inp: SpecInputs, hc: dict) -> str:
    """``<CgroupParent>/<id>`` when the container asks for a parent, else the engine's
    path. A relative parent is taken from the cgroup root: dockerd passes it on
    relative, and runc then nests it under the shim's own cgroup, a place no one
    would look for it (and which dockyard's shim does not have)."""
    parent = hc.get("CgroupParent") or ""
    if parent:
        return posixpath.join(parent if parent.startswith("/") else "/" + parent,
                              inp.container_id)
    return inp.cgroups_path or f"/dockyard/{inp.container_id}"


def _process(config: dict, hc: dict, args: list[str], caps: list[str], user: dict,
             hostname: str, no_new_privileges: bool, default_ulimits: dict | None) -> dict:
    process: dict = {
        "user": user,
        "args": args,
        "env": container_env({**config, "Hostname": hostname}),
        "cwd": config.get("WorkingDir") or "/",
        # A non-root user gets none effective or permitted, as execve would leave it.
        "capabilities": ({"bounding": list(caps), "effective": list(caps),
                          "permitted": list(caps)} if user["uid"] == 0 else
                         {"bounding": list(caps)}),
        "oomScoreAdj": hc.get("OomScoreAdj") or 0,
    }
    if config.get("Tty"):
        process["terminal"] = True
    rlimits = _rlimits(hc, default_ulimits)
    if rlimits:
        process["rlimits"] = rlimits
    if no_new_privileges:
        process["noNewPrivileges"] = True
    return process


def _linux(inp: SpecInputs, config: dict, hc: dict, seccomp: dict | None) -> dict:
    from dockyard.engine.spec_devices import device_rules
    from dockyard.engine.spec_resources import build_resources

    devices, rules = device_rules(hc)
    linux: dict = {
        "resources": build_resources(hc, rules),
        "cgroupsPath": _cgroups_path(inp, hc),
        "namespaces": _namespaces(inp, hc),
    }
    sysctl = _sysctls(config, hc)
    if sysctl:
        linux["sysctl"] = sysctl
    if devices:
        linux["devices"] = devices
    if seccomp is not None:
        linux["seccomp"] = seccomp
    if hc.get("MaskedPaths"):
        linux["maskedPaths"] = list(hc["MaskedPaths"])
    if hc.get("ReadonlyPaths"):
        linux["readonlyPaths"] = list(hc["ReadonlyPaths"])
    return linux


def build_spec(inp: SpecInputs, *, default_init: bool = False,
               default_ulimits: dict | None = None, no_new_privileges: bool = False,
               seccomp_profile: dict | None = None, cgroup_v2: bool | None = None) -> dict:
    """The OCI config.json document for ``inp``.

    Daemon-wide defaults (daemon.json): ``default_init`` (``init``),
    ``default_ulimits`` (``default-ulimits``: name -> {Name, Soft, Hard}),
    ``no_new_privileges``, ``seccomp_profile`` (a Docker-format profile replacing
    dockyard's default). ``cgroup_v2`` overrides detection (tests).
    """
    from dockyard.engine.hostconfig import normalize_host_config
    from dockyard.engine.imageconfig import command_line
    from dockyard.engine.spec_caps import effective_caps
    from dockyard.engine.spec_checks import parse_security_opts
    from dockyard.engine.spec_mounts import INIT_PATH_IN_CONTAINER, build_mounts
    from dockyard.engine.spec_seccomp import seccomp_section
    from dockyard.engine.spec_user import resolve_user

    config = inp.config
    hc = normalize_host_config(inp.host_config, cgroup_v2=cgroup_v2)
    opts = parse_security_opts(hc.get("SecurityOpt"))
    privileged = bool(hc.get("Privileged"))

    args = command_line(config)
    init = hc.get("Init")
    use_init = (init if init is not None else default_init) and \
        (hc.get("PidMode") or "") == ""
    if use_init:
        args = [INIT_PATH_IN_CONTAINER, "--", *args]
    caps = effective_caps(hc.get("CapAdd"), hc.get("CapDrop"), privileged)
    user = resolve_user(inp.rootfs, config.get("User") or "", hc.get("GroupAdd"))
    hostname = config.get("Hostname") or ""
    if not hostname:  # dockerd fills Config.Hostname at create; same rule here
        hostname = os.uname().nodename if hc.get("NetworkMode") == "host" \
            else inp.container_id[:12]
    nnp = opts["no_new_privileges"]
    process = _process(config, hc, args, caps, user.to_oci(), hostname,
                       nnp if nnp is not None else no_new_privileges, default_ulimits)

    mounts, propagation = build_mounts(
        plans=list(inp.mounts), host_config=hc, files=inp.files, shm_path=inp.shm_path,
        init_path=inp.init_path if use_init else None)
    linux = _linux(inp, config, hc, seccomp_section(privileged, opts["seccomp"], caps,
                                                    seccomp_profile))
    if propagation:
        linux["rootfsPropagation"] = propagation

    spec: dict = {"ociVersion": OCI_VERSION, "process": process,
                  "root": {"path": inp.rootfs}, "mounts": mounts, "linux": linux}
    if hc.get("ReadonlyRootfs"):
        spec["root"]["readonly"] = True
    if hc.get("UTSMode") != "host":
        spec["hostname"] = hostname
    if hc.get("Annotations"):
        spec["annotations"] = dict(hc["Annotations"])
    return spec


def preload() -> None:
    """Import everything build_spec uses, so the daemon's first ``run`` does not pay
    for it (call once at daemon start, e.g. in a worker thread)."""
    import importlib

    for name in ("hostconfig", "imageconfig", "spec_caps", "spec_checks", "spec_devices",
                 "spec_mounts", "spec_resources", "spec_seccomp", "spec_sysinfo",
                 "spec_user"):
        importlib.import_module(f"dockyard.engine.{name}")
    importlib.import_module("dockyard.runtime.rootfs.paths")
    from dockyard.engine.seccomp_default import DEFAULT_SECCOMP
    from dockyard.engine.spec_caps import DEFAULT_CAPS
    from dockyard.runtime.security.profile import docker_profile_to_spec

    docker_profile_to_spec(DEFAULT_SECCOMP, DEFAULT_CAPS)
