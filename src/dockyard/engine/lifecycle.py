"""The blocking steps of start and exit, run in worker threads by ContainerService.

Start: bundle dirs, rootfs mount, copy-up into new volumes (first start only),
then, once the network is set up, the OCI spec (ocispec) written as
``config.json``. Exit: unmount the rootfs (the rw layer stays for the next start,
``cp``, ``export`` and ``diff``). Each step undoes itself on failure.
"""

from __future__ import annotations

import json
import os
import shutil
import signal as _signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.engine import rootfs
from dockyard.errors import InvalidArgument

if TYPE_CHECKING:
    from dockyard.daemon.backend import Backend
    from dockyard.engine.model import ContainerRecord

DEFAULT_STOP_TIMEOUT = 10


def mount_for_start(backend: Backend, rec: ContainerRecord) -> None:
    rootfs.make_bundle(rec.bundle, rec.data_dir)
    plans = mount_plans(rec)
    if plans:
        from dockyard.engine.mounts import activate_mounts

        activate_mounts(plans, backend.volumes)
    svc = backend.open_images()
    try:
        rootfs.mount(svc, rec.snapshot_key, rec.rootfs)
    finally:
        svc.close()
    if not rec.has_been_started and rec.mounts:
        try:
            from dockyard.engine.mounts import MountPlan, copy_up

            copy_up([MountPlan.from_dict(m) for m in rec.mounts], rec.rootfs)
        except BaseException:
            rootfs.unmount(rec.rootfs)
            raise


def unmount_after_exit(rec: ContainerRecord) -> None:
    rootfs.unmount(rec.rootfs)
    rootfs.unmount(shm_dir(rec))


def shm_dir(rec: ContainerRecord) -> Path:
    return rec.data_dir / "mounts" / "shm"


def shm_path(svc_get: Any, rec: ContainerRecord) -> str | None:
    """SpecInputs.shm_path: ``--ipc shareable`` gets a tmpfs of ShmSize mounted here
    (dockerd's <container>/mounts/shm), ``--ipc container:<x>`` the other's one."""
    from dockyard.engine.spec_mounts import shareable_shm
    from dockyard.image.mount import is_mountpoint_under
    from dockyard.runtime import syscalls

    mode = rec.host_config.get("IpcMode") or ""
    if mode.startswith("container:"):
        other = shm_dir(svc_get(mode.split(":", 1)[1]))
        return str(other) if str(other) in is_mountpoint_under(other) else None
    spec = shareable_shm(rec.host_config)
    if spec is None:
        return None
    fstype, flags, data = spec
    target = shm_dir(rec)
    target.mkdir(parents=True, exist_ok=True)
    if str(target) not in is_mountpoint_under(target):
        try:
            syscalls.mount("shm", str(target), fstype, flags, data)
        except OSError as e:
            raise InvalidArgument(f"mounting the shareable /dev/shm failed: {e}") from None
    return str(target)


def mount_plans(rec: ContainerRecord) -> list[Any]:
    if not rec.mounts:
        return []
    from dockyard.engine.mounts import MountPlan

    return [MountPlan.from_dict(m) for m in rec.mounts]


def write_spec(backend: Backend, rec: ContainerRecord, netns: str | None,
               files: dict[str, str], ipc_ns: str | None = None,
               pid_ns: str | None = None, shm: str | None = None) -> None:
    """Build the OCI config.json for this start (atomic write)."""
    from dockyard.engine import ocispec

    parent = rec.host_config.get("CgroupParent") or backend.config.cgroup_parent or "/dockyard"
    if not parent.startswith("/"):
        parent = "/" + parent
    kwargs: dict[str, Any] = {}
    init_path = backend.config.init_path or _default_init()
    if init_path:
        kwargs["init_path"] = init_path
    inputs = ocispec.SpecInputs(
        container_id=rec.id, rootfs=str(rec.rootfs), config=rec.config,
        host_config=rec.host_config, mounts=mount_plans(rec), netns=netns,
        ipc_ns=ipc_ns, pid_ns=pid_ns, files=files,
        cgroups_path=f"{parent.rstrip('/')}/{rec.id}", shm_path=shm, **kwargs)
    cfg = backend.config
    spec = ocispec.build_spec(inputs, default_init=bool(cfg.init),
                              default_ulimits=cfg.default_ulimits or None,
                              no_new_privileges=bool(cfg.no_new_privileges),
                              seccomp_profile=_seccomp_profile(cfg.seccomp_profile))
    path = rec.bundle / "config.json"
    tmp = path.with_name(".config.json.tmp")
    tmp.write_text(json.dumps(spec))
    os.replace(tmp, path)


def _seccomp_profile(path: str) -> dict | None:
    """daemon.json ``seccomp-profile``: a Docker-format profile file (or "unconfined")."""
    if not path:
        return None
    if path == "unconfined":
        return {"defaultAction": "SCMP_ACT_ALLOW"}
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise InvalidArgument(f"cannot read seccomp-profile {path}: {e}") from None


def namespace_paths(svc_get: Any, rec: ContainerRecord) -> tuple[str | None, str | None]:
    """(ipc_ns, pid_ns) for ``container:<id>`` IPC and PID modes: the other running
    container's namespaces through its init's /proc entry."""
    out: list[str | None] = []
    for key, ns in (("IpcMode", "ipc"), ("PidMode", "pid")):
        mode = rec.host_config.get(key) or ""
        if not mode.startswith("container:"):
            out.append(None)
            continue
        other = svc_get(mode.split(":", 1)[1])
        if other.state.status not in ("running", "paused") or not other.state.pid:
            from dockyard.errors import Conflict

            raise Conflict(f"cannot join {ns} namespace of a non running container: "
                           f"{other.id}")
        out.append(f"/proc/{other.state.pid}/ns/{ns}")
    return out[0], out[1]


def _default_init() -> str:
    for path in ("/usr/bin/tini-static", "/usr/bin/tini", "/sbin/tini"):
        if os.path.exists(path):
            return path
    return ""


def fallback_net_files(rec: ContainerRecord) -> dict[str, str]:
    """hostname, hosts and resolv.conf for modes none/host while netwire is absent."""
    mode = rec.host_config.get("NetworkMode") or "default"
    d = rec.data_dir
    d.mkdir(parents=True, exist_ok=True)
    hostname = os.uname().nodename if mode == "host" \
        else rec.config.get("Hostname") or rec.id[:12]
    _write(d / "hostname", hostname + "\n")
    hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
    if mode == "host":
        try:
            hosts = Path("/etc/hosts").read_text()
        except OSError:
            pass
    _write(d / "hosts", hosts)
    try:
        resolv = Path("/etc/resolv.conf").read_text()
    except OSError:
        resolv = ""
    if mode != "host":
        lines = [ln for ln in resolv.splitlines()
                 if not (ln.startswith("nameserver") and ln.split()[1:2]
                         and ln.split()[1].startswith("127."))]
        resolv = "\n".join(lines) + "\n"
    _write(d / "resolv.conf", resolv)
    return {"/etc/hostname": str(d / "hostname"), "/etc/hosts": str(d / "hosts"),
            "/etc/resolv.conf": str(d / "resolv.conf")}


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def remove_files(rec: ContainerRecord) -> None:
    rootfs.remove_bundle(rec.bundle)
    shutil.rmtree(rec.data_dir, ignore_errors=True)


def parse_signal(value: str | int | None, default: int = _signal.SIGKILL) -> int:
    """A signal as docker takes it: a number, ``KILL`` or ``SIGKILL``; 400 otherwise."""
    if value is None or value == "":
        return default
    if isinstance(value, int):
        num = value
    else:
        text = str(value).strip()
        if text.isdigit():
            num = int(text)
        else:
            name = text.upper()
            if not name.startswith("SIG"):
                name = "SIG" + name
            sig = getattr(_signal.Signals, name, None) if name in _signal.Signals.__members__ \
                else None
            if sig is None and name.startswith("SIGRTMIN+"):
                try:
                    return _signal.SIGRTMIN + int(name[9:])
                except ValueError:
                    sig = None
            if sig is None:
                raise InvalidArgument(f"Invalid signal: {value}")
            num = int(sig)
    if num <= 0 or num > 64:
        raise InvalidArgument(f"Invalid signal: {value}")
    return num


def stop_signal(rec: ContainerRecord) -> int:
    return parse_signal(rec.config.get("StopSignal") or "SIGTERM", _signal.SIGTERM)


def stop_timeout(rec: ContainerRecord, asked: int | None) -> int:
    if asked is not None:
        return asked
    value = rec.config.get("StopTimeout")
    return DEFAULT_STOP_TIMEOUT if value is None else int(value)


def runtime_for(backend: Backend, rec: ContainerRecord) -> str:
    """ShimRequest.runtime: "dockyard" (in-process) or a runc-compatible binary path."""
    name = rec.host_config.get("Runtime") or backend.config.default_runtime or "dockyard"
    if name in ("dockyard", "dockyard-runtime"):
        return "dockyard"
    configured = (backend.config.runtimes or {}).get(name)
    if isinstance(configured, dict) and configured.get("path"):
        return str(configured["path"])
    if name in ("runc", "io.containerd.runc.v2"):
        found = shutil.which("runc")
        if found:
            return found
    raise InvalidArgument(f"Unknown runtime specified {name}")


def parse_size(text: str | None) -> int | None:
    """``10m``/``1g``/``512k``/``100`` -> bytes (docker's log-opt max-size)."""
    if not text:
        return None
    units = {"k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "b": 1}
    t = text.strip().lower().rstrip("b") or "0"
    mult = 1
    if t[-1] in units:
        mult = units[t[-1]]
        t = t[:-1]
    try:
        value = float(t)
    except ValueError:
        raise InvalidArgument(f"invalid log-opt max-size: {text}") from None
    return int(value * mult)


def log_config(rec: ContainerRecord) -> Any:
    from dockyard.shim import LogConfig

    opts = (rec.host_config.get("LogConfig") or {}).get("Config") or {}
    driver = rec.log_driver
    if driver == "local":
        path = str(rec.data_dir / "local-logs" / "container.log")
    elif driver == "json-file":
        path = str(rec.log_path)
    else:
        path = ""
    max_file = int(opts.get("max-file") or 1)
    return LogConfig(driver=driver, path=path, max_size=parse_size(opts.get("max-size")),
                     max_file=max_file)


def log_path_for_read(rec: ContainerRecord) -> str:
    if rec.log_driver == "local":
        return str(rec.data_dir / "local-logs" / "container.log")
    return str(rec.log_path)


__all__ = ["fallback_net_files", "log_config", "mount_for_start", "parse_signal",
           "remove_files", "runtime_for", "stop_signal", "stop_timeout",
           "unmount_after_exit", "write_spec"]
