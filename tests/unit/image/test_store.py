"""ImageStore: records, tags, digests, resolution, layers and leases."""

from __future__ import annotations

import pytest

from dockyard.errors import Conflict, InvalidArgument, NotFound
from dockyard.image import reference as refs
from dockyard.image.digest import Digest
from dockyard.image.store import BlobRef, ImageStore, LayerRecord, NewImage


@pytest.fixture
def store(tmp_path):
    s = ImageStore(tmp_path / "root")
    yield s
    s.close()


def _image(store: ImageStore, payload: bytes = b"cfg", chains=()) -> NewImage:
    cfg = store.content.put_bytes(b"config " + payload)
    man = store.content.put_bytes(b"manifest " + payload)
    return NewImage(cfg.digest, man.digest, "application/vnd.oci.image.manifest.v1+json",
                    tuple(chains), (BlobRef(cfg.digest, "config"),
                                    BlobRef(man.digest, "manifest")),
                    platform="linux/amd64", size=10)


def test_add_tag_resolve(store):
    rec = store.add_image(_image(store))
    assert rec.dangling
    store.tag(refs.parse("busybox"), rec.id)
    store.tag(refs.parse("localhost:5000/x:1"), rec.id)
    got = store.resolve("busybox:latest")
    assert got.id == rec.id
    assert got.repo_tags == ("docker.io/library/busybox:latest", "localhost:5000/x:1")
    assert store.resolve("docker.io/library/busybox").id == rec.id
    assert store.resolve(rec.id.hex[:12]).id == rec.id
    assert store.resolve(str(rec.id)).id == rec.id
    with pytest.raises(NotFound, match="No such image: busybox:2"):
        store.resolve("busybox:2")


def test_tag_moves_and_reports_previous(store):
    a = store.add_image(_image(store, b"a"))
    b = store.add_image(_image(store, b"b"))
    assert store.tag(refs.parse("app"), a.id) is None
    assert store.tag(refs.parse("app"), b.id) == a.id
    assert store.get(a.id).dangling
    assert store.resolve("app").id == b.id
    with pytest.raises(InvalidArgument):
        store.tag(refs.parse(f"app@{a.manifest_digest}"), a.id)
    with pytest.raises(NotFound):
        store.tag(refs.parse("x"), Digest.of_bytes(b"missing"))


def test_repo_digest_resolution(store):
    rec = store.add_image(_image(store))
    store.add_repo_digest(refs.parse("busybox"), rec.manifest_digest, rec.id)
    got = store.resolve(f"busybox@{rec.manifest_digest}")
    assert got.id == rec.id
    assert got.repo_digests == (f"docker.io/library/busybox@{rec.manifest_digest}",)
    store.untag(refs.parse(f"busybox@{rec.manifest_digest}"))
    with pytest.raises(NotFound):
        store.resolve(f"busybox@{rec.manifest_digest}")


def test_untag_and_delete(store):
    rec = store.add_image(_image(store))
    store.tag(refs.parse("a"), rec.id)
    assert store.untag(refs.parse("a")) == rec.id
    with pytest.raises(NotFound):
        store.untag(refs.parse("a"))
    store.delete_image(rec.id)
    assert not store.exists(rec.id)
    with pytest.raises(NotFound):
        store.delete_image(rec.id)


def test_ambiguous_prefix_is_a_conflict(store):
    ids = [store.add_image(_image(store, str(i).encode())).id for i in range(40)]
    firsts = {}
    for d in ids:
        firsts.setdefault(d.hex[0], []).append(d)
    dup = next(v for v in firsts.values() if len(v) > 1)
    with pytest.raises(Conflict, match="ambiguous"):
        store.resolve(dup[0].hex[0])


def test_missing_blob_refused(store):
    new = _image(store)
    store.content.delete(new.blobs[0].digest)
    with pytest.raises(NotFound, match="missing"):
        store.add_image(new)
    assert store.list() == []


def test_layers_and_refcounts(store):
    c1, c2 = Digest.of_bytes(b"c1"), Digest.of_bytes(b"c2")
    store.add_layer(LayerRecord(c1, c1, None, 5, "snap1"))
    store.add_layer(LayerRecord(c2, Digest.of_bytes(b"d2"), c1, 6, "snap2"))
    a = store.add_image(_image(store, b"a", (c1,)))
    store.add_image(_image(store, b"b", (c1, c2)))
    assert store.layer_refcount(c1) == 2
    assert store.layer_refcount(c2) == 1
    store.delete_image(a.id)
    assert store.layer_refcount(c1) == 1
    assert store.get_layer(c2).parent == c1
    store.remove_layer(c2)
    assert store.get_layer(c2) is None


def test_lease_lists_resources_while_alive(store):
    d = Digest.of_bytes(b"x")
    with store.lease() as lease:
        lease.add_blob(d)
        lease.add_snapshot("extract-1")
        assert store.leased() == {("blob", str(d)), ("snapshot", "extract-1")}
    assert store.leased() == set()


def test_pins_are_gc_roots_that_outlive_processes_until_unpinned(tmp_path):
    s = ImageStore(tmp_path / "r")
    s.pin("container:abc", "snapshot", "rw-abc")
    s.pin("container:abc", "blob", "sha256:" + "1" * 64)
    s.pin("container:def", "snapshot", "rw-def")
    s.pin("container:def", "snapshot", "rw-def")          # idempotent
    s.close()
    s = ImageStore(tmp_path / "r")                        # another process, later
    assert ("snapshot", "rw-abc") in s.leased()
    assert s.pin_owners("container:") == {"container:abc", "container:def"}
    s.unpin("container:def", "snapshot", "rw-def")
    assert s.pinned("container:def") == set()
    s.unpin("container:abc")
    assert s.pinned() == set()
    assert s.leased() == set()
    s.close()


def test_a_store_with_unordered_pins_is_upgraded(tmp_path):
    import sqlite3

    s = ImageStore(tmp_path / "r")
    s.close()
    db = sqlite3.connect(s.meta_dir / "metadata.db")
    db.executescript("DROP TABLE pins; CREATE TABLE pins (owner TEXT NOT NULL, kind TEXT "
                     "NOT NULL, name TEXT NOT NULL, PRIMARY KEY (owner, kind, name)); "
                     "INSERT INTO pins VALUES ('container:a', 'image', 'i');")
    db.close()
    s = ImageStore(tmp_path / "r")
    s.pin("container:b", "image", "i")
    assert s.pin_owners_of("image", "i") == ["container:a", "container:b"]
    s.close()


def test_reopen_keeps_records(tmp_path):
    s = ImageStore(tmp_path / "r")
    rec = s.add_image(_image(s))
    s.tag(refs.parse("keep"), rec.id)
    s.close()
    s2 = ImageStore(tmp_path / "r")
    assert s2.resolve("keep").id == rec.id
    s2.close()


def _pulled(store: ImageStore):
    """Put what a registry pull would have written: layer, config, manifest."""
    import json

    layer = store.content.put_bytes(b"layer bytes")
    cfg = json.dumps({"architecture": "amd64", "os": "linux",
                      "rootfs": {"type": "layers", "diff_ids": [str(layer.digest)]}}).encode()
    cfg_info = store.content.put_bytes(cfg)
    man = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "digest": str(cfg_info.digest), "size": len(cfg)},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "digest": str(layer.digest), "size": layer.size}]}).encode()
    return store.content.put_bytes(man).digest, cfg_info.digest, layer.digest


def test_record_pull_names_tag_and_digest(store):
    man, cfg, layer = _pulled(store)
    rec = store.record_pull(refs.parse("localhost:5000/team/app:v1"), man)
    assert rec.id == cfg
    assert rec.repo_tags == ("localhost:5000/team/app:v1",)
    assert rec.repo_digests == (f"localhost:5000/team/app@{man}",)
    assert rec.manifest_media_type == "application/vnd.docker.distribution.manifest.v2+json"
    assert {b.digest for b in rec.blobs} == {man, cfg, layer}
    assert store.resolve(f"localhost:5000/team/app@{man}").id == cfg
    # By digest only: no tag, still not dangling.
    other = ImageStore(store.root)
    rec2 = other.record_pull(refs.parse(f"x/y@{man}"), man)
    assert not rec2.dangling and "docker.io/x/y:latest" not in rec2.repo_tags
    other.close()


def test_record_pull_refuses_an_index_and_missing_blobs(store):
    import json

    idx = store.content.put_bytes(json.dumps(
        {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
         "manifests": []}).encode()).digest
    with pytest.raises(InvalidArgument, match="index"):
        store.record_pull(refs.parse("a:1"), idx)
    man, _cfg, layer = _pulled(store)
    store.content.delete(layer)
    with pytest.raises(NotFound, match="missing"):
        store.record_pull(refs.parse("a:1"), man)
    assert store.list() == []


def test_rmi_of_the_last_tag_also_drops_that_repos_digests(tmp_path):
    from dockyard.image.service import ImageService

    svc = ImageService(tmp_path / "svc")
    try:
        man, cfg, _layer = _pulled(svc.store)
        svc.store.record_pull(refs.parse("busybox:1"), man)
        svc.store.tag(refs.parse("other:2"), cfg)
        events = [(e.kind, e.value) for e in svc.remove("busybox:1")]
        assert events == [("Untagged", "busybox:1"), ("Untagged", f"busybox@{man}")]
        assert svc.store.get(cfg).repo_tags == ("docker.io/library/other:2",)
        events = [(e.kind, e.value) for e in svc.remove("other:2")]
        assert events[0] == ("Untagged", "other:2")
        assert ("Deleted", str(cfg)) in events
        assert not svc.store.exists(cfg)
    finally:
        svc.close()


def test_images_digests_column_shows_repo_digests(tmp_path, capsys):
    from dockyard.cli import main

    root = tmp_path / "cli"
    s = ImageStore(root)
    man, _cfg, _layer = _pulled(s)
    s.record_pull(refs.parse("localhost:5000/app:v1"), man)
    s.record_pull(refs.parse(f"other/x@{man}"), man)
    s.close()
    assert main.main(["--data-root", str(root), "images", "--digests", "--format",
                      "{{.Repository}} {{.Tag}} {{.Digest}}"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows == [f"localhost:5000/app v1 {man}", f"other/x <none> {man}"]


@pytest.mark.parametrize(("text", "expected"), [
    ("1970-01-01T00:00:10Z", 10.0),
    ("1970-01-01T00:00:10.123456789Z", 10.123456),
    ("1970-01-01T01:00:10+01:00", 10.0),
    ("1970-01-01T00:00:10", 10.0),
    ("", 0.0), (None, 0.0), ("garbage", 0.0),
])
def test_created_timestamp(text, expected):
    from dockyard.image.service import created_timestamp

    assert created_timestamp(text) == pytest.approx(expected)
