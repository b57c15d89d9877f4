"""``dockyard push`` / ``pull`` / ``login`` against distribution's registry
(Debian docker-registry), without and with htpasswd (bcrypt) auth."""

from __future__ import annotations

import json
from pathlib import Path

from dockyard.image.digest import Digest
from dockyard.image.store import ImageStore
from tests.interop.registry.peers import (
    distribution_registry,
    dockyard_cmd,
    dockyard_env,
    make_htpasswd,
    run,
)
from tests.unit.registry.images import busybox_tar, make_image, seed_store, tar_of

IMG = make_image([busybox_tar(), tar_of({"etc/motd": b"pushed by dockyard\n"}),
                  tar_of({"data/big": bytes(range(256)) * 8192})])


def _seed(root: Path, name: str) -> None:
    store = ImageStore(root)
    try:
        seed_store(store, IMG, name)
    finally:
        store.close()


def _check_pulled(root: Path, name: str) -> None:
    store = ImageStore(root)
    try:
        rec = store.resolve(name)
        assert rec.manifest_digest == Digest.parse(IMG.digest)
        for digest, data in IMG.blobs.items():
            assert store.content.read_bytes(Digest.parse(digest)) == data
        # The pull also unpacked the layers (snapshots named by chain id).
        assert any((root / "snapshots").rglob("motd")), "layers were not unpacked"
    finally:
        store.close()


def test_push_and_pull_against_distribution(tmp_path: Path):
    a, b = tmp_path / "a", tmp_path / "b"
    with distribution_registry(tmp_path) as reg:
        name = f"{reg.host}/dy/busybox:v1"
        _seed(a, name)
        out = run(dockyard_cmd("push", "-q", "--chunk-size", "100000", name),
                  env=dockyard_env(a)).stdout
        assert out.strip() == f"v1: digest: {IMG.digest} size: {len(IMG.manifest)}"
        run(dockyard_cmd("pull", "-q", name), env=dockyard_env(b))
        _check_pulled(b, name)
        run(dockyard_cmd("pull", "-q", f"{reg.host}/dy/busybox@{IMG.digest}"),
            env=dockyard_env(tmp_path / "c"))
        _check_pulled(tmp_path / "c", f"{reg.host}/dy/busybox@{IMG.digest}")
        doc = json.loads(run(dockyard_cmd("manifest", "inspect", name),
                             env=dockyard_env(b)).stdout)
        assert doc["layers"][0]["digest"] == json.loads(IMG.manifest)["layers"][0]["digest"]
        # A name with no local image is a clear error; -a pulls every tag.
        missing = run(dockyard_cmd("push", name.replace(":v1", ":v2")), env=dockyard_env(a),
                      check=False)
        assert missing.returncode == 1 and "No such image" in missing.stderr
        run(dockyard_cmd("pull", "-q", "-a", f"{reg.host}/dy/busybox"),
            env=dockyard_env(tmp_path / "d"))
        _check_pulled(tmp_path / "d", name)


def test_login_push_pull_with_htpasswd(tmp_path: Path):
    htpasswd = make_htpasswd(tmp_path / "htpasswd", "alice", "wonderland")
    a, b = tmp_path / "a", tmp_path / "b"
    cfg = tmp_path / "docker-config"
    with distribution_registry(tmp_path, htpasswd) as reg:
        name = f"{reg.host}/private/busybox:v1"
        _seed(a, name)
        denied = run(dockyard_cmd("push", "-q", name), env=dockyard_env(a, cfg), check=False)
        assert denied.returncode == 1 and "dockyard login" in denied.stderr
        bad = run(dockyard_cmd("login", reg.host, "-u", "alice", "--password-stdin"),
                  env=dockyard_env(a, cfg), input="wrong\n", check=False)
        assert bad.returncode == 1 and not (cfg / "config.json").exists()
        out = run(dockyard_cmd("login", reg.host, "-u", "alice", "--password-stdin"),
                  env=dockyard_env(a, cfg), input="wonderland\n").stdout
        assert "Login Succeeded" in out
        assert reg.host in json.loads((cfg / "config.json").read_text())["auths"]
        run(dockyard_cmd("push", "-q", name), env=dockyard_env(a, cfg))
        run(dockyard_cmd("pull", "-q", name), env=dockyard_env(b, cfg))
        _check_pulled(b, name)
        run(dockyard_cmd("logout", reg.host), env=dockyard_env(a, cfg))
        assert reg.host not in json.loads((cfg / "config.json").read_text())["auths"]
        again = run(dockyard_cmd("pull", "-q", name), env=dockyard_env(tmp_path / "c", cfg),
                    check=False)
        assert again.returncode == 1 and "dockyard login" in again.stderr
