"""A container's root filesystem: its rw snapshot, the rootfs mount, the bundle dirs.

The rw layer is an *active* snapshot (key ``container-<id>``) on top of the image's
top committed snapshot, made at create and removed at ``rm``; it is mounted at
``<bundle>/rootfs`` while the container runs (and briefly for ``cp``/``export`` of
a stopped one) and unmounted at exit, so a stopped container holds no mount.

Image GC must not take a container's rw layer: every container snapshot is named
in one image-store lease owned by the daemon's pid (``pin``/``unpin``), re-made at
each daemon start (the old daemon's lease dies with its pid).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from dockyard.errors import NotFound

if TYPE_CHECKING:
    from dockyard.image.service import ImageService

PIN_LEASE = "dockyard-containers"


def snapshot_key(cid: str) -> str:
    return f"container-{cid}"


def prepare(images: ImageService, cid: str, parent: str | None) -> str:
    """Make the container's rw snapshot; returns its key. Pinned before it exists,
    so GC never sees it unprotected."""
    key = snapshot_key(cid)
    pin(images, [key])
    images.snapshotter.prepare(key, parent, labels={"dockyard.container": cid})
    return key


def remove(images: ImageService, key: str, rootfs: Path) -> None:
    """Unmount (if still mounted) and drop the rw snapshot; missing is fine."""
    from dockyard.image.mount import unmount

    if key:
        with contextlib.suppress(FileNotFoundError):
            unmount(rootfs)
        with contextlib.suppress(NotFound):
            images.snapshotter.remove(key)
        unpin(images, [key])


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


# --- GC pins (a lease row owned by the daemon pid) -----------------------------------

def pin(images: ImageService, keys: Iterable[str]) -> None:
    store = images.store
    with store._tx() as db:
        # an upsert, not REPLACE: a replaced row would cascade-delete its resources
        db.execute("INSERT INTO leases VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                   "pid = excluded.pid", (PIN_LEASE, os.getpid(), time.time()))
        for key in keys:
            db.execute("INSERT OR IGNORE INTO lease_resources VALUES (?, ?, ?)",
                       (PIN_LEASE, "snapshot", key))


def unpin(images: ImageService, keys: Iterable[str]) -> None:
    store = images.store
    with store._tx() as db:
        for key in keys:
            db.execute("DELETE FROM lease_resources WHERE lease_id = ? AND kind = ? "
                       "AND name = ?", (PIN_LEASE, "snapshot", key))


def repin_all(images: ImageService, keys: Iterable[str]) -> None:
    """Daemon start: one lease for this pid naming every container's snapshot."""
    store = images.store
    with store._tx() as db:
        db.execute("DELETE FROM leases WHERE id = ?", (PIN_LEASE,))
    pin(images, [k for k in keys if k])


__all__ = ["make_bundle", "mount", "pin", "prepare", "remove", "remove_bundle",
           "repin_all", "snapshot_key", "unmount", "unpin", "upper_dir"]
