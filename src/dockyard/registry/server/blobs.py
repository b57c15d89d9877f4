"""Blob and upload endpoints (end-2, end-4a/b, end-5, end-6, end-10, end-11,
end-13, end-14).

Upload bodies are streamed to the upload's file in ~1 MiB pieces by a worker
thread (write + sha256 both release the GIL), never held whole in memory. A body
that breaks off mid-way is rolled back to where the request started, so a
truncated PATCH or PUT adds nothing.
"""

from __future__ import annotations

import asyncio
import re

from aiohttp import web

from dockyard.errors import InvalidArgument
from dockyard.image.digest import Digest
from dockyard.registry.server.context import ServerContext, range_header, upload_location
from dockyard.registry.server.errors import RegistryError
from dockyard.registry.server.routes import NAME_RE, Route
from dockyard.registry.server.storage import Upload

_PIECE = 1 << 20
_CONTENT_RANGE_RE = re.compile(r"^(?:bytes[ =])?(\d+)-(\d+)(?:/(?:\d+|\*))?$")


def parse_digest(text: str | None) -> Digest:
    if not text:
        raise RegistryError("DIGEST_INVALID", "digest parameter missing")
    try:
        return Digest.parse(text)
    except InvalidArgument as e:
        raise RegistryError("DIGEST_INVALID", e.message) from None


def _declared_length(request: web.Request) -> int | None:
    raw = request.headers.get("Content-Length")
    if raw is None:
        return None
    if not raw.isdigit():
        raise RegistryError("SIZE_INVALID", f"bad Content-Length {raw[:40]!r}")
    return int(raw)


async def receive(ctx: ServerContext, request: web.Request, upload: Upload) -> int:
    """Append the request body to ``upload``; returns the bytes received."""
    storage, limit = ctx.storage, ctx.config.max_blob_size
    start = upload.size
    declared = _declared_length(request)
    if declared is not None and start + declared > limit:
        raise RegistryError("SIZE_INVALID", f"blob larger than the limit of {limit} bytes",
                            status=413)
    loop = asyncio.get_running_loop()
    got = 0
    buf = bytearray()
    try:
        async for chunk in request.content.iter_chunked(_PIECE):
            buf += chunk
            if start + got + len(buf) > limit:
                raise RegistryError("SIZE_INVALID",
                                    f"blob larger than the limit of {limit} bytes", status=413)
            if len(buf) >= _PIECE:
                data, buf = bytes(buf), bytearray()
                await loop.run_in_executor(None, storage.append, upload, data)
                got += len(data)
        if buf:
            await loop.run_in_executor(None, storage.append, upload, bytes(buf))
            got += len(buf)
    except RegistryError:
        storage.truncate(upload, start)
        raise
    except Exception as e:  # the body broke off (client gone, bad chunking)
        storage.truncate(upload, start)
        raise RegistryError("BLOB_UPLOAD_INVALID", f"upload body incomplete: {e}") from None
    if declared is not None and got != declared:
        storage.truncate(upload, start)
        raise RegistryError("SIZE_INVALID", f"got {got} bytes, Content-Length said {declared}")
    return got


def _upload_headers(upload: Upload) -> dict[str, str]:
    return {"Location": upload_location(upload.name, upload.id),
            "Range": range_header(upload.size), "Docker-Upload-UUID": upload.id}


def _created(name: str, digest: Digest) -> web.Response:
    return web.Response(status=201, headers={
        "Location": f"/v2/{name}/blobs/{digest}", "Docker-Content-Digest": str(digest)})


async def get_blob(ctx: ServerContext, request: web.Request, route: Route) -> web.StreamResponse:
    digest = parse_digest(route.arg)
    if request.method == "DELETE":
        return delete_blob(ctx, route, digest)
    if not ctx.storage.has_blob(route.name, digest):
        raise RegistryError("BLOB_UNKNOWN", {"digest": str(digest)})
    if request.method == "HEAD":
        ctx.storage.touch_blob(digest)
    headers = {"Docker-Content-Digest": str(digest), "Content-Type": "application/octet-stream",
               "Accept-Ranges": "bytes", "Cache-Control": "max-age=31536000"}
    return web.FileResponse(ctx.storage.content.blob_path(digest), headers=headers)


def delete_blob(ctx: ServerContext, route: Route, digest: Digest) -> web.Response:
    if not ctx.config.delete_enabled:
        raise RegistryError("UNSUPPORTED", "deletes are disabled (--delete-enabled)")
    if not ctx.storage.unlink_blob(route.name, digest):
        raise RegistryError("BLOB_UNKNOWN", {"digest": str(digest)})
    return web.Response(status=202)


async def start_upload(ctx: ServerContext, request: web.Request, route: Route) -> web.Response:
    """POST .../blobs/uploads/: a session, a monolithic push, or a mount."""
    storage, q = ctx.storage, request.query
    if "mount" in q:
        digest = parse_digest(q["mount"])
        source = q.get("from", "")
        if source and NAME_RE.match(source):
            loop = asyncio.get_running_loop()
            if await loop.run_in_executor(None, storage.mount_blob, route.name, source, digest):
                return _created(route.name, digest)
        # Not mountable: fall through to an ordinary session (spec: 202).
    if "digest" in q and "mount" not in q:
        digest = parse_digest(q["digest"])
        upload = storage.new_upload(route.name)
        try:
            await receive(ctx, request, upload)
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, storage.commit_upload, upload, digest)
        finally:
            storage.drop_upload(upload)
        return _created(route.name, digest)
    upload = storage.new_upload(route.name)
    return web.Response(status=202, headers=_upload_headers(upload))


async def upload(ctx: ServerContext, request: web.Request, route: Route) -> web.Response:
    """PATCH / PUT / GET / DELETE on an upload session."""
    storage = ctx.storage
    up = storage.get_upload(route.name, route.arg)
    if request.method == "GET":
        return web.Response(status=204, headers=_upload_headers(up))
    if request.method == "DELETE":
        storage.drop_upload(up)
        return web.Response(status=204)
    _check_content_range(request, up)
    if request.method == "PATCH":
        await receive(ctx, request, up)
        return web.Response(status=202, headers=_upload_headers(up))
    if request.method == "PUT":
        digest = parse_digest(request.query.get("digest"))
        try:
            await receive(ctx, request, up)
        except RegistryError:
            storage.drop_upload(up)
            raise
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, storage.commit_upload, up, digest)
        return _created(route.name, digest)
    raise RegistryError("UNSUPPORTED", f"{request.method} on an upload")


def _check_content_range(request: web.Request, up: Upload) -> None:
    raw = request.headers.get("Content-Range")
    if raw is None:
        return
    m = _CONTENT_RANGE_RE.match(raw.strip())
    size = up.size
    if not m:
        raise RegistryError("BLOB_UPLOAD_INVALID", f"bad Content-Range {raw[:60]!r}",
                            status=416, headers=_upload_headers(up))
    first, last = int(m.group(1)), int(m.group(2))
    declared = _declared_length(request)
    if first != size or last < first or (declared is not None and declared != last - first + 1):
        raise RegistryError("BLOB_UPLOAD_INVALID",
                            f"Content-Range {raw} does not continue the upload at {size}",
                            status=416, headers=_upload_headers(up))


__all__ = ["get_blob", "parse_digest", "receive", "start_upload", "upload"]
