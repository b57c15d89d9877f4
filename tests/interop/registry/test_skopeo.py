"""skopeo copies images into and out of ``dockyard registry serve`` (and between
it and distribution's registry) with nothing changed on the way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.interop.registry.peers import (
    distribution_registry,
    dockyard_registry,
    make_htpasswd,
    run,
)
from tests.unit.registry.images import busybox_tar, make_image, tar_of, write_oci_layout

SKOPEO = "/usr/bin/skopeo"


@pytest.fixture
def layout(tmp_path: Path):
    img = make_image([busybox_tar(), tar_of({"etc/motd": b"hello from dockyard\n"})])
    return img, write_oci_layout(img, tmp_path / "layout", "v1")


def _layout_blobs(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (path / "blobs" / "sha256").iterdir()}


def test_skopeo_copy_both_ways(tmp_path: Path, layout):
    img, src = layout
    with dockyard_registry(tmp_path) as reg:
        run([SKOPEO, "copy", "--dest-tls-verify=false", f"oci:{src}:v1",
             f"docker://{reg.host}/interop/bb:v1"])
        info = json.loads(run([SKOPEO, "inspect", "--tls-verify=false",
                               f"docker://{reg.host}/interop/bb:v1"]).stdout)
        assert info["Digest"] == img.digest and info["RepoTags"] == ["v1"]
        back = tmp_path / "back"
        run([SKOPEO, "copy", "--src-tls-verify=false", f"docker://{reg.host}/interop/bb:v1",
             f"oci:{back}:v1"])
    index = json.loads((back / "index.json").read_text())
    assert index["manifests"][0]["digest"] == img.digest
    assert _layout_blobs(back) == _layout_blobs(src)


def test_skopeo_with_token_auth(tmp_path: Path, layout):
    img, src = layout
    htpasswd = make_htpasswd(tmp_path / "htpasswd", "alice", "wonderland")
    with dockyard_registry(tmp_path, "--htpasswd", str(htpasswd), "--auth", "token") as reg:
        bad = run([SKOPEO, "copy", "--dest-tls-verify=false", "--dest-creds", "alice:nope",
                   f"oci:{src}:v1", f"docker://{reg.host}/sec/bb:v1"], check=False)
        assert bad.returncode != 0 and "unauthorized" in bad.stderr.lower()
        run([SKOPEO, "copy", "--dest-tls-verify=false", "--dest-creds", "alice:wonderland",
             f"oci:{src}:v1", f"docker://{reg.host}/sec/bb:v1"])
        info = json.loads(run([SKOPEO, "inspect", "--tls-verify=false", "--creds",
                               "alice:wonderland", f"docker://{reg.host}/sec/bb:v1"]).stdout)
        assert info["Digest"] == img.digest
    assert list((reg.storage / "repositories").iterdir())


def test_skopeo_between_dockyard_and_distribution(tmp_path: Path, layout):
    img, src = layout
    with dockyard_registry(tmp_path) as ours, distribution_registry(tmp_path) as theirs:
        run([SKOPEO, "copy", "--dest-tls-verify=false", f"oci:{src}:v1",
             f"docker://{ours.host}/x/bb:v1"])
        run([SKOPEO, "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
             f"docker://{ours.host}/x/bb:v1", f"docker://{theirs.host}/y/bb:v1"])
        run([SKOPEO, "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
             f"docker://{theirs.host}/y/bb:v1", f"docker://{ours.host}/z/bb:v2"])
        info = json.loads(run([SKOPEO, "inspect", "--tls-verify=false",
                               f"docker://{ours.host}/z/bb:v2"]).stdout)
        assert info["Digest"] == img.digest
