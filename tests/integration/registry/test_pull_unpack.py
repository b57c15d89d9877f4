"""A pull unpacks layers while later ones download; a layer that does not match
its diff_id stops the pull with nothing recorded and nothing half-made left."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from dockyard.errors import DockyardError
from dockyard.image import reference as refs
from dockyard.image.service import ImageService
from dockyard.registry.client import RegistryClient, new_session
from dockyard.registry.pull import pull_image, snapshot_unpacker
from dockyard.registry.server import RegistryStorage, make_app
from tests.unit.registry.images import OCI_MANIFEST, make_image, sha, tar_of
from tests.unit.registry.server.helpers import push_blob


def _serve_and_pull(tmp_path: Path, image, root: Path):
    async def main():
        server = TestServer(make_app(RegistryStorage(tmp_path / "reg")), host="127.0.0.1")
        await server.start_server()
        svc = ImageService(root)
        unpack, worker = snapshot_unpacker(str(svc.root), svc.snapshotter)
        try:
            async with TestClient(server) as c:
                for blob in (*image.layers, image.config):
                    await push_blob(c, "u", blob)
                r = await c.put("/v2/u/manifests/v1", data=image.manifest,
                                headers={"Content-Type": OCI_MANIFEST})
                assert r.status == 201
                async with new_session() as session:
                    client = RegistryClient(f"127.0.0.1:{server.port}", session)
                    ref = refs.parse(f"127.0.0.1:{server.port}/u:v1")
                    return await pull_image(ref, svc.store, client, unpack=unpack), svc
        finally:
            worker.close()
            await server.close()
    return asyncio.run(main())


def test_pull_unpacks_every_layer(tmp_path: Path):
    img = make_image([tar_of({"etc/one": b"1"}), tar_of({"etc/two": b"2"}),
                      tar_of({"etc/three": b"3"})])
    result, svc = _serve_and_pull(tmp_path, img, tmp_path / "root")
    try:
        rec = svc.store.get(result.image_id)
        rows = [svc.store.get_layer(c) for c in rec.chain_ids]
        assert all(r is not None for r in rows)
        found = {p.name for p in (tmp_path / "root" / "snapshots").rglob("*")
                 if p.name in ("one", "two", "three")}
        assert found == {"one", "two", "three"}
    finally:
        svc.close()


def test_layer_not_matching_its_diff_id_aborts_cleanly(tmp_path: Path):
    img = make_image([tar_of({"etc/one": b"1"}), tar_of({"etc/two": b"2"})])
    cfg = json.loads(img.config)
    cfg["rootfs"]["diff_ids"][1] = sha(b"not the layer")
    bad = make_image([])     # rebuild by hand: same layers, lying config
    bad.config = json.dumps(cfg, sort_keys=True).encode()
    man = json.loads(img.manifest)
    man["config"] = {"mediaType": man["config"]["mediaType"], "digest": sha(bad.config),
                     "size": len(bad.config)}
    bad.manifest = json.dumps(man, sort_keys=True).encode()
    bad.layers = img.layers
    root = tmp_path / "root"
    with pytest.raises(DockyardError) as err:
        _serve_and_pull(tmp_path, bad, root)
    assert "diff" in str(err.value).lower(), err.value
    svc = ImageService(root)
    try:
        assert svc.store.list() == []
        leftovers = [p.name for p in (root / "snapshots").rglob("extract-*")]
        assert leftovers == []
    finally:
        svc.close()
