"""save/load archive formats, and load's refusal of archives whose index files lie.

These run without root: load is given no unpack hook, so only the content store
and the metadata are exercised. Layer-entry safety (tar members of layers) is
img-layers' safetar suite; here we cover manifest.json / index.json lies.
"""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from dockyard.errors import DigestMismatch, InvalidArgument, NotFound, UnsafeContent
from dockyard.image import archive, loader
from dockyard.image.check import check
from dockyard.image.store import ImageStore
from tests.unit.image.archive_helpers import (
    layer_tar,
    old_docker_archive,
    sha,
    write_tar,
)
from tests.unit.image.archive_helpers import oci_archive as make_oci

L1 = layer_tar({"a": b"one", "d/x": b"x"})
L2 = layer_tar({"b": b"two"})


class _Svc:
    """The part of ImageService check() needs, without a snapshotter."""

    def __init__(self, store: ImageStore) -> None:
        self.store = store


@pytest.fixture
def store(tmp_path):
    s = ImageStore(tmp_path / "root")
    yield s
    s.close()


def _assert_clean(store: ImageStore) -> None:
    assert store.list() == []
    report = check(_Svc(store))
    assert report.ok, report.lines()
    assert list(store.content.ingest_dir.iterdir()) == []


def test_old_docker_archive_loads_with_tags_and_symlinked_layer(store, tmp_path):
    members = old_docker_archive([L1, L2, L1])
    # Docker <= 24 writes a repeated layer as a symlink to the first copy.
    manifest = json.loads(members["manifest.json"])
    first, third = manifest[0]["Layers"][0], manifest[0]["Layers"][2]
    members[third] = ("sym", "../" + first)
    path = write_tar(tmp_path / "old.tar", members)
    result = loader.load_path(store, path)
    [img] = result.images
    assert img.tags == ("old/app:1",)
    rec = store.resolve("old/app:1")
    assert len(rec.chain_ids) == 3
    assert rec.size == len(L1) * 2 + len(L2)


def test_oci_archive_gzip_layers_keep_their_digests(store, tmp_path):
    members = make_oci([L1, L2], gz=True)
    path = write_tar(tmp_path / "oci.tar", members)
    [img] = loader.load_path(store, path).images
    assert img.tags == ("oci:1",)
    rec = store.get(img.id)
    index = json.loads(members["index.json"])
    assert str(rec.manifest_digest) == index["manifests"][0]["digest"]


def test_oci_layout_directory_loads(store, tmp_path):
    d = tmp_path / "layout"
    for name, data in make_oci([L1]).items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_bytes(data)
    [img] = loader.load_path(store, d).images
    assert img.tags == ("oci:1",)


def test_save_is_both_docker_archive_and_oci_layout(store, tmp_path):
    path = write_tar(tmp_path / "in.tar", make_oci([L1, L2], name="docker.io/me/app:v1"))
    [img] = loader.load_path(store, path).images
    buf = io.BytesIO()
    archive.save_to_stream(store, ["me/app:v1"], buf)
    with tarfile.open(fileobj=io.BytesIO(buf.getvalue())) as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile("manifest.json"))
        index = json.load(tar.extractfile("index.json"))
        layout = json.load(tar.extractfile("oci-layout"))
        repos = json.load(tar.extractfile("repositories"))
    assert layout == {"imageLayoutVersion": "1.0.0"}
    assert manifest[0]["RepoTags"] == ["me/app:v1"]
    assert manifest[0]["Config"] == f"blobs/sha256/{img.id.hex}"
    assert all(p in names for p in manifest[0]["Layers"])
    entry = index["manifests"][0]
    assert entry["annotations"]["io.containerd.image.name"] == "docker.io/me/app:v1"
    assert entry["annotations"]["org.opencontainers.image.ref.name"] == "v1"
    assert "me/app" in repos
    # Round trip into a fresh store: same id, same manifest digest.
    other = ImageStore(tmp_path / "other")
    out = tmp_path / "saved.tar"
    out.write_bytes(buf.getvalue())
    [again] = loader.load_path(other, out).images
    assert again.id == img.id
    assert other.get(again.id).manifest_digest == store.get(img.id).manifest_digest
    other.close()


def test_save_by_id_is_untagged_and_by_repo_takes_all_tags(store, tmp_path):
    path = write_tar(tmp_path / "in.tar", make_oci([L1], name="docker.io/me/app:v1"))
    [img] = loader.load_path(store, path).images
    from dockyard.image import reference as refs

    store.tag(refs.parse("me/app:v2"), img.id)
    [item] = archive.plan(store, [img.id.hex[:12]])
    assert item.names == ()
    [item] = archive.plan(store, ["me/app"])
    assert sorted(n.tag for n in item.names) == ["v1", "v2"]


def test_save_to_layout_directory(store, tmp_path):
    path = write_tar(tmp_path / "in.tar", make_oci([L1]))
    loader.load_path(store, path)
    archive.save_to_layout(store, ["oci:1"], tmp_path / "out")
    assert (tmp_path / "out" / "oci-layout").is_file()
    assert not (tmp_path / "out" / "manifest.json").exists()
    index = json.loads((tmp_path / "out" / "index.json").read_text())
    digest = index["manifests"][0]["digest"].split(":")[1]
    assert (tmp_path / "out" / "blobs" / "sha256" / digest).is_file()


# --- hostile archives ---------------------------------------------------------------------


def _docker(members: dict, **entry) -> dict:
    doc = json.loads(members["manifest.json"])
    doc[0].update(entry)
    members["manifest.json"] = json.dumps(doc).encode()
    return members


def _lie(kind: str) -> tuple[dict, type]:
    m = old_docker_archive([L1, L2])
    doc = json.loads(m["manifest.json"])[0]
    cfg_name = doc["Config"]
    if kind == "config-outside":
        return _docker(m, Config="../../../../etc/passwd"), UnsafeContent
    if kind == "config-absolute":
        return _docker(m, Config="/etc/passwd"), UnsafeContent
    if kind == "layer-outside":
        return _docker(m, Layers=["../x/layer.tar", doc["Layers"][1]]), UnsafeContent
    if kind == "config-wrong-name":
        m[f"{'0' * 64}.json"] = m.pop(cfg_name)
        return _docker(m, Config=f"{'0' * 64}.json"), DigestMismatch
    if kind == "layer-missing":
        del m[doc["Layers"][1]]
        return m, NotFound
    if kind == "layer-swapped":
        return _docker(m, Layers=list(reversed(doc["Layers"]))), DigestMismatch
    if kind == "layer-count":
        return _docker(m, Layers=doc["Layers"][:1]), InvalidArgument
    if kind == "layer-symlink-outside":
        m[doc["Layers"][1]] = ("sym", "../../../../etc/passwd")
        return m, UnsafeContent
    if kind == "layer-symlink-loop":
        m[doc["Layers"][1]] = ("sym", "layer.tar")
        return m, UnsafeContent
    if kind == "layer-hardlink-outside":
        m[doc["Layers"][1]] = ("lnk", "/etc/passwd")
        return m, UnsafeContent
    if kind == "layer-blob-name-lies":
        m[f"blobs/sha256/{'1' * 64}"] = L2
        return _docker(m, Layers=[doc["Layers"][0], f"blobs/sha256/{'1' * 64}"]), \
            DigestMismatch
    if kind == "manifest-not-list":
        m["manifest.json"] = b'{"Config": "x"}'
        return m, InvalidArgument
    if kind == "manifest-not-json":
        m["manifest.json"] = b"\x00\x01garbage"
        return m, InvalidArgument
    if kind == "repotag-invalid":
        return _docker(m, RepoTags=["bad//name:1"]), InvalidArgument
    if kind == "config-is-a-directory":
        m["cfgdir/"] = ("dir", "")
        return _docker(m, Config="cfgdir"), InvalidArgument
    if kind == "no-index":
        del m["manifest.json"]
        return m, InvalidArgument
    o = make_oci([L1, L2], gz=True)
    index = json.loads(o["index.json"])
    man_digest = index["manifests"][0]["digest"].split(":")[1]
    man = json.loads(o[f"blobs/sha256/{man_digest}"])
    if kind == "oci-missing-blob":
        del o[f"blobs/sha256/{man['layers'][1]['digest'].split(':')[1]}"]
        return o, NotFound
    if kind == "oci-wrong-size":
        index["manifests"][0]["size"] += 1
        o["index.json"] = json.dumps(index).encode()
        return o, DigestMismatch
    if kind == "oci-blob-content-lies":
        o[f"blobs/sha256/{man['layers'][0]['digest'].split(':')[1]}"] = b"not the layer"
        return o, DigestMismatch
    if kind == "oci-bad-digest":
        index["manifests"][0]["digest"] = "sha256:../../../etc/passwd"
        o["index.json"] = json.dumps(index).encode()
        return o, InvalidArgument
    if kind == "oci-index-is-manifest":
        o["index.json"] = o[f"blobs/sha256/{man_digest}"]
        return o, InvalidArgument
    if kind == "oci-duplicate-entry":
        return {**o, "./index.json": o["index.json"]}, UnsafeContent
    if kind == "oci-index-loops-to-itself":
        loop = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": []}
        body = json.dumps(loop).encode()
        entry = {"mediaType": "application/vnd.oci.image.index.v1+json",
                 "digest": f"sha256:{sha(body)}", "size": len(body)}
        o[f"blobs/sha256/{sha(body)}"] = body
        o["index.json"] = json.dumps({"schemaVersion": 2, "manifests": [entry]}).encode()
        return o, NotFound  # an index with no manifest for this platform
    if kind == "oci-huge-manifest":
        big = b"{" + b" " * (9 << 20) + b"}"
        index["manifests"][0].update(digest=f"sha256:{sha(big)}", size=len(big))
        o[f"blobs/sha256/{sha(big)}"] = big
        o["index.json"] = json.dumps(index).encode()
        return o, InvalidArgument
    if kind == "oci-config-is-a-layer":
        man["config"] = man["layers"][0]
        body = json.dumps(man).encode()
        o[f"blobs/sha256/{sha(body)}"] = body
        index["manifests"][0].update(digest=f"sha256:{sha(body)}", size=len(body))
        o["index.json"] = json.dumps(index).encode()
        return o, InvalidArgument
    raise AssertionError(kind)


HOSTILE = ["config-outside", "config-absolute", "layer-outside", "config-wrong-name",
           "layer-missing", "layer-swapped", "layer-count", "layer-symlink-outside",
           "layer-symlink-loop", "layer-hardlink-outside", "layer-blob-name-lies",
           "manifest-not-list", "manifest-not-json", "repotag-invalid", "no-index",
           "oci-missing-blob", "oci-wrong-size", "oci-blob-content-lies", "oci-bad-digest",
           "oci-index-is-manifest", "oci-duplicate-entry", "oci-index-loops-to-itself",
           "oci-huge-manifest", "oci-config-is-a-layer", "config-is-a-directory"]


@pytest.mark.parametrize("kind", HOSTILE)
def test_lying_archives_are_refused_and_leave_nothing(store, tmp_path, kind):
    members, error = _lie(kind)
    path = tmp_path / "evil.tar"
    # The duplicate-entry case needs both names in the tar: write in order.
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, value in members.items():
            info = tarfile.TarInfo(name)
            if isinstance(value, tuple) and value[0] == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif isinstance(value, tuple):
                info.type = tarfile.SYMTYPE if value[0] == "sym" else tarfile.LNKTYPE
                info.linkname = value[1]
                tar.addfile(info)
            else:
                info.size = len(value)
                tar.addfile(info, io.BytesIO(value))
    with pytest.raises(error):
        loader.load_path(store, path)
    _assert_clean(store)


def test_not_a_tar_is_refused(store, tmp_path):
    p = tmp_path / "x.tar"
    p.write_bytes(b"hello, not a tar" * 100)
    with pytest.raises(InvalidArgument):
        loader.load_path(store, p)
    _assert_clean(store)


def test_layout_directory_symlinked_blob_is_refused(store, tmp_path):
    d = tmp_path / "layout"
    members = make_oci([L1])
    for name, data in members.items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_bytes(data)
    secret = tmp_path / "secret"
    secret.write_bytes(L1)
    blob = d / "blobs" / "sha256" / sha(L1)
    blob.unlink()
    blob.symlink_to(secret)
    with pytest.raises(UnsafeContent):
        loader.load_path(store, d)
    _assert_clean(store)


def test_load_stream_spools_and_cleans(store, tmp_path):
    path = write_tar(tmp_path / "in.tar", make_oci([L1]))
    with open(path, "rb") as f:
        loader.load_stream(store, f)
    assert store.resolve("oci:1")
    assert list(store.content.ingest_dir.iterdir()) == []


def _multi_platform_layout(tmp_path):
    """An OCI layout whose index.json names a nested index with amd64 and arm64."""
    arm_layer = layer_tar({"arch": b"arm64"})
    amd_layer = layer_tar({"arch": b"amd64"})
    members: dict = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}'}
    entries = []
    for arch, layer in (("arm64", arm_layer), ("amd64", amd_layer)):
        cfg = json.dumps({"architecture": arch, "os": "linux",
                          "rootfs": {"type": "layers",
                                     "diff_ids": [f"sha256:{sha(layer)}"]}}).encode()
        man = json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": f"sha256:{sha(cfg)}", "size": len(cfg)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": f"sha256:{sha(layer)}", "size": len(layer)}]}).encode()
        members.update({f"blobs/sha256/{sha(x)}": x for x in (cfg, man, layer)})
        entries.append({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "digest": f"sha256:{sha(man)}", "size": len(man),
                        "platform": {"os": "linux", "architecture": arch}})
    nested = json.dumps({"schemaVersion": 2,
                         "mediaType": "application/vnd.oci.image.index.v1+json",
                         "manifests": entries}).encode()
    members[f"blobs/sha256/{sha(nested)}"] = nested
    members["index.json"] = json.dumps({
        "schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": f"sha256:{sha(nested)}", "size": len(nested),
            "annotations": {"io.containerd.image.name": "docker.io/library/multi:1"}}]}
    ).encode()
    return write_tar(tmp_path / "multi.tar", members), nested


def test_multi_platform_index_selects_platform(store, tmp_path):
    from dockyard.image.manifest import Platform

    path, nested = _multi_platform_layout(tmp_path)
    [img] = loader.load_path(store, path, platform=Platform.parse("linux/arm64")).images
    rec = store.get(img.id)
    assert rec.platform == "linux/arm64"
    assert rec.index_digest is not None and rec.index_digest.hex == sha(nested)
    [img2] = loader.load_path(store, path, platform=Platform.parse("linux/amd64")).images
    assert store.get(img2.id).platform == "linux/amd64"
    with pytest.raises(NotFound, match="offered"):
        loader.load_path(store, path, platform=Platform.parse("linux/s390x"))


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_compressed_archive_loads_and_cleans_its_spool(store, tmp_path, compression):
    raw = write_tar(tmp_path / "in.tar", make_oci([L1, L2])).read_bytes()
    if compression == "gzip":
        import gzip

        data = gzip.compress(raw)
    else:
        import zstandard

        data = zstandard.ZstdCompressor().compress(raw)
    p = tmp_path / "in.tar.z"
    p.write_bytes(data)
    [img] = loader.load_path(store, p).images
    assert img.tags == ("oci:1",)
    assert list(store.content.ingest_dir.iterdir()) == []


def test_truncated_gzip_archive_is_refused(store, tmp_path):
    import gzip

    data = gzip.compress(write_tar(tmp_path / "in.tar", make_oci([L1])).read_bytes())
    p = tmp_path / "cut.tar.gz"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(InvalidArgument):
        loader.load_path(store, p)
    _assert_clean(store)


def test_export_tree_writes_a_loadable_rootfs_tar(tmp_path):
    from dockyard.image.importer import export_tree

    tree = tmp_path / "tree"
    (tree / "etc").mkdir(parents=True)
    (tree / "etc" / "hostname").write_text("box\n")
    (tree / "link").symlink_to("etc/hostname")
    out = io.BytesIO()
    digest = export_tree(str(tree), out)
    assert digest.hex == sha(out.getvalue())
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tar:
        names = {m.name.rstrip("/") for m in tar.getmembers()}
        assert {"etc", "etc/hostname", "link"} <= names
        assert tar.getmember("link").issym()


def test_loading_a_new_image_under_a_used_tag_reports_the_old_one(store, tmp_path):
    first = loader.load_path(store, write_tar(tmp_path / "a.tar", old_docker_archive([L1])))
    second = loader.load_path(store, write_tar(tmp_path / "b.tar", old_docker_archive([L2])))
    [old], [new] = first.images, second.images
    assert new.replaced == (("old/app:1", old.id),)
    assert store.get(old.id).dangling
    again = loader.load_path(store, write_tar(tmp_path / "c.tar", old_docker_archive([L2])))
    assert again.images[0].replaced == ()
