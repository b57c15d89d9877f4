"""A container's mounts: planned at create, described for the OCI spec and inspect.

:func:`plan_mounts` turns ``HostConfig.Binds``, ``HostConfig.Mounts``,
``HostConfig.Tmpfs`` and the ``Volumes`` of the config and image into
:class:`MountPlan` values, following dockerd's ``registerMountPoints``:

1. every request is parsed and checked first (``mountspec.py``), so a bad one
   changes nothing: no volume is created, no directory made;
2. a destination named twice by Binds, Mounts or Tmpfs is "Duplicate mount
   point: /x"; an image or config ``VOLUME`` whose destination is already covered
   is skipped silently;
3. missing ``Binds`` sources are created as directories (``Mounts`` refuses them);
4. named volumes are created when missing (with the ``VolumeOptions`` labels and
   driver options), anonymous ones get 64-hex names, and each volume is held
   (:meth:`VolumeService.acquire`, which mounts driver-option volumes) until
   :func:`release_mounts`. If a later step fails, what was done is undone.

:func:`copy_up` is docker's copy rule: a volume that is empty when the container
is created gets a copy of what the image has at the destination (owners, modes,
times, xattrs kept), unless ``nocopy``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.engine.mountspec import (
    DEFAULT_BIND_PROPAGATION,
    MountRequest,
    merge_tmpfs_options,
    parse_bind,
    parse_mount,
    parse_tmpfs,
)
from dockyard.errors import DockyardError, InvalidArgument

if TYPE_CHECKING:
    from dockyard.engine.volumes import VolumeService

log = logging.getLogger("dockyard.engine")


@dataclass(frozen=True)
class MountPlan:
    """One mount of a container, everything the spec and inspect need."""

    type: str            # bind | volume | tmpfs
    source: str          # host path (volume: its _data dir); "" for tmpfs
    destination: str
    read_only: bool = False
    propagation: str = ""
    options: tuple[str, ...] = ()   # bind: ("rbind",) or ("bind",); tmpfs: its options
    name: str = ""
    driver: str = ""
    mode: str = ""
    copy_up: bool = False
    anonymous: bool = False
    hidden: bool = False   # HostConfig.Tmpfs mounts: in the spec, not in inspect's Mounts

    def to_oci(self) -> dict[str, Any]:
        """The runtime-spec ``mounts[]`` entry."""
        if self.type == "tmpfs":
            opts = list(merge_tmpfs_options(self.options))
            if self.read_only:
                opts.append("ro")
            return {"destination": self.destination, "type": "tmpfs", "source": "tmpfs",
                    "options": opts}
        kind = next((o for o in self.options if o in ("bind", "rbind")), "rbind")
        opts = [kind, "ro" if self.read_only else "rw",
                self.propagation or DEFAULT_BIND_PROPAGATION]
        opts += [o for o in self.options if o not in ("bind", "rbind")]
        return {"destination": self.destination, "type": "bind", "source": self.source,
                "options": opts}

    def to_inspect(self) -> dict[str, Any]:
        """Docker's inspect ``Mounts`` entry."""
        doc: dict[str, Any] = {"Type": self.type}
        if self.type == "volume":
            doc["Name"] = self.name
        doc["Source"] = self.source
        doc["Destination"] = self.destination
        if self.type == "volume":
            doc["Driver"] = self.driver or "local"
        doc.update({"Mode": self.mode, "RW": not self.read_only,
                    "Propagation": self.propagation})
        return doc

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["options"] = list(self.options)
        return doc

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MountPlan:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        known["options"] = tuple(known.get("options") or ())
        return cls(**known)


@dataclass(frozen=True)
class FsView:
    """What the engine's ``fs_view()`` yields for cp/export: the container's mounted
    rootfs and its mounts (``engine/fsview.py`` resolves paths over them)."""

    rootfs: Path
    mounts: list[MountPlan] = field(default_factory=list)
    read_only: bool = False     # HostConfig.ReadonlyRootfs
    container: str = ""         # how messages name the container


def inspect_mounts(plans: Iterable[MountPlan]) -> list[dict[str, Any]]:
    """inspect's ``Mounts``: every plan but ``--tmpfs`` ones (dockerd hides those)."""
    return [p.to_inspect() for p in plans if not p.hidden]


def _volume_keys(config: dict[str, Any] | None) -> list[str]:
    vols = (config or {}).get("Volumes") or {}
    if isinstance(vols, dict):
        return list(vols)
    if isinstance(vols, list):
        return [v for v in vols if isinstance(v, str)]
    raise InvalidArgument("Volumes must be a JSON object")


def parse_requests(config: dict[str, Any], host_config: dict[str, Any],
                   image_config: dict[str, Any] | None,
                   covered: Iterable[str] = ()) -> list[MountRequest]:
    """Every mount the create body asks for, checked, duplicates refused.
    ``covered``: destinations already mounted (from ``VolumesFrom``)."""
    from dockyard.engine.mountspec import _check_target

    hc = host_config or {}
    volume_driver = hc.get("VolumeDriver") or ""
    taken: set[str] = set()
    reqs: list[MountRequest] = []

    def add(req: MountRequest) -> None:
        if req.target in taken:
            raise InvalidArgument(f"Duplicate mount point: {req.target}")
        taken.add(req.target)
        reqs.append(req)

    tmpfs = hc.get("Tmpfs") or {}
    if not isinstance(tmpfs, dict):
        raise InvalidArgument("Tmpfs must be a JSON object")
    tmpfs_reqs = [parse_tmpfs(dst, opts) for dst, opts in tmpfs.items()]
    binds = hc.get("Binds") or []
    if not isinstance(binds, list):
        raise InvalidArgument("Binds must be a list")
    for raw in binds:
        req = parse_bind(raw)
        if req.type == "volume" and volume_driver:
            req = dataclasses.replace(req, driver=volume_driver)
        add(req)
    mounts = hc.get("Mounts") or []
    if not isinstance(mounts, list):
        raise InvalidArgument("Mounts must be a list")
    for m in mounts:
        add(parse_mount(m))
    for req in tmpfs_reqs:
        add(req)
    seen_volumes: set[str] = set()
    for dst in [*_volume_keys(image_config), *_volume_keys(config)]:
        target = _check_target("volume", dst)
        if target in taken or target in seen_volumes or target in covered:
            continue   # a bind, volume or tmpfs already covers it
        seen_volumes.add(target)
        reqs.append(MountRequest(type="volume", source="", target=target, origin="volumes"))
    return reqs


def _volumes_from(host_config: dict[str, Any],
                  mounts_of: Callable[[str], list[MountPlan]] | None) -> list[MountPlan]:
    """``HostConfig.VolumesFrom`` (``container[:ro|rw]``): the other container's
    bind and volume mounts, read-only or read-write as asked (else as they were)."""
    out: list[MountPlan] = []
    for item in (host_config or {}).get("VolumesFrom") or []:
        if not isinstance(item, str) or not item:
            raise InvalidArgument("VolumesFrom entries must be container names or ids")
        ref, _, mode = item.partition(":")
        if mode not in ("", "ro", "rw"):
            raise InvalidArgument(f"invalid mode: {mode}")
        if mounts_of is None:
            raise InvalidArgument("VolumesFrom is not available in this daemon")
        for plan in mounts_of(ref):
            if plan.type == "tmpfs":
                continue
            ro = plan.read_only if not mode else mode == "ro"
            out.append(dataclasses.replace(plan, read_only=ro, copy_up=False, hidden=False))
    return out


def plan_mounts(config: dict[str, Any], host_config: dict[str, Any],
                image_config: dict[str, Any] | None, volumes: VolumeService, *,
                mounts_of: Callable[[str], list[MountPlan]] | None = None
                ) -> list[MountPlan]:
    """The container's mounts; volumes made and held (see the module docstring).

    The caller owns the result: :func:`release_mounts` gives the holds back (and
    removes the anonymous volumes with ``remove_anonymous``), also when the
    container's creation fails after this returned. ``mounts_of(ref)`` gives
    another container's plans, for ``HostConfig.VolumesFrom`` (NotFound if none).
    """
    from dockyard.engine.volumes import validate_name

    inherited = _volumes_from(host_config, mounts_of)
    reqs = parse_requests(config, host_config, image_config,
                          covered={p.destination for p in inherited})
    own = {r.target for r in reqs}
    inherited = [p for p in inherited if p.destination not in own]   # Binds win
    for req in reqs:
        if req.type != "volume":
            continue
        if req.source:
            validate_name(req.source)
        if req.driver not in ("", "local"):
            # only the local driver exists: this raises dockerd's "plugin not found"
            volumes.create({"Name": req.source, "Driver": req.driver})
    plans: list[MountPlan] = []
    created: list[str] = []
    try:
        for plan in inherited:
            if plan.type == "volume" and plan.name:
                volumes.acquire(plan.name)
            plans.append(plan)
        for req in reqs:
            plans.append(_realize(req, volumes, created))
    except BaseException:
        release_mounts(plans, volumes, remove_anonymous=True)
        for name in created:
            _drop_volume(volumes, name)
        raise
    return sorted(plans, key=lambda p: p.destination)


def _realize(req: MountRequest, volumes: VolumeService, created: list[str]) -> MountPlan:
    if req.type == "bind":
        if req.origin == "binds" and not os.path.lexists(req.source):
            try:
                os.makedirs(req.source, 0o755, exist_ok=True)
            except OSError as e:
                raise InvalidArgument(f"error while creating mount source path "
                                      f"'{req.source}': {e.strerror}") from None
        return MountPlan(type="bind", source=req.source, destination=req.target,
                         read_only=req.read_only, propagation=req.propagation,
                         options=("rbind",) if req.recursive else ("bind",),
                         mode=req.mode)
    if req.type == "tmpfs":
        return MountPlan(type="tmpfs", source="", destination=req.target,
                         read_only=req.read_only, options=req.tmpfs_options,
                         hidden=req.origin == "tmpfs")
    name = req.source
    if not name or not volumes.exists(name):
        body: dict[str, Any] = {"Name": name}
        if req.labels is not None:
            body["Labels"] = req.labels
        if req.driver_opts is not None:
            body["DriverOpts"] = req.driver_opts
        doc = volumes.create(body, anonymous=not name)
        name = doc["Name"]
        created.append(name)
    path = volumes.acquire(name)
    mode = req.mode
    if req.origin == "binds" and not mode:
        mode = "z"   # dockerd: a local-driver volume from Binds shows mode "z"
    return MountPlan(type="volume", source=path, destination=req.target,
                     read_only=req.read_only, name=name, driver="local", mode=mode,
                     copy_up=not req.nocopy, anonymous=not req.source)


def _drop_volume(volumes: VolumeService, name: str) -> None:
    try:
        volumes.remove(name, force=True, in_use=lambda _n: [])
    except DockyardError as e:
        log.warning("volume %s: not removed: %s", name, e.message)


def release_mounts(plans: Iterable[MountPlan], volumes: VolumeService,
                   remove_anonymous: bool) -> None:
    """Give back the holds of :func:`plan_mounts` (``docker rm``); with
    ``remove_anonymous`` (``rm -v``) anonymous volumes no one else holds are
    removed. Named volumes always stay. Errors are logged, never raised: removal
    must go on."""
    for plan in plans:
        if plan.type != "volume" or not plan.name:
            continue
        try:
            volumes.release(plan.name)
            if remove_anonymous and plan.anonymous and volumes.refs(plan.name) == 0:
                volumes.remove(plan.name, in_use=lambda _n: [])
        except DockyardError as e:
            log.warning("volume %s: %s", plan.name, e.message)
        except OSError as e:
            log.warning("volume %s: %s", plan.name, e)


def activate_mounts(plans: Iterable[MountPlan], volumes: VolumeService) -> None:
    """Before a start: mount held driver-option volumes again if a reboot dropped
    them. Cheap when nothing is to do."""
    for plan in plans:
        if plan.type == "volume" and plan.name:
            volumes.ensure_mounted(plan.name)


def copy_up(plans: Iterable[MountPlan], rootfs: Path | str) -> None:
    """Fill each empty, copy-enabled volume with the image's content at its
    destination (``rootfs`` is the container's mounted root)."""
    from dockyard.engine.copyup import copy_into_volume

    for plan in plans:
        if plan.type == "volume" and plan.copy_up:
            copy_into_volume(Path(rootfs), plan.destination, Path(plan.source))


__all__ = ["FsView", "MountPlan", "activate_mounts", "copy_up", "inspect_mounts", "parse_requests",
           "plan_mounts", "release_mounts"]
