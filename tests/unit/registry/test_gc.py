"""Registry GC: the pure mark, and sweeps of a real storage directory."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from dockyard.image.digest import Digest
from dockyard.registry.gc import collect, mark
from dockyard.registry.server import RegistryStorage
from tests.unit.registry.images import make_image, sha, tar_of
from tests.unit.registry.server.helpers import Harness, push_blob, push_image


def d(s: str) -> Digest:
    return Digest.of_bytes(s.encode())


def test_mark_follows_references_and_survives_cycles():
    graph = {d("idx"): [d("m1"), d("m2")], d("m1"): [d("c1"), d("l1")],
             d("m2"): [d("l1"), d("idx")], d("orphan"): [d("l9")]}
    live = mark([d("idx")], lambda x: graph.get(x, []))
    assert live == {d("idx"), d("m1"), d("m2"), d("c1"), d("l1")}
    assert mark([], lambda x: graph.get(x, [])) == set()


def _age(storage: RegistryStorage, digests, seconds: float) -> None:
    old = time.time() - seconds
    for dg in digests:
        os.utime(storage.content.blob_path(Digest.parse(dg)), (old, old))


def test_gc_removes_only_unreferenced_blobs_past_the_grace(tmp_path: Path):
    img = make_image([tar_of({"a": b"1"}), tar_of({"b": b"2"})])
    reg = Harness(tmp_path / "r")

    async def go(c):
        await push_image(c, "keep", img)
        await push_blob(c, "keep", b"orphan old")
        await push_blob(c, "keep", b"orphan new")
        loc = (await c.post("/v2/keep/blobs/uploads/")).headers["Location"]
        await c.patch(loc, data=b"in progress")
    reg.run(go)
    storage = reg.storage()
    _age(storage, [*img.blobs, sha(b"orphan old")], 7200)
    dry = collect(reg.root, grace=3600, dry_run=True)
    assert [str(x) for x in dry.removed] == [sha(b"orphan old")]
    assert storage.content.exists(Digest.parse(sha(b"orphan old")))
    report = collect(reg.root, grace=3600)
    assert [str(x) for x in report.removed] == [sha(b"orphan old")]
    assert not storage.content.exists(Digest.parse(sha(b"orphan old")))
    assert storage.content.exists(Digest.parse(sha(b"orphan new")))   # within grace
    for dg in img.blobs:
        assert storage.content.exists(Digest.parse(dg))
    assert not storage.has_blob("keep", Digest.parse(sha(b"orphan old")))
    assert len(list(storage.uploads.iterdir())) == 1                 # fresh upload kept


def test_gc_after_manifest_delete_frees_its_blobs(tmp_path: Path):
    img = make_image([tar_of({"x": b"solo"})])
    reg = Harness(tmp_path / "r")

    async def go(c):
        digest = await push_image(c, "gone", img)
        assert (await c.delete(f"/v2/gone/manifests/{digest}")).status == 202
    reg.run(go, delete_enabled=True)
    _age(reg.storage(), img.blobs, 7200)
    report = collect(reg.root, grace=60)
    assert {str(x) for x in report.removed} == set(img.blobs)


def test_gc_while_the_server_runs_keeps_everything_a_push_needs(tmp_path: Path):
    img = make_image([tar_of({"p": b"parallel"})])
    reg = Harness(tmp_path / "r")

    async def go(c):
        loop = asyncio.get_running_loop()
        for data in [*img.layers, img.config]:
            await push_blob(c, "live", data)
        sweep = loop.run_in_executor(None, lambda: collect(reg.root, grace=3600))
        r = await c.put("/v2/live/manifests/v1", data=img.manifest,
                        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
        report = await sweep
        assert r.status == 201 and report.removed == []
        r = await c.get("/v2/live/manifests/v1")
        assert r.status == 200
    reg.run(go)
