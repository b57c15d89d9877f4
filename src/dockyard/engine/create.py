"""``POST /containers/create``: from Docker's create body to a stored record.

Runs in a worker thread (SQLite, the snapshotter's metadata, mkdir). The order
keeps every failure clean: the name is checked first (cheap, the common
mistake), the image resolved, the configuration merged and validated (ocispec),
mounts planned (volfs), then the rw snapshot prepared and finally the row
inserted; the row's UNIQUE name decides a race, and a loser removes its snapshot.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dockyard.engine import rootfs
from dockyard.engine.model import ContainerRecord, ContainerState, new_id, now_rfc3339
from dockyard.engine.store import name_conflict
from dockyard.errors import DockyardError, InvalidArgument, NotFound

if TYPE_CHECKING:
    from dockyard.daemon.backend import Backend
    from dockyard.engine.store import ContainerStore

NAME_RE = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
LOG_DRIVERS = ("json-file", "local", "none")
# Config keys Docker's create body carries at its top level.
CONFIG_KEYS = ("Hostname", "Domainname", "User", "AttachStdin", "AttachStdout",
               "AttachStderr", "ExposedPorts", "Tty", "OpenStdin", "StdinOnce", "Env",
               "Cmd", "Healthcheck", "ArgsEscaped", "Image", "Volumes", "WorkingDir",
               "Entrypoint", "NetworkDisabled", "MacAddress", "OnBuild", "Labels",
               "StopSignal", "StopTimeout", "Shell")


@dataclass(frozen=True)
class Created:
    record: ContainerRecord
    warnings: list[str]


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise InvalidArgument(f"Invalid container name ({name}), only "
                              "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    return name.lstrip("/")


def split_body(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(Config, HostConfig, NetworkingConfig) of a create body."""
    if not isinstance(body, dict):
        raise InvalidArgument("invalid create body: expected a JSON object")
    config = {k: body[k] for k in CONFIG_KEYS if k in body}
    host = body.get("HostConfig") or {}
    net = body.get("NetworkingConfig") or {}
    if not isinstance(host, dict) or not isinstance(net, dict):
        raise InvalidArgument("invalid create body: HostConfig and NetworkingConfig must be "
                              "objects")
    if not config.get("Image"):
        raise InvalidArgument("Config.Image is required (the image to create the container "
                              "from)")
    if not isinstance(config["Image"], str):
        raise InvalidArgument("Config.Image must be a string")
    return config, dict(host), dict(net)


def image_config_doc(svc: Any, rec: Any) -> dict[str, Any]:
    """The image's ``config`` object (Env, Cmd, Entrypoint, ...) as stored."""
    doc = json.loads(svc.store.content.read_bytes(rec.id))
    return dict(doc.get("config") or {})


def graph_data(mounts: list[Any], upper: str) -> dict[str, str]:
    """GraphDriver.Data for inspect, from the snapshot's overlay options."""
    import os

    data: dict[str, str] = {}
    for spec in mounts:
        if spec.type != "overlay" or spec.target:
            continue
        base = spec.cwd or ""
        for opt in spec.options:
            key, eq, value = opt.partition("=")
            if not eq:
                continue
            paths = [os.path.join(base, p) for p in value.split(":")]
            if key == "lowerdir":
                data["LowerDir"] = ":".join(paths)
            elif key == "upperdir":
                data["UpperDir"] = paths[0]
            elif key == "workdir":
                data["WorkDir"] = paths[0]
    if not data:
        data["UpperDir"] = upper
    return data


LOG_OPTS = {"json-file": ("max-size", "max-file", "compress", "labels", "env", "env-regex",
                          "tag"),
            "local": ("max-size", "max-file", "compress"), "none": ()}


def log_driver(host_config: dict[str, Any], backend: Backend) -> str:
    """The log driver, its options checked now (a bad max-size is create's 400, not a
    failed start later)."""
    from dockyard.engine.lifecycle import parse_size

    cfg = host_config.get("LogConfig") or {}
    driver = cfg.get("Type") or backend.config.log_driver or "json-file"
    if driver not in LOG_DRIVERS:
        raise InvalidArgument(f"logger: no log driver named '{driver}' is registered")
    opts = cfg.get("Config") or {}
    for key in opts:
        if key not in LOG_OPTS[driver]:
            raise InvalidArgument(f"unknown log opt '{key}' for {driver} log driver")
    parse_size(opts.get("max-size"))
    max_file = opts.get("max-file")
    if max_file is not None and (not str(max_file).isdigit() or int(max_file) < 1):
        raise InvalidArgument("max-file cannot be less than 1")
    return driver


def create(backend: Backend, store: ContainerStore, body: dict[str, Any],
           name: str | None, taken: Any = None) -> Created:
    from dockyard.engine.hostconfig import normalize_host_config, validate_create
    from dockyard.engine.imageconfig import fill_hostname, merge_image_config
    from dockyard.engine.namesgen import generate_name
    from dockyard.engine.restart import check_policy
    from dockyard.engine.spec_sysinfo import adapt_resources

    config, host_config, net_config = split_body(body)
    if name:
        name = check_name(name)
        if store.name_taken(name):
            holder = store.resolve(name).id
            raise name_conflict(name, holder)
    else:
        name = generate_name(store.name_taken)
    warnings: list[str] = []
    svc = backend.open_images()
    try:
        try:
            image = svc.store.resolve(config["Image"])
        except NotFound:
            raise NotFound(f"No such image: {_familiar(config['Image'])}") from None
        image_cfg = image_config_doc(svc, image)
        cid = new_id()
        config = merge_image_config(config, image_cfg)
        host_config = _daemon_defaults(host_config, backend)
        host_config = _resolve_container_modes(host_config, store)
        config = fill_hostname(config, host_config.get("NetworkMode") or "", cid)
        validate_create(config, host_config)
        host_config, warnings = adapt_resources(host_config)
        warnings = list(warnings)
        host_config = normalize_host_config(
            host_config, default_runtime=backend.config.default_runtime or "dockyard")
        check_policy(host_config.get("RestartPolicy") or {})
        if (host_config.get("AutoRemove")
                and (host_config.get("RestartPolicy") or {}).get("Name") not in ("", "no",
                                                                                  None)):
            raise InvalidArgument("can't create 'AutoRemove' container with restart policy")
        driver = log_driver(host_config, backend)
        mounts = _plan_mounts(backend, store, config, host_config, image_cfg)
        key = _prepare_rw(svc, store, cid, image)
        try:
            snap_mounts = svc.snapshotter.mounts(key)
            rec = ContainerRecord(
                id=cid, name=name, created=now_rfc3339(), image_id=str(image.id),
                image_ref=config["Image"], config=config, host_config=host_config,
                networking_config=net_config, state=ContainerState(),
                snapshot_key=key, mounts=[m.to_dict() for m in mounts],
                network_settings=_initial_network_settings(host_config),
                data_root=store.data_root, exec_root=store.exec_root,
                graph_data=graph_data(snap_mounts, str(rootfs.upper_dir(svc, key))),
                driver="overlay2" if type(svc.snapshotter).__name__.startswith("Overlay")
                else "vfs",
                log_driver=driver)
            rec.data_dir.mkdir(parents=True, exist_ok=True, mode=0o711)
            store.add(rec)
        except BaseException:
            rootfs.remove(svc, cid, key, rootfs_path(store, cid))
            shutil.rmtree(rootfs_data_dir(store, cid), ignore_errors=True)
            _release(backend, mounts)
            raise
    finally:
        svc.close()
    return Created(rec, warnings)


# image id -> its top snapshot, per data root: ``after_pull`` (a lease, two synced
# transactions) is needed once per image, not once per container.
_TOPS: dict[tuple[str, str], str | None] = {}


def _prepare_rw(svc: Any, store: ContainerStore, cid: str, image: Any) -> str:
    cache_key = (store.data_root, str(image.id))
    if cache_key in _TOPS:
        try:
            return rootfs.prepare(svc, cid, str(image.id), _TOPS[cache_key])
        except NotFound:   # the image's layers went away (rmi + GC): unpack again
            _TOPS.pop(cache_key, None)
            rootfs.unpin(svc, cid)
    top = svc.after_pull(image)
    key = rootfs.prepare(svc, cid, str(image.id), top)
    _TOPS[cache_key] = top
    return key


def rootfs_path(store: ContainerStore, cid: str):
    from pathlib import Path

    return Path(store.exec_root) / "containers" / cid / "rootfs"


def rootfs_data_dir(store: ContainerStore, cid: str):
    from pathlib import Path

    return Path(store.data_root) / "containers" / cid


def _familiar(text: str) -> str:
    try:
        from dockyard.image import reference as refs

        return refs.parse(text).with_default_tag().familiar()
    except DockyardError:
        return text


def _daemon_defaults(host_config: dict[str, Any], backend: Backend) -> dict[str, Any]:
    """daemon.json settings that fill HostConfig defaults (log driver, init, ...)."""
    cfg = backend.config
    out = dict(host_config)
    if not (out.get("LogConfig") or {}).get("Type"):
        out["LogConfig"] = {"Type": cfg.log_driver or "json-file",
                            "Config": dict(cfg.log_opts or {})}
    if out.get("Init") is None and cfg.init:
        out["Init"] = True
    return out


def _plan_mounts(backend: Backend, store: ContainerStore, config: dict, host_config: dict,
                 image_cfg: dict) -> list:
    from dockyard.engine.lifecycle import mount_plans
    from dockyard.engine.mounts import plan_mounts

    return plan_mounts(config, host_config, image_cfg, backend.volumes,
                       mounts_of=lambda ref: mount_plans(store.resolve(ref)))


def _resolve_container_modes(host_config: dict[str, Any], store: ContainerStore
                             ) -> dict[str, Any]:
    """dockerd stores ``container:<name>`` modes as ``container:<full id>``."""
    out = dict(host_config)
    for key in ("NetworkMode", "IpcMode", "PidMode"):
        value = out.get(key) or ""
        if value.startswith("container:"):
            ref = value.split(":", 1)[1]
            if not ref:
                raise InvalidArgument(f"invalid {key}: {value}")
            out[key] = "container:" + store.resolve(ref).id
    return out


def _release(backend: Backend, mounts: list) -> None:
    if not mounts:
        return
    try:
        from dockyard.engine.mounts import release_mounts
    except ImportError:
        return
    try:
        release_mounts(mounts, backend.volumes, remove_anonymous=True)
    except DockyardError:
        pass


def _initial_network_settings(host_config: dict[str, Any]) -> dict[str, Any]:
    return {"Bridge": "", "SandboxID": "", "HairpinMode": False,
            "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0, "Ports": {},
            "SandboxKey": "", "SecondaryIPAddresses": None, "SecondaryIPv6Addresses": None,
            "EndpointID": "", "Gateway": "", "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0, "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "",
            "MacAddress": "", "Networks": {}}


__all__ = ["CONFIG_KEYS", "Created", "check_name", "create", "split_body"]
