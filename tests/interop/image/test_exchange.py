"""Images cross between dockyard and the peers: docker, skopeo, umoci, oci-image-tool.

* ``dockyard save`` -> ``docker load`` -> ``docker run`` works;
* ``docker save`` of a multi-layer image with deletions -> ``dockyard load`` -> the
  unpacked overlay view shows the deletions (and the way back to docker keeps them);
* ``skopeo inspect`` reads one ``dockyard save`` tar as ``docker-archive:`` and as
  ``oci-archive:``;
* ``umoci unpack`` and ``oci-image-tool validate`` accept dockyard's OCI layouts.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from dockyard.image.service import ImageService
from tests.conftest import require_root

DELETIONS_DOCKERFILE = """\
FROM {base}
RUN mkdir -p /d /e && echo a > /d/a && echo b > /d/b && echo k > /keep && echo x > /e/x
RUN rm /d/a /keep && echo c > /d/c
RUN rm -rf /e && mkdir /e && echo n > /e/n
"""


def dockyard(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, "-m", "dockyard.cli.main", "--data-root", str(root),
                          *args], capture_output=True, text=True, timeout=300)
    if check and out.returncode != 0:
        raise AssertionError(f"dockyard {' '.join(args)} failed ({out.returncode}):\n"
                             f"{out.stdout}\n{out.stderr}")
    return out


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (scripts/setup.sh installs it)", pytrace=False)
    return path


@pytest.fixture
def root(tmp_path) -> Path:
    require_root()
    return tmp_path / "dyroot"


@pytest.fixture
def bootstrapped(root, tmp_path) -> tuple[Path, str]:
    """A busybox image made by dockyard, saved to a tar."""
    image_id = dockyard(root, "image", "bootstrap", "busybox", "--tag",
                        "dytest-saved:1").stdout.strip()
    tar = tmp_path / "saved.tar"
    dockyard(root, "save", "-o", str(tar), "dytest-saved:1")
    return tar, image_id


def test_dockyard_save_then_docker_load_and_run(dockerd, bootstrapped):
    tar, image_id = bootstrapped
    out = dockerd.cli("load", "-i", str(tar))
    assert "Loaded image: dytest-saved:1" in out.stdout
    try:
        inspected = json.loads(dockerd.cli("image", "inspect", "dytest-saved:1").stdout)
        assert inspected[0]["Id"] == image_id
        ran = dockerd.cli("run", "--rm", "--network", "none", "dytest-saved:1",
                          "sh", "-c", "echo hello from a dockyard image; ls /bin/busybox")
        assert ran.stdout.split("\n")[:2] == ["hello from a dockyard image", "/bin/busybox"]
    finally:
        dockerd.cli("rmi", "-f", "dytest-saved:1", check=False)


def _build_deletions_image(dockerd, base: str, tmp_path: Path, tag: str) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DELETIONS_DOCKERFILE.format(base=base))
    dockerd.cli("build", "--network", "none", "-t", tag, str(ctx), timeout=300)


def test_docker_save_with_deletions_then_dockyard_load_shows_them(
        dockerd, docker_busybox_image, root, tmp_path):
    tag = "dytest-deletions:1"
    _build_deletions_image(dockerd, docker_busybox_image, tmp_path, tag)
    try:
        tar = tmp_path / "docker-saved.tar"
        dockerd.cli("save", "-o", str(tar), tag)
        docker_id = json.loads(dockerd.cli("image", "inspect", tag).stdout)[0]["Id"]
        out = dockyard(root, "load", "-i", str(tar))
        assert f"Loaded image: {tag}" in out.stdout
        svc = ImageService(root)
        try:
            rec = svc.store.resolve(tag)
            assert str(rec.id) == docker_id
            assert len(rec.chain_ids) == 4
            with svc.mounted_view(tag) as rootfs:
                assert sorted(p.name for p in (rootfs / "d").iterdir()) == ["b", "c"]
                assert not (rootfs / "keep").exists()
                assert sorted(p.name for p in (rootfs / "e").iterdir()) == ["n"]
                assert (rootfs / "bin" / "busybox").is_file()
        finally:
            svc.close()
        ours = dockyard(root, "history", "--no-trunc", "--format", "{{.CreatedBy}}",
                        tag).stdout.splitlines()
        theirs = dockerd.cli("history", "--no-trunc", "--format", "{{.CreatedBy}}",
                             tag).stdout.splitlines()
        assert ours == theirs
        # And back: dockyard's save of what docker made runs in docker with the same view.
        dockerd.cli("rmi", "-f", tag)
        back = tmp_path / "back.tar"
        dockyard(root, "save", "-o", str(back), tag)
        dockerd.cli("load", "-i", str(back))
        ran = dockerd.cli("run", "--rm", "--network", "none", tag, "sh", "-c",
                          "ls /d; ls /e; test -e /keep && echo keep-is-back || true")
        assert ran.stdout.split() == ["b", "c", "n"]
    finally:
        dockerd.cli("rmi", "-f", tag, check=False)


def test_skopeo_reads_a_dockyard_save_as_docker_and_oci_archive(bootstrapped, root):
    skopeo = _tool("skopeo")
    tar, image_id = bootstrapped
    svc = ImageService(root)
    try:
        rec = svc.store.resolve("dytest-saved:1")
        layers = [str(c) for c in svc.config_of(rec).diff_ids]
    finally:
        svc.close()
    for transport in ("docker-archive", "oci-archive"):
        out = subprocess.run([skopeo, "inspect", f"{transport}:{tar}"], capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, f"{transport}: {out.stderr}"
        doc = json.loads(out.stdout)
        assert doc["Layers"] == layers, transport
        assert doc["Os"] == "linux"
        if transport == "oci-archive":
            assert doc["Digest"] == str(rec.manifest_digest)
        cfg = subprocess.run([skopeo, "inspect", "--raw", "--config", f"{transport}:{tar}"],
                             capture_output=True, timeout=120)
        assert cfg.returncode == 0, cfg.stderr
        import hashlib

        assert "sha256:" + hashlib.sha256(cfg.stdout).hexdigest() == image_id


def _layouts(root: Path, tmp_path: Path, tar: Path) -> list[Path]:
    """The --format oci-dir layout, and the save tar extracted (it *is* a layout)."""
    layout = tmp_path / "layout"
    dockyard(root, "save", "--format", "oci-dir", "-o", str(layout), "dytest-saved:1")
    extracted = tmp_path / "extracted"
    extracted.mkdir()
    with tarfile.open(tar) as t:
        t.extractall(extracted, filter="data")
    return [layout, extracted]


def test_umoci_unpacks_dockyard_layouts(bootstrapped, root, tmp_path):
    umoci = _tool("umoci")
    tar, _ = bootstrapped
    for n, layout in enumerate(_layouts(root, tmp_path, tar)):
        bundle = tmp_path / f"bundle{n}"
        out = subprocess.run([umoci, "unpack", "--image", f"{layout}:1", str(bundle)],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, f"{layout}: {out.stderr}"
        assert (bundle / "rootfs" / "bin" / "busybox").is_file()
        assert (bundle / "rootfs" / "bin" / "sh").is_symlink()
        assert json.loads((bundle / "config.json").read_text())["process"]["args"] == ["sh"]


def test_oci_image_tool_validates_dockyard_layouts(bootstrapped, root, tmp_path):
    tool = _tool("oci-image-tool")
    tar, _ = bootstrapped
    for layout in _layouts(root, tmp_path, tar):
        out = subprocess.run([tool, "validate", "--type", "image", "--ref", "name=1",
                              str(layout)], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, f"{layout}: {out.stdout}{out.stderr}"
        assert "Validation succeeded" in out.stdout
    # The validator can fail: a layout whose index names a missing blob is refused.
    broken = tmp_path / "extracted"
    index = json.loads((broken / "index.json").read_text())
    index["manifests"][0]["digest"] = "sha256:" + "a" * 64
    (broken / "index.json").write_text(json.dumps(index))
    out = subprocess.run([tool, "validate", "--type", "image", str(broken)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0


@pytest.mark.parametrize("transport", ["docker-archive", "oci-archive"])
def test_dockyard_loads_what_skopeo_writes(bootstrapped, root, tmp_path, transport):
    skopeo = _tool("skopeo")
    tar, image_id = bootstrapped
    out_tar = tmp_path / f"skopeo-{transport}.tar"
    dest = f"{transport}:{out_tar}:skopeo/img:{transport}"
    copied = subprocess.run([skopeo, "copy", f"docker-archive:{tar}", dest],
                            capture_output=True, text=True, timeout=120)
    assert copied.returncode == 0, copied.stderr
    other = tmp_path / "other-root"
    out = dockyard(other, "load", "-i", str(out_tar))
    assert f"Loaded image: skopeo/img:{transport}" in out.stdout
    # skopeo rewrites the config when converting to OCI (a new id), never the layers.
    layers = "{{json .RootFS.Layers}}"
    assert dockyard(other, "image", "inspect", "-f", layers, f"skopeo/img:{transport}").stdout \
        == dockyard(root, "image", "inspect", "-f", layers, image_id).stdout
    if transport == "docker-archive":
        assert dockyard(other, "images", "--no-trunc", "-q").stdout.strip() == image_id
    assert "no damage found" in dockyard(other, "system", "check").stdout


def test_gzip_layers_are_saved_as_is_and_peers_read_them(dockerd, root, tmp_path):
    """An image whose layers are gzip blobs (as pulled) keeps them in a save; docker
    and skopeo decompress them and find the config's diff_ids."""
    from tests.unit.image.archive_helpers import layer_tar, oci_archive, write_tar

    layers = [layer_tar({"a": b"1"}), layer_tar({"b": b"2"})]
    src = write_tar(tmp_path / "gz.tar", oci_archive(layers, "docker.io/dytest/gz:1", gz=True))
    dockyard(root, "load", "-i", str(src))
    out = tmp_path / "gz-saved.tar"
    dockyard(root, "save", "-o", str(out), "dytest/gz:1")
    with tarfile.open(out) as t:
        manifest = json.load(t.extractfile("manifest.json"))
        head = t.extractfile(manifest[0]["Layers"][0]).read(2)
    assert head == b"\x1f\x8b"
    skopeo = _tool("skopeo")
    for transport in ("docker-archive", "oci-archive"):
        r = subprocess.run([skopeo, "inspect", "--config", f"{transport}:{out}"],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"{transport}: {r.stderr}"
        diff_ids = json.loads(r.stdout)["rootfs"]["diff_ids"]
        assert len(diff_ids) == 2
    loaded = dockerd.cli("load", "-i", str(out))
    try:
        assert "Loaded image: dytest/gz:1" in loaded.stdout
        got = json.loads(dockerd.cli("image", "inspect", "dytest/gz:1").stdout)[0]
        assert got["RootFS"]["Layers"] == diff_ids
    finally:
        dockerd.cli("rmi", "-f", "dytest/gz:1", check=False)


def test_pipes_both_ways(dockerd, docker_busybox_image, root, tmp_path):
    """``docker save | dockyard load`` and ``dockyard save | docker load``."""
    from tests.support.dockerd import DOCKER_CLI

    save = subprocess.Popen([DOCKER_CLI, "-H", dockerd.host, "save", docker_busybox_image],
                            stdout=subprocess.PIPE, env=dockerd.env)
    load = subprocess.run([sys.executable, "-m", "dockyard.cli.main", "--data-root",
                           str(root), "load"], stdin=save.stdout, capture_output=True,
                          text=True, timeout=300)
    save.stdout.close()
    assert save.wait(timeout=60) == 0
    assert load.returncode == 0, load.stderr
    assert f"Loaded image: {docker_busybox_image}" in load.stdout
    dockyard(root, "tag", docker_busybox_image, "dytest-piped:1")
    ours = subprocess.Popen([sys.executable, "-m", "dockyard.cli.main", "--data-root",
                             str(root), "save", "dytest-piped:1"], stdout=subprocess.PIPE)
    theirs = subprocess.run([DOCKER_CLI, "-H", dockerd.host, "load"], stdin=ours.stdout,
                            capture_output=True, text=True, timeout=300, env=dockerd.env)
    ours.stdout.close()
    assert ours.wait(timeout=60) == 0
    try:
        assert theirs.returncode == 0, theirs.stderr
        ran = dockerd.cli("run", "--rm", "--network", "none", "dytest-piped:1", "echo", "ok")
        assert ran.stdout.strip() == "ok"
    finally:
        dockerd.cli("rmi", "-f", "dytest-piped:1", check=False)
