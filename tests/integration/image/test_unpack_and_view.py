"""Images unpack into snapshots; the mounted view shows whiteouts applied; GC frees."""

from __future__ import annotations

import os

import pytest

from dockyard.image.service import ImageService
from tests.conftest import require_root
from tests.unit.image.archive_helpers import layer_tar, old_docker_archive, write_tar


@pytest.fixture
def svc(tmp_path):
    require_root()
    s = ImageService(tmp_path / "root")
    yield s
    s.close()


def _deletions_archive(tmp_path):
    l1 = layer_tar({"d/a": b"a", "d/b": b"b", "keep": b"k", "e/x": b"x"})
    l2 = layer_tar({"d/.wh.a": b"", ".wh.keep": b"", "d/c": b"c"})
    l3 = layer_tar({"e/.wh..wh..opq": b"", "e/n": b"n"})
    return write_tar(tmp_path / "del.tar", old_docker_archive([l1, l2, l3], ("del:1",)))


def test_load_unpacks_and_view_shows_deletions(svc, tmp_path):
    svc.load(str(_deletions_archive(tmp_path)))
    rec = svc.store.resolve("del:1")
    layers = [svc.store.get_layer(c) for c in rec.chain_ids]
    assert all(layer is not None for layer in layers)
    with svc.mounted_view("del:1") as root:
        assert sorted(os.listdir(root / "d")) == ["b", "c"]
        assert not (root / "keep").exists()
        assert sorted(os.listdir(root / "e")) == ["n"]
        assert (root / "d" / "b").read_bytes() == b"b"


def test_unpack_is_idempotent_and_shares_chains(svc, tmp_path):
    svc.load(str(_deletions_archive(tmp_path)))
    before = {s.name for s in svc.snapshotter.walk()}
    svc.load(str(_deletions_archive(tmp_path)))
    assert {s.name for s in svc.snapshotter.walk()} == before
    rec = svc.store.resolve("del:1")
    assert svc.after_pull(rec) == str(rec.chain_ids[-1])


def test_bootstrap_busybox_runs_nothing_but_is_complete(svc):
    rec = svc.bootstrap_busybox("busybox:t")
    assert rec.repo_tags == ("docker.io/library/busybox:t",)
    with svc.mounted_view("busybox:t") as root:
        assert (root / "bin" / "busybox").is_file()
        assert os.readlink(root / "bin" / "sh") == "../bin/busybox" or \
            os.readlink(root / "bin" / "sh").endswith("busybox")
        assert "root:x:0:0" in (root / "etc" / "passwd").read_text()
    # Same host, same busybox: the same image id.
    assert svc.bootstrap_busybox("busybox:u").id == rec.id


def test_rmi_frees_blobs_and_snapshots(svc, tmp_path):
    svc.load(str(_deletions_archive(tmp_path)))
    svc.bootstrap_busybox("busybox:t")
    events = svc.remove("del:1")
    assert [e.kind for e in events][:2] == ["Untagged", "Deleted"]
    names = {s.name for s in svc.snapshotter.walk()}
    assert len(names) == 1  # busybox's one layer
    assert len(list(svc.store.content.list())) == 3
    report = svc.prune(all_images=True)
    assert report.space_reclaimed > 0
    assert list(svc.snapshotter.walk()) == []
    assert list(svc.store.content.list()) == []


def test_layer_with_wrong_diff_id_leaves_no_snapshot(svc):
    from dockyard.errors import DigestMismatch
    from dockyard.image.digest import Digest
    from dockyard.image.importer import LayerSpec
    from dockyard.image.unpack import unpack_layers

    blob = svc.store.content.put_bytes(layer_tar({"a": b"1"})).digest
    wrong = Digest.of_bytes(b"something else")
    with pytest.raises(DigestMismatch):
        unpack_layers(svc.store, svc.snapshotter,
                      [LayerSpec(blob, "application/vnd.oci.image.layer.v1.tar", wrong)])
    assert list(svc.snapshotter.walk()) == []
    assert svc.store.list_layers() == []


@pytest.mark.skipif(os.environ.get("DOCKYARD_TEST_DEBOOTSTRAP") != "1",
                    reason="SKIPPED ON PURPOSE: debootstrap needs the Debian mirror and ~1-3 "
                           "minutes; set DOCKYARD_TEST_DEBOOTSTRAP=1 to run it")
def test_bootstrap_debian_with_debootstrap(svc):
    import subprocess

    rec = svc.bootstrap_debian("bookworm", "debian:dytest", "http://deb.debian.org/debian")
    assert rec.repo_tags == ("docker.io/library/debian:dytest",)
    with svc.mounted_view("debian:dytest") as root:
        assert list((root / "dev").iterdir()) == []
        out = subprocess.run(["chroot", str(root), "/bin/sh", "-c", "cat /etc/debian_version"],
                             capture_output=True, text=True, timeout=60)
        assert out.stdout.strip().startswith("12")


def test_setuid_bits_survive_unpack(svc, tmp_path):
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("bin/su")
        info.mode, info.size = 0o4755, 2
        tar.addfile(info, io.BytesIO(b"su"))
    path = write_tar(tmp_path / "suid.tar", old_docker_archive([buf.getvalue()], ("suid:1",)))
    svc.load(str(path))
    with svc.mounted_view("suid:1") as root:
        assert (root / "bin" / "su").stat().st_mode & 0o7777 == 0o4755


def test_rmi_of_an_image_containers_use_follows_dockerd(tmp_path):
    """Containers pin their image; rmi answers with dockerd's conflicts and words."""
    require_root()
    running: set[str] = set()
    svc = ImageService(tmp_path / "root", is_running=lambda cid: cid in running)
    try:
        rec = svc.bootstrap_busybox("busybox:t")
        stopped_id, running_id = "a" * 64, "b" * 64
        svc.store.pin(f"container:{stopped_id}", "image", str(rec.id))
        assert svc.inspect("busybox:t").containers == 1

        # by its only name, a stopped container: must force
        with pytest.raises(Exception, match=r'unable to remove repository reference '
                           r'"busybox:t" \(must force\) - container aaaaaaaaaaaa is using '
                           f"its referenced image {rec.short_id}"):
            svc.remove("busybox:t")
        # by id: a soft conflict
        with pytest.raises(Exception, match=rf"unable to delete {rec.short_id} \(must be "
                           r"forced\) - image is being used by stopped container aaaa"):
            svc.remove(rec.id.hex)
        # a running container: hard, even forced
        svc.store.pin(f"container:{running_id}", "image", str(rec.id))
        running.add(running_id)
        with pytest.raises(Exception, match=r"\(cannot be forced\) - image is being used "
                           r"by running container bbbbbbbbbbbb"):
            svc.remove(rec.id.hex, force=True)
        # forced by name: the name goes, the image stays (nameless) for its containers
        events = svc.remove("busybox:t", force=True)
        assert [(e.kind, e.value) for e in events] == [("Untagged", "busybox:t")]
        assert svc.store.get(rec.id).repo_tags == ()
        # containers gone: the image can go
        svc.store.unpin(f"container:{stopped_id}")
        svc.store.unpin(f"container:{running_id}")
        assert [e.kind for e in svc.remove(rec.id.hex)][-1] == "Deleted"
    finally:
        svc.close()
