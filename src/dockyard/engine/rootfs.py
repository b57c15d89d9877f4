"""A container's root filesystem: its rw snapshot, the rootfs mount, the bundle dirs.

The rw layer is an *active* snapshot (key ``container-<id>``) on top of the image's
top committed snapshot, made at create and removed at ``rm``; it is mounted at
``<bundle>/rootfs`` while the container runs (and briefly for ``cp``/``export`` of
a stopped one) and unmounted at exit, so a stopped container holds no mount.

Image GC must not take a container's rw layer, and ``rmi`` must see the container's
image in use: both are image-store pins owned by ``container:<id>`` (they outlive
daemons), made before the snapshot exists and dropped after it is gone.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from dockyard.errors import NotFound

if TYPE_CHECKING:
    from dockyard.image.service import ImageService


def snapshot_key(cid: str) -> str:
    return f"container-{cid}"


def prepare(images: ImageService, cid: str, image_id: str, parent: str | None) -> str:
    """Make the container's rw snapshot; returns its key. Pinned before it exists,
    so GC never sees it unprotected."""
    key = snapshot_key(cid)
    pin(images, cid, image_id, key)
    images.snapshotter.prepare(key, parent, labels={"dockyard.container": cid})
    return key


def remove(images: ImageService, cid: str, key: str, rootfs: Path) -> None:
    """Unmount (if still mounted), drop the rw snapshot (missing is fine), then the
    container's pins."""
    from dockyard.image.mount import unmount

    if key:
        with contextlib.suppress(FileNotFoundError):
            unmount(rootfs)
        with contextlib.suppress(NotFound):
            images.snapshotter.remove(key)
    unpin(images, cid)


def mount(images: ImageService, key: str, rootfs: Path) -> None:
    """Mount the rw snapshot at ``rootfs`` (created if needed); no-op if mounted."""
    from dockyard.image.mount import is_mountpoint_under, mount_all

    rootfs.mkdir(parents=True, exist_ok=True)
    if str(rootfs.resolve()) in is_mountpoint_under(rootfs):
        return
    mount_all(images.snapshotter.mounts(key), rootfs)


def unmount(rootfs: Path) -> None:
    from dockyard.image.mount import is_mountpoint_under
    from dockyard.image.mount import unmount as _unmount

    try:
        points = is_mountpoint_under(rootfs)
    except FileNotFoundError:
        return
    for point in sorted(points, key=len, reverse=True):
        _unmount(point)


def upper_dir(images: ImageService, key: str) -> Path:
    """The overlay upperdir (or the copy snapshotter's full tree) of the rw layer."""
    return Path(images.snapshotter.layer_target(key).path)


def make_bundle(bundle: Path, data_dir: Path) -> None:
    bundle.mkdir(parents=True, exist_ok=True, mode=0o711)
    (bundle / "rootfs").mkdir(exist_ok=True)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o711)


def remove_bundle(bundle: Path) -> None:
    unmount(bundle / "rootfs")
    shutil.rmtree(bundle, ignore_errors=True)


# --- GC pins: the image store's pins, owned by "container:<id>" ------------------------

def owner(cid: str) -> str:
    from dockyard.image.service import CONTAINER_PIN

    return CONTAINER_PIN + cid


def pin(images: ImageService, cid: str, image_id: str, key: str) -> None:
    """The container's image (rmi sees its users) and rw snapshot (GC keeps it)."""
    images.store.pin(owner(cid), "image", image_id)
    images.store.pin(owner(cid), "snapshot", key)


def unpin(images: ImageService, cid: str) -> None:
    images.store.unpin(owner(cid))


__all__ = ["make_bundle", "mount", "owner", "pin", "prepare", "remove", "remove_bundle",
           "snapshot_key", "unmount", "unpin", "upper_dir"]
