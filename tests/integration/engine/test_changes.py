"""docker diff from a real overlay upperdir (kernel whiteouts and opaque directories)."""

from __future__ import annotations

import os
import shutil
import tarfile
from pathlib import Path

from dockyard.engine.changes import ADDED, DELETED, MODIFIED, changes
from dockyard.image.mount import MountSpec, mount_all, unmount
from dockyard.image.snapshots import OverlaySnapshotter


def _mutate(merged: Path) -> None:
    with open(merged / "etc" / "passwd", "a") as f:
        f.write("x:x:1:1::/:/bin/sh\n")
    (merged / "etc" / "group").unlink()
    (merged / "newd" / "sub").mkdir(parents=True)
    (merged / "newd" / "sub" / "f").write_text("f")
    (merged / "tmp" / "t").write_text("t")
    shutil.rmtree(merged / "usr" / "sbin")
    (merged / "usr" / "sbin").mkdir()            # opaque now
    (merged / "usr" / "sbin" / "z").write_text("z")
    (merged / "etc" / "hosts").write_text("")     # the engine's own: not reported


def test_changes_of_an_overlay_upperdir(busybox_rootfs: Path, tmp_path: Path):
    upper, work, merged = tmp_path / "upper", tmp_path / "work", tmp_path / "merged"
    for d in (upper, work, merged):
        d.mkdir()
    spec = MountSpec("overlay", "overlay", (f"lowerdir={busybox_rootfs}", f"upperdir={upper}",
                                            f"workdir={work}", "index=off", "metacopy=off",
                                            "redirect_dir=off"))
    lower_sbin = sorted(os.listdir(busybox_rootfs / "usr" / "sbin"))
    mount_all([spec], merged)
    try:
        _mutate(merged)
    finally:
        unmount(merged)
    got = {c["Path"]: c["Kind"] for c in changes(upper, lowers=[busybox_rootfs])}
    expected = {"/etc": MODIFIED, "/etc/passwd": MODIFIED, "/etc/group": DELETED,
                "/newd": ADDED, "/newd/sub": ADDED, "/newd/sub/f": ADDED,
                "/tmp": MODIFIED, "/tmp/t": ADDED, "/usr": MODIFIED, "/usr/sbin": MODIFIED,
                "/usr/sbin/z": ADDED}
    expected.update({f"/usr/sbin/{n}": DELETED for n in lower_sbin})
    assert got == expected


def test_changes_find_lowers_through_the_snapshotter(busybox_rootfs: Path, tmp_path: Path):
    snaps = OverlaySnapshotter(tmp_path / "snaps")
    layer = tmp_path / "layer.tar"
    with tarfile.open(layer, "w") as t:
        t.add(busybox_rootfs, arcname=".")
    snaps.prepare("base-active")
    from dockyard.image.snapshots import apply_to_snapshot

    with open(layer, "rb") as f:
        apply_to_snapshot(snaps, "base-active", f)
    snaps.commit("base", "base-active")
    mounts = snaps.prepare("ctr-rw", "base")
    merged = tmp_path / "merged"
    merged.mkdir()
    mount_all(mounts, merged)
    try:
        (merged / "etc" / "passwd").unlink()
        (merged / "added").write_text("a")
    finally:
        unmount(merged, mounts)
    upper = Path(snaps.fs_of(snaps.stat("ctr-rw").id))
    assert changes(upper) == [{"Path": "/added", "Kind": ADDED},
                              {"Path": "/etc", "Kind": MODIFIED},
                              {"Path": "/etc/passwd", "Kind": DELETED}]
