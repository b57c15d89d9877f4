"""Container housekeeping: prune, disk sizes, and the filesystem views cp/export/diff
use (volfs's archive code reads them through ContainerService.fs_view/upper_dir)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.engine import lifecycle
from dockyard.engine.model import ContainerRecord, parse_rfc3339
from dockyard.errors import DockyardError, InvalidArgument

if TYPE_CHECKING:
    from dockyard.engine.containers import ContainerService


def upper_dir(svc: ContainerService, ref: str) -> Path:
    """The overlay upperdir of the container's rw layer (``docker diff``)."""
    from dockyard.engine import rootfs

    rec = svc.get(ref)
    images = svc.backend.open_images()
    try:
        return rootfs.upper_dir(images, rec.snapshot_key)
    finally:
        images.close()


@contextlib.contextmanager
def fs_view(svc: ContainerService, ref: str) -> Iterator[Any]:
    """The container's filesystem for cp/export: the live rootfs of a running
    container, or the rw snapshot mounted for the duration (stopped ones)."""
    from dockyard.engine import rootfs
    from dockyard.engine.mounts import FsView
    from dockyard.image.mount import is_mountpoint_under

    rec = svc.get(ref)
    mounted_here = False
    if str(rec.rootfs) not in is_mountpoint_under(rec.bundle):
        images = svc.backend.open_images()
        try:
            rootfs.make_bundle(rec.bundle, rec.data_dir)
            rootfs.mount(images, rec.snapshot_key, rec.rootfs)
            mounted_here = True
        finally:
            images.close()
    try:
        yield FsView(rec.rootfs, lifecycle.mount_plans(rec))
    finally:
        if mounted_here:
            current = svc.store.get(rec.id) if svc.store.exists(rec.id) else None
            if current is None or current.state.status not in ("running", "paused"):
                rootfs.unmount(rec.rootfs)


async def prune(svc: ContainerService, filters: dict[str, list[str]]) -> dict[str, Any]:
    """``POST /containers/prune``: stopped containers, filtered by until/label/label!."""
    from dockyard.daemon.timefilter import parse_until

    for key in filters:
        if key not in ("until", "label", "label!"):
            raise InvalidArgument(f"invalid filter '{key}'")
    until = [parse_until(v) for v in filters.get("until", [])]
    deleted: list[str] = []
    reclaimed = 0
    for rec in svc.store.list():
        if rec.state.status not in ("exited", "created", "dead"):
            continue
        if until and not all(parse_rfc3339(rec.created) < u for u in until):
            continue
        labels = rec.labels
        if not all(_label_ok(labels, v) for v in filters.get("label", [])):
            continue
        if any(_label_ok(labels, v) for v in filters.get("label!", [])):
            continue
        try:
            size = await svc.backend.run(size_rw, svc, rec)
            await svc.remove(rec.id, force=False)
        except DockyardError:
            continue
        deleted.append(rec.id)
        reclaimed += size
    return {"ContainersDeleted": deleted or None, "SpaceReclaimed": reclaimed}


def size_rw(svc: ContainerService, rec: ContainerRecord) -> int:
    images = svc.backend.open_images()
    try:
        return images.snapshotter.usage(rec.snapshot_key).size
    except DockyardError:
        return 0
    finally:
        images.close()


def size_rootfs(svc: ContainerService, rec: ContainerRecord) -> int:
    from dockyard.image.digest import Digest

    images = svc.backend.open_images()
    try:
        try:
            base = images.store.get(Digest.parse(rec.image_id)).size
        except DockyardError:
            base = 0
    finally:
        images.close()
    return base + size_rw(svc, rec)


def _label_ok(labels: dict[str, str], wanted: str) -> bool:
    key, eq, value = wanted.partition("=")
    return key in labels and (not eq or labels[key] == value)


__all__ = ["fs_view", "prune", "size_rootfs", "size_rw", "upper_dir"]
