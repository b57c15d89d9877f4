"""Manifest, tag, catalog and referrers endpoints (end-3, end-7, end-8, end-9, end-12).

A manifest is accepted only when it parses, everything it references is already
in the repository with the size it claims, and (for a digest reference) it hashes
to that digest. Then its bytes go to the content store, the repository link and
the tag are written (each one atomic), and a subject records a referrer.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import quote

from aiohttp import web

from dockyard.errors import DigestMismatch, InvalidArgument
from dockyard.image.digest import Digest
from dockyard.registry import manifest as mf
from dockyard.registry.server.blobs import parse_digest
from dockyard.registry.server.context import ServerContext
from dockyard.registry.server.errors import RegistryError
from dockyard.registry.server.routes import Route, is_tag


def _resolve(ctx: ServerContext, name: str, reference: str) -> Digest:
    storage = ctx.storage
    if ":" in reference:
        digest = parse_digest(reference)
    elif is_tag(reference):
        found = storage.get_tag(name, reference)
        if found is None:
            if not storage.repo_exists(name):
                raise RegistryError("NAME_UNKNOWN", {"name": name})
            raise RegistryError("MANIFEST_UNKNOWN", {"tag": reference})
        digest = found
    else:
        raise RegistryError("MANIFEST_INVALID", f"invalid tag {reference[:140]!r}")
    return digest


async def manifest(ctx: ServerContext, request: web.Request, route: Route) -> web.StreamResponse:
    if request.method == "PUT":
        return await put_manifest(ctx, request, route)
    if request.method == "DELETE":
        return delete_manifest(ctx, route)
    if request.method not in ("GET", "HEAD"):
        raise RegistryError("UNSUPPORTED", f"{request.method} on a manifest")
    digest = _resolve(ctx, route.name, route.arg)
    media_type = ctx.storage.manifest_media_type(route.name, digest)
    if media_type is None:
        if not ctx.storage.repo_exists(route.name):
            raise RegistryError("NAME_UNKNOWN", {"name": route.name})
        raise RegistryError("MANIFEST_UNKNOWN", {"digest": str(digest)})
    body = ctx.storage.content.read_bytes(digest)
    headers = {"Docker-Content-Digest": str(digest), "Content-Type": media_type,
               "Etag": f'"{digest}"'}
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(body))
        return web.Response(status=200, headers=headers)
    return web.Response(status=200, body=body, headers=headers)


async def _read_limited(request: web.Request, limit: int) -> bytes:
    declared = request.headers.get("Content-Length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RegistryError("SIZE_INVALID", f"manifest larger than {limit} bytes", status=413)
    buf = bytearray()
    async for chunk in request.content.iter_chunked(1 << 16):
        buf += chunk
        if len(buf) > limit:
            raise RegistryError("SIZE_INVALID", f"manifest larger than {limit} bytes",
                                status=413)
    return bytes(buf)


def _check_references(ctx: ServerContext, name: str, m: mf.Manifest) -> None:
    storage = ctx.storage
    for d in m.manifests:
        if storage.manifest_media_type(name, d.digest) is None:
            raise RegistryError("MANIFEST_BLOB_UNKNOWN", {"digest": str(d.digest)})
    for d in ((m.config,) if m.config else ()) + m.layers:
        if not storage.has_blob(name, d.digest):
            raise RegistryError("MANIFEST_BLOB_UNKNOWN", {"digest": str(d.digest)})
        actual = storage.content.info(d.digest).size
        if actual != d.size:
            raise RegistryError("MANIFEST_INVALID",
                                f"descriptor {d.digest} says size {d.size}, blob has {actual}")
    for d in m.manifests:
        actual = storage.content.info(d.digest).size
        if actual != d.size:
            raise RegistryError("MANIFEST_INVALID",
                                f"descriptor {d.digest} says size {d.size}, manifest has {actual}")


async def put_manifest(ctx: ServerContext, request: web.Request, route: Route) -> web.Response:
    body = await _read_limited(request, ctx.config.max_manifest_size)
    reference = route.arg
    tags: list[str] = []
    if ":" in reference:
        expected = parse_digest(reference)
        digest = Digest.of_bytes(body, expected.algorithm)
        if digest != expected:
            raise RegistryError("DIGEST_INVALID", {"expected": str(expected),
                                                   "actual": str(digest)})
        tags = request.query.getall("tag", [])
    else:
        digest = Digest.of_bytes(body)
        tags = [reference]
    for t in tags:
        if not is_tag(t):
            raise RegistryError("MANIFEST_INVALID", f"invalid tag {t[:140]!r}")
    try:
        parsed = mf.parse(body, request.headers.get("Content-Type"))
    except InvalidArgument as e:
        raise RegistryError("MANIFEST_INVALID", e.message) from None
    storage = ctx.storage

    def commit() -> None:
        # Under the shared lock: gc can't sweep between the check and the link.
        with storage.lock():
            _check_references(ctx, route.name, parsed)
            try:
                storage.put_manifest_blob(body, digest)
            except DigestMismatch as e:  # cannot happen for our own hash; keep it loud
                raise RegistryError("DIGEST_INVALID", e.message) from None
            storage.link_manifest(route.name, digest, parsed.media_type)
            for t in tags:
                storage.set_tag(route.name, t, digest)
            if parsed.subject is not None:
                storage.add_referrer(route.name, parsed.subject.digest, digest)

    await asyncio.get_running_loop().run_in_executor(None, commit)
    headers = {"Location": f"/v2/{route.name}/manifests/{digest}",
               "Docker-Content-Digest": str(digest)}
    if parsed.subject is not None:
        headers["OCI-Subject"] = str(parsed.subject.digest)
    return web.Response(status=201, headers=headers)


def delete_manifest(ctx: ServerContext, route: Route) -> web.Response:
    if not ctx.config.delete_enabled:
        raise RegistryError("UNSUPPORTED", "deletes are disabled (--delete-enabled)")
    storage = ctx.storage
    if ":" in route.arg:
        digest = parse_digest(route.arg)
        if not storage.unlink_manifest(route.name, digest):
            raise RegistryError("MANIFEST_UNKNOWN", {"digest": str(digest)})
    elif is_tag(route.arg):
        if not storage.delete_tag(route.name, route.arg):
            raise RegistryError("MANIFEST_UNKNOWN", {"tag": route.arg})
    else:
        raise RegistryError("MANIFEST_INVALID", f"invalid tag {route.arg[:140]!r}")
    return web.Response(status=202)


def paginate(items: list[str], request: web.Request, path: str
             ) -> tuple[list[str], dict[str, str]]:
    """Apply ``n`` and ``last`` (lexical order) and build the ``Link`` header."""
    last = request.query.get("last")
    if last is not None:
        items = [i for i in items if i > last]
    raw_n = request.query.get("n")
    if raw_n is None or raw_n == "":
        return items, {}
    if not raw_n.isdigit():
        raise RegistryError("PAGINATION_NUMBER_INVALID", {"n": raw_n[:40]})
    n = int(raw_n)
    page = items[:n]
    headers = {}
    if len(items) > n and page:
        headers["Link"] = f'<{path}?n={n}&last={quote(page[-1], safe="")}>; rel="next"'
    return page, headers


async def tags_list(ctx: ServerContext, request: web.Request, route: Route) -> web.Response:
    if not ctx.storage.repo_exists(route.name):
        raise RegistryError("NAME_UNKNOWN", {"name": route.name})
    tags, headers = paginate(ctx.storage.tags(route.name), request, f"/v2/{route.name}/tags/list")
    return web.json_response({"name": route.name, "tags": tags}, headers=headers)


async def catalog(ctx: ServerContext, request: web.Request, route: Route) -> web.Response:
    loop = asyncio.get_running_loop()
    names = await loop.run_in_executor(None, ctx.storage.catalog)
    repos, headers = paginate(names, request, "/v2/_catalog")
    return web.json_response({"repositories": repos}, headers=headers)


async def referrers(ctx: ServerContext, request: web.Request, route: Route) -> web.Response:
    subject = parse_digest(route.arg)
    wanted = request.query.get("artifactType")
    storage = ctx.storage
    out = []
    for dg in storage.referrers(route.name, subject):
        body = storage.content.read_bytes(dg)
        try:
            m = mf.parse(body, storage.manifest_media_type(route.name, dg))
        except InvalidArgument:
            continue
        artifact = m.artifact_type or (m.config.media_type if m.config else None)
        if wanted and artifact != wanted:
            continue
        entry = {"mediaType": m.media_type, "digest": str(dg), "size": len(body)}
        if artifact:
            entry["artifactType"] = artifact
        if m.annotations:
            entry["annotations"] = m.annotations
        out.append(entry)
    headers = {"Content-Type": mf.OCI_INDEX}
    if wanted:
        headers["OCI-Filters-Applied"] = "artifactType"
    doc = {"schemaVersion": 2, "mediaType": mf.OCI_INDEX, "manifests": out}
    return web.Response(body=json.dumps(doc).encode(), headers=headers)


__all__ = ["catalog", "manifest", "paginate", "referrers", "tags_list"]
