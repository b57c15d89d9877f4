"""Snapshots mounted for real: overlay whiteouts hide lower files, upperdir diffs
round-trip, deep stacks mount (relative lowerdirs, stacked helpers), copy fallback."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from dockyard.image.layers import Whiteouts, apply_layer
from dockyard.image.mount import is_mountpoint_under, mount_all, overlay_supported, unmount
from dockyard.image.snapshots import CopySnapshotter, OverlaySnapshotter, apply_to_snapshot
from tests.conftest import require_root
from tests.unit.image import tarkit as T

LOWER = T.tar(
    T.directory("etc"), T.file("etc/passwd", b"root:x:0:0\n"), T.file("etc/shadow", b"s"),
    T.directory("var"), T.directory("var/cache"), T.file("var/cache/a", b"a"),
    T.file("var/cache/b", b"b"), T.directory("opt"), T.file("opt/tool", b"tool"))
UPPER = T.tar(
    T.file("etc/.wh.shadow"), T.file(".wh.opt"),
    T.directory("var/cache"), T.file("var/cache/.wh..wh..opq"), T.file("var/cache/fresh", b"f"),
    T.file("etc/added", b"added"))


@pytest.fixture(autouse=True)
def _root() -> None:
    require_root()


@contextlib.contextmanager
def mounted(mounts, target: Path):
    target.mkdir(exist_ok=True)
    mount_all(mounts, target)
    try:
        yield target
    finally:
        unmount(target, mounts)


def _expect_merged(view: Path) -> None:
    assert (view / "etc/passwd").read_bytes() == b"root:x:0:0\n"
    assert not (view / "etc/shadow").exists(), "whiteout did not hide the lower file"
    assert not (view / "opt").exists()
    assert os.listdir(view / "var/cache") == ["fresh"], "opaque dir still shows lower files"
    assert (view / "etc/added").read_bytes() == b"added"


def _two_layers(s) -> None:
    s.prepare("k1")
    apply_to_snapshot(s, "k1", io.BytesIO(LOWER))
    s.commit("l1", "k1")
    s.prepare("k2", "l1")
    apply_to_snapshot(s, "k2", io.BytesIO(UPPER))
    s.commit("l2", "k2")


def test_overlay_whiteouts_hide_lower_entries_when_mounted(tmp_path: Path) -> None:
    s = OverlaySnapshotter(tmp_path / "snaps")
    _two_layers(s)
    upper = Path(s.fs_of(s.stat("l2").id))
    st = os.lstat(upper / "etc/shadow")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert os.getxattr(upper / "var/cache", "trusted.overlay.opaque") == b"y"
    with mounted(s.view("v", "l2"), tmp_path / "mnt") as view:
        _expect_merged(view)
    s.remove("v")
    assert not is_mountpoint_under(tmp_path)


def test_copy_snapshotter_applies_whiteouts_flat(tmp_path: Path) -> None:
    s = CopySnapshotter(tmp_path / "snaps")
    _two_layers(s)
    with mounted(s.view("v", "l2"), tmp_path / "mnt") as view:
        _expect_merged(view)
        with pytest.raises(OSError):
            (view / "etc/new").write_bytes(b"read-only view")


def _change_through_mount(root: Path) -> None:
    (root / "etc/passwd").write_bytes(b"root:x:0:0\nuser:x:1000:1000\n")  # copy-up
    os.chmod(root / "etc/added", 0o600)  # metadata-only copy-up
    (root / "etc/added").unlink()
    shutil.rmtree(root / "var/cache")  # a dir that was opaque in the lower
    (root / "var/cache").mkdir()
    (root / "var/cache/again").write_bytes(b"again")
    (root / "newdir/sub").mkdir(parents=True)
    (root / "newdir/sub/file").write_bytes(os.urandom(50_000))
    os.link(root / "newdir/sub/file", root / "newdir/hard")
    os.symlink("../etc/passwd", root / "newdir/link")


@pytest.mark.parametrize("impl", ["overlay", "copy"])
def test_upper_diff_round_trips_through_apply(tmp_path: Path, impl: str) -> None:
    cls = OverlaySnapshotter if impl == "overlay" else CopySnapshotter
    s = cls(tmp_path / "snaps")
    _two_layers(s)
    mounts = s.prepare("work", "l2")
    with mounted(mounts, tmp_path / "mnt") as work:
        _change_through_mount(work)
        expected = T.tree_state(work)
    layer = io.BytesIO()
    stats = s.diff("work", layer)
    assert stats.whiteouts >= 1
    # into another snapshot of the same parent, in that snapshotter's own form
    s.prepare("replay", "l2")
    layer.seek(0)
    apply_to_snapshot(s, "replay", layer)
    s.commit("l3", "replay")
    with mounted(s.view("v3", "l3"), tmp_path / "mnt3") as replay:
        assert T.tree_state(replay) == expected
        assert T.link_groups(replay) == {frozenset({"newdir/hard", "newdir/sub/file"})}
    # and flat, onto a plain copy of the parent
    flat = tmp_path / "flat"
    flat.mkdir()
    with mounted(s.view("v2", "l2"), tmp_path / "mnt2") as parent:
        subprocess.run(["cp", "-a", f"{parent}/.", str(flat)], check=True)
    layer.seek(0)
    apply_layer(layer, flat, whiteouts=Whiteouts.FLAT)
    assert T.tree_state(flat) == expected
    for key in ("v2", "v3", "work", "l3", "l2", "l1"):
        s.remove(key)


def _deep_chain(s: OverlaySnapshotter, n: int) -> str:
    parent = None
    for i in range(n):
        s.prepare(f"k{i}", parent)
        apply_to_snapshot(s, f"k{i}", io.BytesIO(T.tar(T.file(f"layer{i}", str(i).encode()),
                                                      T.file("top", str(i).encode()))))
        s.commit(f"l{i}", f"k{i}")
        parent = f"l{i}"
    return parent


def test_deep_stack_mounts_with_relative_lowerdirs(tmp_path: Path) -> None:
    s = OverlaySnapshotter(tmp_path / ("long-directory-name-" * 4))
    top = _deep_chain(s, 120)
    mounts = s.prepare("work", top)
    assert len(mounts) == 1 and mounts[0].cwd, "expected the relative-path form"
    assert len(",".join(mounts[0].options)) < 4096
    cwd = os.getcwd()
    with mounted(mounts, tmp_path / "mnt") as m:
        assert (m / "layer0").read_bytes() == b"0" and (m / "layer119").read_bytes() == b"119"
        assert (m / "top").read_bytes() == b"119"
        (m / "written").write_bytes(b"w")
    assert os.getcwd() == cwd, "the mount changed the process's cwd"
    assert (Path(s.fs_of(s.stat("work").id)) / "written").exists()


def test_stacked_helper_mounts_when_one_page_is_not_enough(tmp_path: Path) -> None:
    s = OverlaySnapshotter(tmp_path / "snaps", max_option_bytes=300)
    top = _deep_chain(s, 50)
    mounts = s.prepare("work", top)
    assert len(mounts) > 1
    with mounted(mounts, tmp_path / "mnt") as m:
        assert (m / "layer0").read_bytes() == b"0" and (m / "top").read_bytes() == b"49"
        assert len(is_mountpoint_under(tmp_path)) == len(mounts)
    assert not is_mountpoint_under(tmp_path)


def test_overlay_probe(tmp_path: Path) -> None:
    assert overlay_supported(tmp_path) is True
    assert os.listdir(tmp_path) == []


def test_unmount_is_idempotent(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    unmount(tmp_path / "m")
