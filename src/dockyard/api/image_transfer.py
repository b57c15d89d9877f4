"""Image endpoints that move images: ``POST /images/create`` (pull, or import with
``fromSrc``), ``POST /images/{name}/push``, ``GET /images/{name}/get`` and
``/images/get`` (save), ``POST /images/load``.

Progress is streamed as Docker JSON messages (``streams.JsonStream``). Tar work
runs in worker threads reading the request body (``BodyReader``) or writing the
response (``ChunkWriter``), never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from dockyard.api.app import Route, backend_of
from dockyard.api.images import image_attrs
from dockyard.api.params import query_bool, registry_auth
from dockyard.api.streams import JsonStream, Message
from dockyard.daemon.bridge import BodyReader, ChunkWriter, ClientGone
from dockyard.errors import InvalidArgument

log = logging.getLogger("dockyardd.api")


def _no_id(msg: Message) -> bool:
    """Messages sent before any layer's: they don't commit the response yet."""
    return "id" not in msg


async def create(request: web.Request) -> web.StreamResponse:
    q = request.query
    if q.get("fromSrc"):
        return await _import(request)
    return await _pull(request)


async def _pull(request: web.Request) -> web.StreamResponse:
    from dockyard.daemon import transfer
    from dockyard.registry.progress import json_message

    backend = backend_of(request)
    q = request.query
    ref = transfer.pull_reference(q.get("fromImage", ""), q.get("tag", ""))
    all_tags = transfer.pulls_all_tags(q.get("fromImage", ""), q.get("tag", ""))
    cred = transfer.credential_from(registry_auth(request.headers.get("X-Registry-Auth")))
    stream = JsonStream(request, asyncio.get_running_loop(), hold=_no_id)
    work = transfer.pull(backend, ref, cred, q.get("platform") or None,
                         lambda ev: stream.emit(json_message(ev)), all_tags=all_tags)

    def finish(pulled: list[transfer.Pulled]) -> list[Message]:
        for one in pulled:
            backend.events.emit("image", "pull", one.reference, image_attrs(one.reference))
        return []

    return await stream.run(work, finish)


async def _import(request: web.Request) -> web.StreamResponse:
    from dockyard.image.importer import ImportOptions
    from dockyard.image.manifest import Platform

    backend = backend_of(request)
    q = request.query
    source = q["fromSrc"]
    if source != "-" and not source.startswith(("http://", "https://")):
        # dockerd reads a URL or the body, never a path on the daemon's host.
        raise InvalidArgument(f"fromSrc must be '-' (the request body) or an http(s) URL, "
                              f"not {source!r}")
    repo = q.get("repo", "")
    tag_ = q.get("tag", "")
    reference = (f"{repo}:{tag_}" if tag_ else repo) or None
    opts = ImportOptions(reference, tuple(q.getall("changes", [])), q.get("message") or None,
                         Platform.parse(q["platform"]) if q.get("platform") else None)
    loop = asyncio.get_running_loop()
    body = BodyReader(request.content, loop)
    stream = JsonStream(request, loop)

    def run(svc: Any) -> str:
        return str(svc.import_image(source, opts, body).id)

    def finish(image_id: str) -> list[Message]:
        backend.events.emit("image", "import", image_id,
                            image_attrs(reference))
        return [{"status": image_id}]

    return await stream.run(backend.images(run), finish)


async def push(request: web.Request) -> web.StreamResponse:
    from dockyard.daemon import transfer
    from dockyard.image import reference as refs
    from dockyard.registry.progress import json_message

    backend = backend_of(request)
    name = request.match_info["name"]
    tag_ = request.query.get("tag", "")
    ref = refs.parse(f"{name}:{tag_}" if tag_ else name)
    cred = transfer.credential_from(registry_auth(request.headers.get("X-Registry-Auth")))
    # The image must exist: answer 404 before any output, as dockerd does.
    await backend.images(lambda svc: svc.store.resolve(str(ref.with_default_tag())))
    stream = JsonStream(request, asyncio.get_running_loop(), hold=_no_id)
    work = transfer.push(backend, ref, cred, lambda ev: stream.emit(json_message(ev)))

    def finish(pushed: transfer.Pushed) -> list[Message]:
        shown = ref.with_default_tag().familiar()
        backend.events.emit("image", "push", shown, image_attrs(shown))
        return [{"progressDetail": {},
                 "aux": {"Tag": pushed.tag, "Digest": pushed.digest, "Size": pushed.size}}]

    return await stream.run(work, finish)


async def save_one(request: web.Request) -> web.StreamResponse:
    return await _save(request, [request.match_info["name"]])


async def save_many(request: web.Request) -> web.StreamResponse:
    names = request.query.getall("names", [])
    if not names:
        raise InvalidArgument("names is required: one or more images to save")
    return await _save(request, names)


async def _save(request: web.Request, names: list[str]) -> web.StreamResponse:
    backend = backend_of(request)
    # Resolve first: a missing name is a 404, not a broken tar after a 200.
    ids = await backend.images(lambda svc: [str(svc.store.resolve(n).id) for n in names])
    loop = asyncio.get_running_loop()
    out = ChunkWriter(loop)

    def run(svc: Any) -> None:
        try:
            svc.save(names, out)
        finally:
            out.finish()

    resp = web.StreamResponse(headers={"Content-Type": "application/x-tar"})
    await resp.prepare(request)
    work = asyncio.ensure_future(backend.images(run))
    try:
        async for chunk in out.chunks():
            await resp.write(chunk)
        await work
    except BaseException as exc:
        out.abandon()
        await asyncio.gather(work, return_exceptions=True)
        if not isinstance(exc, Exception) or isinstance(exc, (ConnectionResetError,
                                                               ClientGone)):
            raise
        # Headers are gone: cut the connection so the client sees a short tar,
        # never one that looks complete.
        log.error("save %s failed after the response started: %s", names, exc)
        if request.transport is not None:
            request.transport.close()
        return resp
    for name, image_id in zip(names, ids, strict=True):
        backend.events.emit("image", "save", image_id, image_attrs(name))
    await resp.write_eof()
    return resp


async def load(request: web.Request) -> web.StreamResponse:
    backend = backend_of(request)
    quiet = query_bool(request.query, "quiet")
    loop = asyncio.get_running_loop()
    body = BodyReader(request.content, loop)
    stream = JsonStream(request, loop)

    def run(svc: Any) -> Any:
        return svc.load(None, body)

    def finish(result: Any) -> list[Message]:
        msgs: list[Message] = []
        for img in result.images:
            if not quiet:
                for tag, old in img.replaced:
                    msgs.append({"stream": f"The image {tag} already exists, renaming the "
                                           f"old one with ID {old} to empty string\n"})
            names = list(img.tags) or [str(img.id)]
            for name in names:
                backend.events.emit("image", "load", str(img.id), image_attrs(name))
            if img.tags:
                msgs += [{"stream": f"Loaded image: {t}\n"} for t in img.tags]
            else:
                msgs.append({"stream": f"Loaded image ID: {img.id}\n"})
        return msgs

    return await stream.run(backend.images(run), finish)


ROUTES_LITERAL: list[Route] = [
    ("POST", "/images/create", create),
    ("GET", "/images/get", save_many),
    ("POST", "/images/load", load),
]
ROUTES_NAMED: list[Route] = [
    ("POST", "/images/{name:.+}/push", push),
    ("GET", "/images/{name:.+}/get", save_one),
]

__all__ = ["ROUTES_LITERAL", "ROUTES_NAMED", "create", "load", "push", "save_many",
           "save_one"]
