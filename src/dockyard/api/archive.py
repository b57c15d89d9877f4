"""``docker cp``, ``docker export`` and ``docker diff`` endpoints.

* ``HEAD|GET /containers/{id}/archive?path=``: the path's stat in the
  ``X-Docker-Container-Path-Stat`` header (base64 JSON), and for GET its tar;
* ``PUT /containers/{id}/archive?path=&noOverwriteDirNonDir=&copyUIDGID=``: a tar
  (maybe compressed) extracted at a directory;
* ``GET /containers/{id}/export``: the rootfs tar; ``GET .../changes``: docker diff.

Everything runs in one worker thread inside the engine's ``fs_view`` (a stopped
container's rootfs is mounted for the duration). The thread reports the stat (or
the error) before the first byte, so a missing path is a real 404, never a broken
200; after that the tar streams with back-pressure (``ChunkWriter``).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import logging
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web

from dockyard.api.app import Route, backend_of, json_response
from dockyard.api.params import query_bool
from dockyard.daemon.bridge import BodyReader, ChunkWriter, ClientGone

if TYPE_CHECKING:
    from dockyard.daemon.backend import Backend

log = logging.getLogger("dockyardd.api")
STAT_HEADER = "X-Docker-Container-Path-Stat"


NETWORK_FILES = ("hostname", "hosts", "resolv.conf")


def _view(backend: Backend, ref: str, view: Any) -> Any:
    """The engine's view, told the container's name and read-only flag, with the
    network files the engine binds over /etc (so ``cp ctr:/etc/hosts`` reads the
    container's real one, as with dockerd)."""
    from dockyard.engine.mounts import MountPlan

    rec = backend.containers.get(ref)
    read_only = bool((rec.host_config or {}).get("ReadonlyRootfs"))
    mounts = list(view.mounts)
    taken = {m.destination for m in mounts}
    data_dir = getattr(rec, "data_dir", None)
    if data_dir is not None:
        for name in NETWORK_FILES:
            host = os.path.join(data_dir, name)
            if f"/etc/{name}" not in taken and os.path.isfile(host):
                mounts.append(MountPlan("bind", host, f"/etc/{name}"))
    return dataclasses.replace(view, container=ref, read_only=read_only, mounts=mounts)


def stat_header(doc: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(doc, separators=(",", ":")).encode()).decode()


async def _stream(request: web.Request, produce: Callable[[Callable[[Any], None]],
                                                          Iterator[bytes] | None],
                  headers: Callable[[Any], dict[str, str]], head: bool = False
                  ) -> web.StreamResponse:
    """Run ``produce(ready)`` in a worker; it calls ``ready(info)`` once the answer is
    known and returns the body's chunks (consumed in that same thread)."""
    backend = backend_of(request)
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[Any] = loop.create_future()
    out = ChunkWriter(loop)

    def signal(info: Any) -> None:
        loop.call_soon_threadsafe(lambda: ready.done() or ready.set_result(info))

    def work() -> None:
        try:
            chunks = produce(signal)
            for chunk in chunks or ():
                out.write(chunk)
        finally:
            out.finish()

    task = asyncio.ensure_future(backend.run(work))
    await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
    if not ready.done():
        ready.cancel()
        await task          # raises the worker's error: a proper HTTP error
        raise RuntimeError("archive worker ended without an answer")
    hdrs = headers(ready.result())
    if head:
        out.abandon()
        await asyncio.gather(task, return_exceptions=True)
        return web.Response(status=200, headers=hdrs)
    resp = web.StreamResponse(headers={"Content-Type": "application/x-tar", **hdrs})
    await resp.prepare(request)
    try:
        async for chunk in out.chunks():
            await resp.write(chunk)
        await task
    except BaseException as exc:
        out.abandon()
        await asyncio.gather(task, return_exceptions=True)
        if not isinstance(exc, Exception) or isinstance(exc, (ConnectionResetError,
                                                               ClientGone)):
            raise
        # Headers are gone: cut the connection so the client sees a short tar.
        log.error("%s %s failed after the response started: %s", request.method,
                  request.path, exc)
        if request.transport is not None:
            request.transport.close()
        return resp
    await resp.write_eof()
    return resp


async def get_archive(request: web.Request) -> web.StreamResponse:
    from dockyard.engine import archive

    backend = backend_of(request)
    ref = request.match_info["id"]
    path = request.query.get("path", "")
    head = request.method == "HEAD"

    def produce(ready: Callable[[Any], None]) -> Iterator[bytes]:
        # a generator: all of it, fs_view included, runs in the worker as it is read
        with backend.containers.fs_view(ref) as raw:
            view = _view(backend, ref, raw)
            doc = archive.stat_path(view, path)
            chunks = None if head else archive.get_archive(view, path)
            ready(doc)
            if chunks is not None:
                yield from chunks

    return await _stream(request, produce, lambda doc: {STAT_HEADER: stat_header(doc)},
                         head)


async def put_archive(request: web.Request) -> web.Response:
    from dockyard.engine import archive

    backend = backend_of(request)
    ref = request.match_info["id"]
    q = request.query
    path = q.get("path", "")
    no_overwrite = query_bool(q, "noOverwriteDirNonDir")
    copy_ids = query_bool(q, "copyUIDGID")
    body = BodyReader(request.content, asyncio.get_running_loop())

    def run() -> None:
        with backend.containers.fs_view(ref) as raw:
            view = _view(backend, ref, raw)
            user = (backend.containers.get(ref).config or {}).get("User") or ""
            archive.put_archive(view, path, iter(lambda: body.read(1 << 20), b""),
                                no_overwrite_dir_non_dir=no_overwrite,
                                copy_uid_gid=copy_ids, user=user)

    await backend.run(run)
    return web.Response(status=200)


async def export(request: web.Request) -> web.StreamResponse:
    from dockyard.engine import archive

    backend = backend_of(request)
    ref = request.match_info["id"]
    cid: list[str] = []

    def produce(ready: Callable[[Any], None]) -> Iterator[bytes]:
        with backend.containers.fs_view(ref) as raw:
            cid.append(backend.containers.get(ref).id)
            chunks = archive.export_rootfs(raw)
            ready(None)
            yield from chunks

    resp = await _stream(request, produce, lambda _info: {})
    if cid:
        backend.events.emit("container", "export", cid[0])
    return resp


async def changes(request: web.Request) -> web.Response:
    from dockyard.engine.changes import changes as diff

    backend = backend_of(request)
    ref = request.match_info["id"]
    return json_response(await backend.run(lambda: diff(backend.containers.upper_dir(ref))))


ROUTES: list[Route] = [
    ("GET", "/containers/{id}/archive", get_archive),
    ("PUT", "/containers/{id}/archive", put_archive),
    ("GET", "/containers/{id}/export", export),
    ("GET", "/containers/{id}/changes", changes),
]

__all__ = ["ROUTES", "STAT_HEADER", "stat_header"]
