"""Bad input gets the spec's error code and body, and nothing is stored."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.unit.registry.images import OCI_MANIFEST, make_image, sha, tar_of
from tests.unit.registry.server.helpers import error, push_blob, push_image

IMG = make_image([tar_of({"a": b"alpha"})])


def stored_blobs(reg) -> set[str]:
    return {f"{p.parent.name}:{p.name}" for p in (reg.root / "content" / "blobs").glob("*/*")}


def assert_no_uploads(reg) -> None:
    assert list((reg.root / "uploads").iterdir()) == []
    assert list((reg.root / "content" / "ingest").iterdir()) == []


@pytest.mark.parametrize("body, why", [
    (b"{not json", "syntax"),
    (b"[]", "not an object"),
    (json.dumps({"schemaVersion": 1, "name": "x"}).encode(), "schema1"),
    (json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": []}).encode(),
     "no config"),
    (json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                 "config": {"mediaType": "x/y", "digest": "sha256:abc", "size": 1},
                 "layers": []}).encode(), "bad digest"),
    (json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                 "config": {"mediaType": "x/y", "digest": sha(b"c"), "size": -1},
                 "layers": []}).encode(), "negative size"),
    (json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.evil+json",
                 "config": {}, "layers": []}).encode(), "unknown media type"),
])
def test_malformed_manifest_is_manifest_invalid(reg, body, why):
    async def go(c):
        r = await c.put("/v2/m/manifests/v1", data=body, headers={"Content-Type": OCI_MANIFEST})
        assert await error(r) == (400, "MANIFEST_INVALID"), why
        assert (await c.get("/v2/m/manifests/v1")).status == 404
    reg.run(go)
    assert stored_blobs(reg) == set()


def test_manifest_media_type_contradicting_content_type(reg):
    async def go(c):
        for data in [*IMG.layers, IMG.config]:
            await push_blob(c, "m", data)
        r = await c.put("/v2/m/manifests/v1", data=IMG.manifest, headers={
            "Content-Type": "application/vnd.docker.distribution.manifest.v2+json"})
        assert await error(r) == (400, "MANIFEST_INVALID")
    reg.run(go)


def test_manifest_referencing_missing_blob(reg):
    async def go(c):
        await push_blob(c, "m", IMG.config)   # the layer is missing
        r = await c.put("/v2/m/manifests/v1", data=IMG.manifest,
                        headers={"Content-Type": OCI_MANIFEST})
        status, code = await error(r)
        assert code == "MANIFEST_BLOB_UNKNOWN" and status in (400, 404)
        assert (await c.get("/v2/m/manifests/v1")).status == 404
    reg.run(go)
    assert sha(IMG.manifest) not in stored_blobs(reg)


def test_manifest_with_wrong_layer_size(reg):
    doc = json.loads(IMG.manifest)
    doc["layers"][0]["size"] += 1
    body = json.dumps(doc).encode()

    async def go(c):
        for data in [*IMG.layers, IMG.config]:
            await push_blob(c, "m", data)
        r = await c.put("/v2/m/manifests/v1", data=body, headers={"Content-Type": OCI_MANIFEST})
        assert await error(r) == (400, "MANIFEST_INVALID")
    reg.run(go)
    assert sha(body) not in stored_blobs(reg)


def test_manifest_put_by_wrong_digest(reg):
    async def go(c):
        for data in [*IMG.layers, IMG.config]:
            await push_blob(c, "m", data)
        r = await c.put(f"/v2/m/manifests/{sha(b'other')}", data=IMG.manifest,
                        headers={"Content-Type": OCI_MANIFEST})
        assert await error(r) == (400, "DIGEST_INVALID")
    reg.run(go)
    assert sha(IMG.manifest) not in stored_blobs(reg)


def test_monolithic_upload_with_wrong_digest_stores_nothing(reg):
    async def go(c):
        r = await c.post(f"/v2/b/blobs/uploads/?digest={sha(b'promised')}", data=b"delivered")
        assert await error(r) == (400, "DIGEST_INVALID")
        assert (await c.head(f"/v2/b/blobs/{sha(b'delivered')}")).status == 404
    reg.run(go)
    assert stored_blobs(reg) == set()
    assert_no_uploads(reg)


def test_session_upload_with_wrong_digest_stores_nothing(reg):
    async def go(c):
        loc = (await c.post("/v2/b/blobs/uploads/")).headers["Location"]
        await c.patch(loc, data=b"some bytes")
        r = await c.put(f"{loc}?digest={sha(b'else')}")
        assert await error(r) == (400, "DIGEST_INVALID")
    reg.run(go)
    assert stored_blobs(reg) == set()
    assert_no_uploads(reg)


@pytest.mark.parametrize("digest", ["sha256:xyz", "md5:abc", "sha256:" + "A" * 64, "nodigest", ""])
def test_bad_digest_strings(reg, digest):
    async def go(c):
        r = await c.post(f"/v2/b/blobs/uploads/?digest={digest}", data=b"x")
        assert await error(r) == (400, "DIGEST_INVALID")
        if digest:
            r = await c.get(f"/v2/b/blobs/{digest}")
            assert await error(r) == (400, "DIGEST_INVALID")
    reg.run(go)
    assert stored_blobs(reg) == set()


@pytest.mark.parametrize("name", ["UPPER", "a..b", "-lead", "trail-", "a//b", "a/_x",
                                  "x" * 256, "a__b__", "sp ace", "dot./x"])
def test_invalid_repository_names(reg, name):
    async def go(c):
        for path in (f"/v2/{name}/tags/list", f"/v2/{name}/manifests/latest",
                     f"/v2/{name}/blobs/uploads/"):
            r = await (c.post(path, data=b"") if path.endswith("/") else c.get(path))
            assert await error(r) == (400, "NAME_INVALID"), path
    reg.run(go)
    assert not any((reg.root / "repositories").iterdir())


def test_unknown_and_malformed_upload_ids(reg):
    async def go(c):
        await push_blob(c, "u", b"x")
        for uid in ("0" * 32, "not-a-uuid", "../../content"):
            r = await c.patch(f"/v2/u/blobs/uploads/{uid}", data=b"abc")
            # ("../../content" is normalised away to a path no endpoint serves.)
            status, code = await error(r)
            assert (status, code) in ((404, "BLOB_UPLOAD_UNKNOWN"), (400, "NAME_INVALID"),
                                      (404, "UNSUPPORTED")), uid
        loc = (await c.post("/v2/u/blobs/uploads/")).headers["Location"]
        # An upload id belongs to the repository that opened it.
        other = loc.replace("/v2/u/", "/v2/w/")
        assert await error(await c.patch(other, data=b"abc")) == (404, "BLOB_UPLOAD_UNKNOWN")
    reg.run(go)


def test_out_of_order_chunk_is_416_and_not_appended(reg):
    async def go(c):
        loc = (await c.post("/v2/o/blobs/uploads/")).headers["Location"]
        r = await c.patch(loc, data=b"abcd", headers={"Content-Range": "0-3"})
        assert r.status == 202
        r = await c.patch(loc, data=b"efgh", headers={"Content-Range": "10-13"})
        assert await error(r) == (416, "BLOB_UPLOAD_INVALID")
        assert r.headers["Range"] == "0-3"
        r = await c.patch(loc, data=b"efgh", headers={"Content-Range": "4-9"})
        assert (await error(r))[0] == 416
        r = await c.get(loc)
        assert r.headers["Range"] == "0-3"
    reg.run(go)


def test_truncated_upload_body_adds_nothing(reg):
    """A client that dies mid-PATCH: the partial chunk is rolled back."""
    async def go(c):
        loc = (await c.post("/v2/t/blobs/uploads/")).headers["Location"]
        await c.patch(loc, data=b"first")
        host, port = c.server.host, c.server.port
        _reader, writer = await asyncio.open_connection(host, port)
        writer.write(f"PATCH {loc} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 100000\r\n"
                     "Content-Type: application/octet-stream\r\n\r\n".encode() + b"x" * 5000)
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        await asyncio.sleep(0.3)
        r = await c.get(loc)
        assert r.status == 204 and r.headers["Range"] == "0-4"
        r = await c.put(f"{loc}?digest={sha(b'first')}")
        assert r.status == 201
    reg.run(go)
    assert_no_uploads(reg)


def test_huge_manifest_is_413(reg):
    async def go(c):
        big = b'{"schemaVersion": 2, "x": "' + b"a" * 5000 + b'"}'
        r = await c.put("/v2/h/manifests/v1", data=big, headers={"Content-Type": OCI_MANIFEST})
        assert await error(r) == (413, "SIZE_INVALID")
    reg.run(go, max_manifest_size=4096)
    assert stored_blobs(reg) == set()


def test_huge_blob_is_413_and_dropped(reg):
    async def go(c):
        data = b"z" * 20000
        r = await c.post(f"/v2/h/blobs/uploads/?digest={sha(data)}", data=data)
        assert await error(r) == (413, "SIZE_INVALID")

        async def stream():   # no Content-Length: the limit bites while streaming
            for _ in range(10):
                yield b"y" * 4000
        loc = (await c.post("/v2/h/blobs/uploads/")).headers["Location"]
        r = await c.patch(loc, data=stream())
        assert await error(r) == (413, "SIZE_INVALID")
        assert (await c.get(loc)).headers["Range"] == "0-0"
    reg.run(go, max_blob_size=10000)
    assert stored_blobs(reg) == set()


def test_deletes_disabled_by_default(reg):
    async def go(c):
        digest = await push_image(c, "d", IMG)
        assert await error(await c.delete(f"/v2/d/manifests/{digest}")) == (405, "UNSUPPORTED")
        assert await error(await c.delete(f"/v2/d/blobs/{sha(IMG.layers[0])}")) == \
            (405, "UNSUPPORTED")
        assert (await c.get(f"/v2/d/manifests/{digest}")).status == 200
    reg.run(go)


def test_unknown_things_are_404_with_spec_codes(reg):
    async def go(c):
        assert await error(await c.get("/v2/nope/tags/list")) == (404, "NAME_UNKNOWN")
        assert await error(await c.get("/v2/nope/manifests/latest")) == (404, "NAME_UNKNOWN")
        await push_image(c, "yes", IMG)
        assert await error(await c.get("/v2/yes/manifests/other")) == (404, "MANIFEST_UNKNOWN")
        assert await error(await c.get(f"/v2/yes/blobs/{sha(b'q')}")) == (404, "BLOB_UNKNOWN")
        assert await error(await c.get("/v2/yes/manifests/bad%20tag")) == \
            (400, "MANIFEST_INVALID")
        r = await c.get("/v2/yes/tags/list?n=abc")
        assert await error(r) == (400, "PAGINATION_NUMBER_INVALID")
    reg.run(go)
