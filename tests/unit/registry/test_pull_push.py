"""dockyard's client against dockyard's server, in-process: push, pull, index
platform selection, chunked uploads, mounts, auth modes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import bcrypt
import pytest
from aiohttp.test_utils import TestServer

from dockyard.errors import NotFound, Unauthorized
from dockyard.image import reference as refs
from dockyard.image.digest import Digest
from dockyard.image.store import ImageStore
from dockyard.registry import manifest as mf
from dockyard.registry.client import RegistryClient, new_session
from dockyard.registry.credentials import Credential
from dockyard.registry.progress import JsonMessages
from dockyard.registry.pull import pull_image
from dockyard.registry.push import push_image
from dockyard.registry.server import Authorizer, RegistryStorage, ServerConfig, make_app
from tests.unit.registry.images import OCI_INDEX, make_image, seed_store, sha, tar_of

IMG = make_image([tar_of({"a": b"alpha" * 3000}), tar_of({"b": b"beta" * 5000}),
                  tar_of({"c": b"gamma"})])


def with_registry(tmp_path: Path, fn, config: ServerConfig | None = None,
                  credential: Credential | None = None):
    async def main():
        storage = RegistryStorage(tmp_path / "registry")
        server = TestServer(make_app(storage, config), host="127.0.0.1")
        await server.start_server()
        try:
            async with new_session() as session:
                def client():
                    return RegistryClient(f"127.0.0.1:{server.port}", session,
                                          credential=credential, for_push=True)
                return await fn(client, f"127.0.0.1:{server.port}")
        finally:
            await server.close()
    return asyncio.run(main())


def test_push_then_pull_round_trip(tmp_path: Path):
    src, dst = ImageStore(tmp_path / "a"), ImageStore(tmp_path / "b")
    msgs = JsonMessages()

    async def go(client, host):
        seed_store(src, IMG, f"{host}/team/app:v1")
        pushed = await push_image(refs.parse(f"{host}/team/app:v1"), src, client(),
                                  chunk_size=7000, report=msgs)
        assert pushed.digest == Digest.parse(IMG.digest) and pushed.uploaded == 4
        again = await push_image(refs.parse(f"{host}/team/app:v1"), src, client())
        assert again.uploaded == 0      # HEAD found every blob
        pulled = await pull_image(refs.parse(f"{host}/team/app:v1"), dst, client(),
                                  report=msgs)
        assert pulled.digest == Digest.parse(IMG.digest) and pulled.downloaded == 4
        twice = await pull_image(refs.parse(f"{host}/team/app:v1"), dst, client())
        assert twice.downloaded == 0
        return host
    host = with_registry(tmp_path, go)
    rec = dst.resolve(f"{host}/team/app:v1")
    assert rec.manifest_digest == Digest.parse(IMG.digest)
    assert f"{host}/team/app@{IMG.digest}" in rec.repo_digests
    for digest, data in IMG.blobs.items():
        assert dst.content.read_bytes(Digest.parse(digest)) == data
    statuses = [m["status"] for m in msgs]
    assert "Pushed" in statuses and "Pull complete" in statuses
    assert any(s.startswith("v1: digest: sha256:") for s in statuses)
    assert all(set(m) <= {"status", "id", "progressDetail"} for m in msgs)


def test_push_mounts_from_another_repository(tmp_path: Path):
    src = ImageStore(tmp_path / "a")

    async def go(client, host):
        seed_store(src, IMG, f"{host}/one/app:v1")
        await push_image(refs.parse(f"{host}/one/app:v1"), src, client())
        src.tag(refs.parse(f"{host}/two/app:v1"), src.resolve(f"{host}/one/app:v1").id)
        result = await push_image(refs.parse(f"{host}/two/app:v1"), src, client())
        assert (result.mounted, result.uploaded) == (4, 0)
    with_registry(tmp_path, go)


def test_pull_selects_the_platform_from_an_index(tmp_path: Path):
    arm = make_image([tar_of({"arm": b"arm"})], arch="arm64")
    dst = ImageStore(tmp_path / "b")

    async def go(client, host):
        src = ImageStore(tmp_path / "a")
        seed_store(src, IMG, f"{host}/multi:amd")
        seed_store(src, arm, f"{host}/multi:arm")
        c = client()
        await push_image(refs.parse(f"{host}/multi:amd"), src, c)
        await push_image(refs.parse(f"{host}/multi:arm"), src, c)
        index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": mf.OCI_MANIFEST, "digest": img.digest, "size": len(img.manifest),
             "platform": {"os": "linux", "architecture": a}}
            for img, a in ((IMG, "amd64"), (arm, "arm64"))]}).encode()
        await c.put_manifest("multi", "all", index, OCI_INDEX)
        r = await pull_image(refs.parse(f"{host}/multi:all"), dst, c,
                             platform=mf.Platform.parse("linux/arm64"))
        assert r.digest == Digest.parse(sha(index))
        assert dst.get(r.image_id).manifest_digest == Digest.parse(arm.digest)
        r = await pull_image(refs.parse(f"{host}/multi@{sha(index)}"), dst, c,
                             platform=mf.Platform.parse("linux/amd64"))
        assert dst.get(r.image_id).manifest_digest == Digest.parse(IMG.digest)
        with pytest.raises(NotFound, match="no matching manifest for linux/s390x"):
            await pull_image(refs.parse(f"{host}/multi:all"), dst, c,
                             platform=mf.Platform.parse("linux/s390x"))
    with_registry(tmp_path, go)


def _users(tmp_path: Path) -> dict[str, bytes]:
    return {"alice": bcrypt.hashpw(b"wonderland", bcrypt.gensalt(4))}


@pytest.mark.parametrize("mode", ["basic", "token"])
def test_auth_modes_accept_good_and_refuse_bad_credentials(tmp_path: Path, mode: str):
    src = ImageStore(tmp_path / "a")
    config = ServerConfig(authorizer=Authorizer(mode=mode, users=_users(tmp_path)))

    async def ok(client, host):
        seed_store(src, IMG, f"{host}/sec:v1")
        await push_image(refs.parse(f"{host}/sec:v1"), src, client())
        await pull_image(refs.parse(f"{host}/sec:v1"), ImageStore(tmp_path / "b"), client())
    with_registry(tmp_path, ok, config, Credential("alice", "wonderland"))

    async def bad(client, host):
        seed_store(src, IMG, f"{host}/sec:v2")
        await push_image(refs.parse(f"{host}/sec:v2"), src, client())
    with pytest.raises(Unauthorized):
        with_registry(tmp_path, bad, config, Credential("alice", "wrong"))
    with pytest.raises(Unauthorized):
        with_registry(tmp_path, bad, config, None)


def test_docker_io_pulls_go_to_a_configured_mirror(tmp_path: Path):
    from dockyard.registry.config import RegistryConfig
    src, dst = ImageStore(tmp_path / "a"), ImageStore(tmp_path / "b")

    async def go(client, host):
        seed_store(src, IMG, f"{host}/library/busybox:latest")
        await push_image(refs.parse(f"{host}/library/busybox:latest"), src, client())
        async with new_session() as session:
            config = RegistryConfig.from_dict({"registry-mirrors": [f"http://{host}"]})
            hub = RegistryClient("docker.io", session, config=config)
            r = await pull_image(refs.parse("busybox"), dst, hub)
            assert r.digest == Digest.parse(IMG.digest)
            assert await hub.base() == f"http://{host}"
            # Pushes never go to a mirror.
            pusher = RegistryClient("docker.io", session, config=config, for_push=True)
            assert pusher._candidates == ["https://registry-1.docker.io"]
    with_registry(tmp_path, go)
    assert dst.resolve("busybox").manifest_digest == Digest.parse(IMG.digest)


@pytest.mark.parametrize("chunk", [0, 4])
@pytest.mark.parametrize("data", [b"", b"abc", b"0123456789"])
def test_upload_sizes_monolithic_and_chunked(tmp_path: Path, chunk: int, data: bytes):
    import io

    async def go(client, host):
        c = client()
        digest = Digest.parse(sha(data))
        loc = await c.start_upload("sizes")
        await c.upload("sizes", loc, digest, len(data), lambda: io.BytesIO(data), chunk)
        assert await c.blob_exists("sizes", digest)
    with_registry(tmp_path, go)


def test_unpack_hook_runs_in_order_and_stops_at_a_failed_download(tmp_path: Path):
    import threading
    calls: list[tuple[int, str]] = []
    main_thread = threading.get_ident()

    def unpack(specs, lease_id):
        assert threading.get_ident() != main_thread      # a worker thread
        calls.append((len(specs), lease_id))

    async def go(client, host):
        src = ImageStore(tmp_path / "a")
        seed_store(src, IMG, f"{host}/hook:v1")
        await push_image(refs.parse(f"{host}/hook:v1"), src, client())
        await pull_image(refs.parse(f"{host}/hook:v1"), ImageStore(tmp_path / "b"), client(),
                         unpack=unpack)
        assert [n for n, _ in calls] == [1, 2, 3]
        assert len({lease for _, lease in calls}) == 1
        # Now the registry loses the middle layer: the pull fails, unpack never
        # gets past the layers that are really there.
        calls.clear()
        storage = RegistryStorage(tmp_path / "registry")
        storage.unlink_blob("hook", Digest.parse(sha(IMG.layers[1])))
        with pytest.raises(NotFound):
            await pull_image(refs.parse(f"{host}/hook:v1"), ImageStore(tmp_path / "c"),
                             client(), unpack=unpack)
        assert [n for n, _ in calls] in ([], [1])
    with_registry(tmp_path, go)
