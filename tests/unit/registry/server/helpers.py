"""Small request helpers for the server tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from dockyard.registry.server import RegistryStorage, ServerConfig, make_app
from tests.unit.registry.images import OCI_MANIFEST, Image, sha


async def push_blob(c: TestClient, name: str, data: bytes) -> str:
    r = await c.post(f"/v2/{name}/blobs/uploads/?digest={sha(data)}", data=data)
    assert r.status == 201, await r.text()
    return sha(data)


async def push_image(c: TestClient, name: str, image: Image, tag: str = "v1") -> str:
    for data in [*image.layers, image.config]:
        await push_blob(c, name, data)
    r = await c.put(f"/v2/{name}/manifests/{tag}", data=image.manifest,
                    headers={"Content-Type": OCI_MANIFEST})
    assert r.status == 201, await r.text()
    assert r.headers["Docker-Content-Digest"] == image.digest
    return image.digest


async def error(r) -> tuple[int, str]:
    """(status, first error code) of a spec error response."""
    body = json.loads(await r.read())
    assert set(body) == {"errors"}, body
    assert {"code", "message"} <= set(body["errors"][0]), body
    return r.status, body["errors"][0]["code"]


class Harness:
    """The registry app on a loopback port, over a storage directory kept between runs."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def storage(self) -> RegistryStorage:
        return RegistryStorage(self.root)

    def run(self, fn: Callable[[TestClient], Awaitable[Any]], **config: Any) -> Any:
        async def main() -> Any:
            app = make_app(self.storage(), ServerConfig(**config))
            async with TestClient(TestServer(app, host="127.0.0.1")) as client:
                return await fn(client)
        return asyncio.run(main())
