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


def test_reopen_keeps_records(tmp_path):
    s = ImageStore(tmp_path / "r")
    rec = s.add_image(_image(s))
    s.tag(refs.parse("keep"), rec.id)
    s.close()
    s2 = ImageStore(tmp_path / "r")
    assert s2.resolve("keep").id == rec.id
    s2.close()
