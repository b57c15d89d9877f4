"""The Snapshotter conformance suite (bookkeeping half), run by every implementation.

Mounting is exercised in tests/integration/image/test_snapshots_mount.py; here
the lifecycle rules, the records and the shape of the described mounts.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from dockyard.errors import Conflict, InvalidArgument, NotFound
from dockyard.image.mount import MountSpec
from dockyard.image.snapshots import (
    CopySnapshotter,
    Kind,
    OverlaySnapshotter,
    Snapshotter,
    apply_to_snapshot,
)
from tests.unit.image import tarkit as T

IMPLS = {"overlay": OverlaySnapshotter, "copy": CopySnapshotter}


@pytest.fixture(params=sorted(IMPLS))
def snap(request: pytest.FixtureRequest, tmp_path: Path) -> Snapshotter:
    return IMPLS[request.param](tmp_path / "snaps")


def _layer(s: Snapshotter, key: str, parent: str | None, name: str, tar: bytes) -> None:
    s.prepare(key, parent)
    apply_to_snapshot(s, key, io.BytesIO(tar))
    s.commit(name, key)


def test_prepare_commit_walk_remove(snap: Snapshotter) -> None:
    mounts = snap.prepare("k1")
    assert mounts and all(isinstance(m, MountSpec) for m in mounts)
    assert snap.stat("k1").kind is Kind.ACTIVE
    snap.commit("l1", "k1")
    with pytest.raises(NotFound):
        snap.stat("k1")
    info = snap.stat("l1")
    assert info.kind is Kind.COMMITTED and info.parent is None
    snap.prepare("k2", "l1", labels={"purpose": "test"})
    assert snap.stat("k2").labels == {"purpose": "test"}
    assert [i.name for i in snap.walk()] == ["k2", "l1"]
    assert snap.exists("l1") and not snap.exists("k1")
    with pytest.raises(Conflict):
        snap.remove("l1")  # k2 stands on it
    snap.remove("k2")
    snap.remove("l1")
    assert list(snap.walk()) == []
    assert os.listdir(os.path.join(snap.root, "snapshots")) == []


def test_errors_have_the_right_kinds(snap: Snapshotter) -> None:
    snap.prepare("a")
    with pytest.raises(Conflict):
        snap.prepare("a")
    with pytest.raises(NotFound):
        snap.prepare("b", "missing")
    with pytest.raises(InvalidArgument):
        snap.prepare("b", "a")  # parent not committed
    snap.view("v")
    with pytest.raises(InvalidArgument):
        snap.commit("x", "v")  # views are never committed
    snap.commit("c", "a")
    with pytest.raises(InvalidArgument):
        snap.mounts("c")
    snap.prepare("d")
    with pytest.raises(Conflict):
        snap.commit("c", "d")
    with pytest.raises(NotFound):
        snap.remove("nope")
    with pytest.raises(InvalidArgument):
        snap.prepare("")


def test_records_survive_a_new_instance(snap: Snapshotter) -> None:
    _layer(snap, "k", None, "base", T.tar(T.file("f", b"1")))
    again = type(snap)(snap.root)
    assert again.stat("base").kind is Kind.COMMITTED
    with open(os.path.join(snap.root, "metadata.json")) as f:
        assert "base" in json.load(f)["snapshots"]


def test_layers_apply_into_active_snapshots(snap: Snapshotter) -> None:
    _layer(snap, "k1", None, "l1", T.tar(T.file("a", b"1"), T.file("b", b"2")))
    _layer(snap, "k2", "l1", "l2", T.tar(T.file(".wh.a"), T.file("c", b"3")))
    usage = snap.usage("l2")
    assert usage.inodes >= 1
    target = snap.layer_target(snap.prepare("k3", "l2") and "k3")
    assert os.path.isdir(target.path)


def test_diff_of_active_snapshot_holds_the_changes(snap: Snapshotter) -> None:
    _layer(snap, "k1", None, "l1", T.tar(T.file("a", b"1"), T.file("b", b"2")))
    snap.prepare("k2", "l1")
    target = snap.layer_target("k2")
    with open(os.path.join(target.path, "new"), "wb") as f:
        f.write(b"new")
    buf = io.BytesIO()
    stats = snap.diff("k2", buf)
    assert stats.entries >= 1


def test_cleanup_removes_orphans(snap: Snapshotter) -> None:
    snap.prepare("k")
    orphan = os.path.join(snap.root, "snapshots", "999")
    os.makedirs(orphan)
    assert snap.cleanup() == 1
    assert not os.path.exists(orphan)
    assert snap.stat("k")


def _chain(s: OverlaySnapshotter, n: int) -> str:
    parent = None
    for i in range(n):
        s.prepare(f"k{i}", parent)
        s.commit(f"l{i}", f"k{i}")
        parent = f"l{i}"
    return parent


def test_overlay_mounts_list_lowers_newest_first(tmp_path: Path) -> None:
    s = OverlaySnapshotter(tmp_path / "s")
    top = _chain(s, 3)
    (m,) = s.prepare("work", top)
    assert m.type == "overlay" and m.cwd is None
    lower = next(o for o in m.options if o.startswith("lowerdir="))
    ids = [p.split("/")[-2] for p in lower[len("lowerdir="):].split(":")]
    assert ids == ["3", "2", "1"]
    assert any(o.startswith("upperdir=") for o in m.options)
    assert "index=off" in m.options


def test_deep_overlay_switches_to_relative_paths(tmp_path: Path) -> None:
    deep_root = tmp_path / ("d" * 200)
    s = OverlaySnapshotter(deep_root)
    top = _chain(s, 40)
    (m,) = s.prepare("work", top)
    assert m.cwd == os.path.join(str(deep_root), "snapshots")
    assert "lowerdir=40/fs:39/fs" in m.data
    assert len(m.data) < 4096


def test_too_deep_for_one_page_stacks_helper_overlays(tmp_path: Path) -> None:
    s = OverlaySnapshotter(tmp_path / "s", max_option_bytes=200)
    top = _chain(s, 60)
    mounts = s.prepare("work", top)
    helpers, main = mounts[:-1], mounts[-1]
    assert helpers and all(h.target and h.readonly for h in helpers)
    assert main.target is None and all(len(m.data) <= 200 for m in mounts)
    covered = []
    for h in helpers:
        covered += h.data.split(",")[0][len("lowerdir="):].split(":")
    assert covered == [f"{i}/fs" for i in range(60, 0, -1)]


def test_views(snap: Snapshotter) -> None:
    _layer(snap, "k1", None, "l1", T.tar(T.file("a", b"1")))
    (m,) = snap.view("v1", "l1")
    assert m.readonly
    snap.remove("v1")
