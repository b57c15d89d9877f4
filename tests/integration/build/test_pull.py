"""FROM an image that is not here pulls it; ``--pull`` pulls a newer one even when
a copy is here (a registry served by dockyard's own registry server)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from tests.integration.build.conftest import write


@pytest.fixture
def registry(tmp_path: Path):
    """(host:port, push(name, tag, layer files)) of a registry on 127.0.0.1."""
    from aiohttp import web

    from dockyard.registry.server import RegistryStorage, make_app

    loop = asyncio.new_event_loop()
    runner = web.AppRunner(make_app(RegistryStorage(tmp_path / "reg")))
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def push(name: str, tag: str, files: dict[str, bytes]) -> None:
        from tests.unit.registry.images import make_image, tar_of

        image = make_image([tar_of(files)])

        async def put() -> None:
            import aiohttp

            from tests.unit.registry.images import OCI_MANIFEST, sha

            base = f"http://127.0.0.1:{port}/v2/{name}"
            async with aiohttp.ClientSession() as s:
                for blob in (*image.layers, image.config):
                    r = await s.post(f"{base}/blobs/uploads/?digest={sha(blob)}", data=blob)
                    assert r.status == 201, await r.text()
                r = await s.put(f"{base}/manifests/{tag}", data=image.manifest,
                                headers={"Content-Type": OCI_MANIFEST})
                assert r.status == 201, await r.text()
        asyncio.run_coroutine_threadsafe(put(), loop).result(30)

    try:
        yield f"127.0.0.1:{port}", push
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_from_pulls_and_pull_refreshes(build, image_file, registry, tmp_path: Path) -> None:
    host, push = registry
    push("base", "v1", {"etc/version": b"1\n"})
    ctx = write(tmp_path / "ctx", {"Dockerfile": f"FROM {host}/base:v1\nENV X=1\n"})
    first = build(ctx)
    assert "Pulling" in first.log
    assert image_file(first.result.image_id, "/etc/version") == b"1\n"
    push("base", "v1", {"etc/version": b"2\n"})
    cached = build(ctx)
    assert "Pulling" not in cached.log
    assert image_file(cached.result.image_id, "/etc/version") == b"1\n"
    pulled = build(ctx, pull=True)
    assert image_file(pulled.result.image_id, "/etc/version") == b"2\n"
