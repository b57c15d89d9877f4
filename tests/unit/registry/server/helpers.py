"""Small request helpers for the server tests."""

from __future__ import annotations

import json

from aiohttp.test_utils import TestClient

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
