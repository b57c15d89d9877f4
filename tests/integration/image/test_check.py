"""``system check`` finds real damage (and exits 1), not only the lack of it."""

from __future__ import annotations

import os

import pytest

from dockyard.image.check import check
from dockyard.image.service import ImageService
from tests.conftest import require_root


@pytest.fixture
def svc(tmp_path):
    require_root()
    s = ImageService(tmp_path / "root")
    s.bootstrap_busybox("busybox:t")
    yield s
    s.close()


def test_healthy_store_passes(svc):
    assert check(svc).ok


def test_a_changed_blob_is_damage(svc):
    rec = svc.store.resolve("busybox:t")
    path = svc.store.content.blob_path(rec.id)
    os.chmod(path, 0o644)
    path.write_bytes(path.read_bytes() + b" ")
    report = check(svc)
    assert not report.ok
    assert report.damaged_blobs == [rec.id]
    assert any("DAMAGED" in line for line in report.lines())


def test_a_missing_blob_is_damage(svc):
    rec = svc.store.resolve("busybox:t")
    svc.store.content.delete(rec.manifest_digest)
    report = check(svc)
    assert report.missing_blobs == [(rec.id, rec.manifest_digest)]


def test_a_missing_snapshot_is_damage(svc):
    rec = svc.store.resolve("busybox:t")
    svc.snapshotter.remove(str(rec.chain_ids[0]))
    report = check(svc)
    assert report.missing_snapshots == [rec.chain_ids[0]]


def test_cli_exit_status_reflects_damage(svc, capsys):
    from dockyard.cli import main

    rec = svc.store.resolve("busybox:t")
    svc.store.content.delete(rec.id)
    assert main.main(["--data-root", str(svc.root), "system", "check"]) == 1
    assert "DAMAGE FOUND" in capsys.readouterr().out
