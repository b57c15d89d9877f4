"""GC: the pure mark-and-sweep, and collect() over a real store with a fake snapshotter."""

from __future__ import annotations

from types import SimpleNamespace

from dockyard.errors import Conflict
from dockyard.image import gc
from dockyard.image.digest import Digest
from dockyard.image.store import BlobRef, ImageStore, LayerRecord, NewImage


def test_unreachable_is_pure_mark_and_sweep():
    edges = {("image", "i"): [("blob", "m"), ("layer", "l2")],
             ("layer", "l2"): [("layer", "l1"), ("snapshot", "s2")],
             ("layer", "l1"): [("snapshot", "s1")],
             ("layer", "orphan"): [("snapshot", "s3")]}
    universe = {("blob", "m"), ("blob", "x"), ("layer", "l1"), ("layer", "l2"),
                ("layer", "orphan"), ("snapshot", "s1"), ("snapshot", "s2"),
                ("snapshot", "s3")}
    dead = gc.unreachable([("image", "i")], lambda n: edges.get(n, []), universe)
    assert dead == {("blob", "x"), ("layer", "orphan"), ("snapshot", "s3")}


def test_unreachable_handles_cycles_and_no_roots():
    edges = {("a", "1"): [("a", "2")], ("a", "2"): [("a", "1")]}
    assert gc.unreachable([("a", "1")], lambda n: edges.get(n, []),
                          {("a", "1"), ("a", "2")}) == set()
    assert gc.unreachable([], lambda n: [], {("a", "1")}) == {("a", "1")}


class FakeSnapshotter:
    """Snapshots with parents; refuses to remove a parent that has children."""

    def __init__(self) -> None:
        self.parents: dict[str, str | None] = {}

    def add(self, name: str, parent: str | None = None) -> None:
        self.parents[name] = parent

    def walk(self):
        return [SimpleNamespace(name=n) for n in self.parents]

    def remove(self, key: str) -> None:
        if any(p == key for p in self.parents.values()):
            raise Conflict(f"{key} has children")
        del self.parents[key]


def test_collect_frees_what_no_image_needs(tmp_path):
    store = ImageStore(tmp_path / "root")
    snaps = FakeSnapshotter()
    keep_blob = store.content.put_bytes(b"keep").digest
    drop_blob = store.content.put_bytes(b"drop").digest
    leased_blob = store.content.put_bytes(b"leased").digest
    c1, c2, c3 = (Digest.of_bytes(x) for x in (b"1", b"2", b"3"))
    store.add_layer(LayerRecord(c1, c1, None, 1, "s1"))
    store.add_layer(LayerRecord(c2, c2, c1, 1, "s2"))
    store.add_layer(LayerRecord(c3, c3, c2, 1, "s3"))
    snaps.add("s1")
    snaps.add("s2", "s1")
    snaps.add("s3", "s2")
    snaps.add("extract-dead", "s3")
    store.add_image(NewImage(Digest.of_bytes(b"id"), keep_blob, "m", (c1,),
                             (BlobRef(keep_blob, "manifest"),)))
    with store.lease() as lease:
        lease.add_blob(leased_blob)
        result = gc.collect(store, snaps)
    assert result.blobs == (drop_blob,)
    assert set(result.snapshots) == {"s2", "s3", "extract-dead"}
    assert set(result.layers) == {c2, c3}
    assert result.bytes_freed == 4
    assert store.content.exists(keep_blob) and store.content.exists(leased_blob)
    assert not store.content.exists(drop_blob)
    assert list(snaps.parents) == ["s1"]
    # Without the lease the leased blob goes too.
    assert gc.collect(store, snaps).blobs == (leased_blob,)
    store.close()


def test_collect_dry_run_deletes_nothing(tmp_path):
    store = ImageStore(tmp_path / "root")
    d = store.content.put_bytes(b"x").digest
    assert gc.collect(store, None, dry_run=True).blobs == (d,)
    assert store.content.exists(d)
    store.close()
