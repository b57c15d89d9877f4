"""The distribution endpoints on good input: end-1 .. end-14."""

from __future__ import annotations

import asyncio
import json

from tests.unit.registry.images import OCI_MANIFEST, make_image, sha, tar_of
from tests.unit.registry.server.helpers import error, push_blob, push_image

IMG = make_image([tar_of({"a": b"alpha"}), tar_of({"b": b"beta" * 1000})])


def test_base_endpoint_answers_with_api_version(reg):
    async def go(c):
        r = await c.get("/v2/")
        assert r.status == 200
        assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    reg.run(go)


def test_push_then_pull_manifest_and_blobs(reg):
    async def go(c):
        digest = await push_image(c, "lib/app", IMG)
        r = await c.get("/v2/lib/app/manifests/v1")
        assert r.status == 200 and await r.read() == IMG.manifest
        assert r.headers["Content-Type"] == OCI_MANIFEST
        assert r.headers["Docker-Content-Digest"] == digest
        r = await c.head(f"/v2/lib/app/manifests/{digest}")
        assert r.status == 200 and int(r.headers["Content-Length"]) == len(IMG.manifest)
        for layer in IMG.layers:
            r = await c.get(f"/v2/lib/app/blobs/{sha(layer)}")
            assert r.status == 200 and await r.read() == layer
            assert r.headers["Docker-Content-Digest"] == sha(layer)
    reg.run(go)


def test_blob_range_request_returns_the_tail(reg):
    data = bytes(range(256)) * 100

    async def go(c):
        d = await push_blob(c, "r", data)
        r = await c.get(f"/v2/r/blobs/{d}", headers={"Range": "bytes=1000-"})
        assert r.status == 206 and await r.read() == data[1000:]
    reg.run(go)


def test_chunked_upload_with_content_range_and_status(reg):
    data = b"0123456789" * 1000

    async def go(c):
        r = await c.post("/v2/chunky/blobs/uploads/")
        assert r.status == 202
        loc = r.headers["Location"]
        assert r.headers["Docker-Upload-UUID"] in loc
        for start in range(0, len(data), 3000):
            part = data[start:start + 3000]
            r = await c.patch(loc, data=part, headers={
                "Content-Range": f"{start}-{start + len(part) - 1}",
                "Content-Type": "application/octet-stream"})
            assert r.status == 202, await r.text()
            assert r.headers["Range"] == f"0-{start + len(part) - 1}"
            loc = r.headers["Location"]
        r = await c.get(loc)
        assert r.status == 204 and r.headers["Range"] == f"0-{len(data) - 1}"
        r = await c.put(f"{loc}?digest={sha(data)}")
        assert r.status == 201
        r = await c.get(f"/v2/chunky/blobs/{sha(data)}")
        assert await r.read() == data
    reg.run(go)


def test_stream_patch_without_content_range_then_put_with_last_chunk(reg):
    async def go(c):
        loc = (await c.post("/v2/s/blobs/uploads/")).headers["Location"]
        r = await c.patch(loc, data=b"hello ")
        assert r.status == 202
        r = await c.put(f"{loc}?digest={sha(b'hello world')}", data=b"world")
        assert r.status == 201
    reg.run(go)


def test_cancel_upload_forgets_it(reg):
    async def go(c):
        loc = (await c.post("/v2/x/blobs/uploads/")).headers["Location"]
        await c.patch(loc, data=b"abc")
        r = await c.delete(loc)
        assert r.status == 204
        assert await error(await c.get(loc)) == (404, "BLOB_UPLOAD_UNKNOWN")
    reg.run(go)
    assert list((reg.root / "uploads").iterdir()) == []


def test_cross_repository_mount(reg):
    async def go(c):
        d = await push_blob(c, "src/repo", b"shared layer")
        r = await c.post(f"/v2/dst/repo/blobs/uploads/?mount={d}&from=src/repo")
        assert r.status == 201 and r.headers["Location"].endswith(d)
        assert (await c.head(f"/v2/dst/repo/blobs/{d}")).status == 200
        # Unknown source: an ordinary upload session instead (202).
        r = await c.post(f"/v2/dst/other/blobs/uploads/?mount={d}&from=nope")
        assert r.status == 202 and "/blobs/uploads/" in r.headers["Location"]
    reg.run(go)


def test_blob_not_linked_to_a_repo_is_unknown_there(reg):
    async def go(c):
        d = await push_blob(c, "one", b"private")
        assert await error(await c.get(f"/v2/two/blobs/{d}")) == (404, "BLOB_UNKNOWN")
    reg.run(go)


def test_tags_list_pagination_with_link_header(reg):
    async def go(c):
        await push_image(c, "t", IMG, "v1")
        for tag in ("b", "a", "c", "d"):
            r = await c.put(f"/v2/t/manifests/{tag}", data=IMG.manifest,
                            headers={"Content-Type": OCI_MANIFEST})
            assert r.status == 201
        r = await c.get("/v2/t/tags/list")
        assert (await r.json())["tags"] == ["a", "b", "c", "d", "v1"]
        r = await c.get("/v2/t/tags/list?n=2")
        assert (await r.json())["tags"] == ["a", "b"]
        assert r.headers["Link"] == '</v2/t/tags/list?n=2&last=b>; rel="next"'
        r = await c.get("/v2/t/tags/list?n=2&last=b")
        assert (await r.json())["tags"] == ["c", "d"]
        r = await c.get("/v2/t/tags/list?n=10&last=d")
        assert (await r.json())["tags"] == ["v1"] and "Link" not in r.headers
        r = await c.get("/v2/t/tags/list?n=0")
        assert (await r.json())["tags"] == []
    reg.run(go)


def test_catalog_lists_nested_repositories_with_pagination(reg):
    async def go(c):
        for name in ("b/x", "a", "b/x/y", "c"):
            await push_image(c, name, IMG)
        r = await c.get("/v2/_catalog")
        assert (await r.json())["repositories"] == ["a", "b/x", "b/x/y", "c"]
        r = await c.get("/v2/_catalog?n=2&last=a")
        assert (await r.json())["repositories"] == ["b/x", "b/x/y"]
        assert "Link" in r.headers
    reg.run(go)


def test_delete_manifest_and_blob_when_enabled(reg):
    async def go(c):
        digest = await push_image(c, "del", IMG)
        r = await c.delete(f"/v2/del/manifests/{digest}")
        assert r.status == 202
        assert await error(await c.get("/v2/del/manifests/v1")) == (404, "MANIFEST_UNKNOWN")
        layer = sha(IMG.layers[0])
        assert (await c.delete(f"/v2/del/blobs/{layer}")).status == 202
        assert await error(await c.get(f"/v2/del/blobs/{layer}")) == (404, "BLOB_UNKNOWN")
    reg.run(go, delete_enabled=True)


def test_delete_tag_only(reg):
    async def go(c):
        digest = await push_image(c, "dt", IMG)
        assert (await c.delete("/v2/dt/manifests/v1")).status == 202
        assert (await c.get(f"/v2/dt/manifests/{digest}")).status == 200
        assert (await (await c.get("/v2/dt/tags/list")).json())["tags"] == []
    reg.run(go, delete_enabled=True)


def test_referrers_api_with_artifact_type_filter(reg):
    async def go(c):
        subject = await push_image(c, "ref", IMG)
        empty = b"{}"
        await push_blob(c, "ref", empty)
        arts = {}
        for kind in ("application/vnd.example.sig", "application/vnd.example.sbom"):
            doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": kind,
                   "config": {"mediaType": "application/vnd.oci.empty.v1+json",
                              "digest": sha(empty), "size": 2},
                   "layers": [], "annotations": {"k": kind},
                   "subject": {"mediaType": OCI_MANIFEST, "digest": subject,
                               "size": len(IMG.manifest)}}
            body = json.dumps(doc).encode()
            r = await c.put(f"/v2/ref/manifests/{sha(body)}", data=body,
                            headers={"Content-Type": OCI_MANIFEST})
            assert r.status == 201 and r.headers["OCI-Subject"] == subject
            arts[kind] = sha(body)
        r = await c.get(f"/v2/ref/referrers/{subject}")
        idx = await r.json(content_type=None)
        assert {m["digest"] for m in idx["manifests"]} == set(arts.values())
        assert all(m["annotations"]["k"] == m["artifactType"] for m in idx["manifests"])
        r = await c.get(f"/v2/ref/referrers/{subject}?artifactType=application/vnd.example.sbom")
        idx = await r.json(content_type=None)
        assert [m["digest"] for m in idx["manifests"]] == [arts["application/vnd.example.sbom"]]
        assert r.headers["OCI-Filters-Applied"] == "artifactType"
        r = await c.get(f"/v2/ref/referrers/{sha(b'nothing')}")
        assert r.status == 200 and (await r.json(content_type=None))["manifests"] == []
    reg.run(go)


def test_index_requires_its_manifests_and_is_served_back(reg):
    async def go(c):
        digest = await push_image(c, "multi", IMG)
        index = json.dumps({"schemaVersion": 2,
                            "mediaType": "application/vnd.oci.image.index.v1+json",
                            "manifests": [{"mediaType": OCI_MANIFEST, "digest": digest,
                                           "size": len(IMG.manifest),
                                           "platform": {"os": "linux",
                                                        "architecture": "amd64"}}]}).encode()
        r = await c.put("/v2/multi/manifests/all", data=index, headers={
            "Content-Type": "application/vnd.oci.image.index.v1+json"})
        assert r.status == 201
        r = await c.get("/v2/multi/manifests/all")
        assert await r.read() == index
    reg.run(go)


def test_concurrent_pushes_of_one_blob_and_one_tag_are_safe(reg):
    other = make_image([tar_of({"z": b"zeta"})])

    async def go(c):
        data = b"same bytes" * 50000
        results = await asyncio.gather(*(push_blob(c, f"n{i % 3}", data) for i in range(12)))
        assert set(results) == {sha(data)}
        await asyncio.gather(push_image(c, "tag", IMG), push_image(c, "tag", other))

        async def put(img):
            r = await c.put("/v2/tag/manifests/latest", data=img.manifest,
                            headers={"Content-Type": OCI_MANIFEST})
            assert r.status == 201
        await asyncio.gather(*(put(IMG if i % 2 else other) for i in range(20)))
        r = await c.get("/v2/tag/manifests/latest")
        assert await r.read() in (IMG.manifest, other.manifest)
        r = await c.get(f"/v2/n1/blobs/{sha(data)}")
        assert await r.read() == data
    reg.run(go)
    assert list((reg.root / "uploads").iterdir()) == []
    tags = reg.root / "repositories" / "tag" / "_tags"
    assert sorted(p.name for p in tags.iterdir()) == ["latest", "v1"]
