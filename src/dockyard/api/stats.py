"""``GET /containers/{id}/stats`` and ``GET /containers/{id}/top``.

stats: ``stream`` (default true) writes one JSON document per second until the
client leaves, each with the previous sample as ``precpu_stats``;
``stream=false`` samples twice a second apart (so the docker CLI's
``--no-stream`` can show a CPU percentage) unless ``one-shot=true`` asks for one
sample now. A container that is not running gets dockerd's zero document(s).
Cgroup files are read in the worker pool.

top: the host's ``ps`` narrowed to the container's cgroup (``engine/top.py``);
409 "is not running" for a stopped container, like dockerd; a ``top`` event.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

from aiohttp import web

from dockyard.api.app import json_response
from dockyard.api.exec import service_of
from dockyard.api.params import query_bool
from dockyard.errors import Conflict, InvalidArgument, NotFound
from dockyard.pids import alive as _alive

if TYPE_CHECKING:
    from dockyard.engine.exec import ExecTarget

INTERVAL = 1.0
LIVE = ("running", "paused")


async def _in_thread(request: web.Request, fn, *args):
    from dockyard.api.app import BACKEND

    backend = request.app.get(BACKEND)
    if backend is not None and hasattr(backend, "run"):
        return await backend.run(fn, *args)
    return await asyncio.to_thread(fn, *args)


async def stats(request: web.Request) -> web.StreamResponse:
    from dockyard.engine import stats as st

    q = request.query
    stream = query_bool(q, "stream", True)
    one_shot = query_bool(q, "one-shot", False)
    if stream and one_shot:
        raise InvalidArgument("cannot have stream=true and one-shot=true")
    svc = service_of(request)
    target: ExecTarget = await svc.target(request.match_info["id"])
    sampler = None
    if target.status in LIVE and target.pid > 0:
        try:
            sampler = await _in_thread(request, st.sampler_for, target.id, target.name,
                                       target.pid)
        except (NotFound, Conflict):
            sampler = None   # stopped meanwhile: the zero document
    if not stream:
        if sampler is None:
            return json_response(st.document(target.id, target.name, None, None))
        doc = await _in_thread(request, sampler.next_document)
        if not one_shot:
            await asyncio.sleep(INTERVAL)
            doc = await _in_thread(request, sampler.next_document)
        return json_response(doc)
    # Streaming, as dockerd does: a document a second until the client leaves; a
    # container that is not (or no longer) running gets zero documents.
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    try:
        while True:
            doc = None
            if sampler is not None and _alive(target.pid):
                try:
                    doc = await _in_thread(request, sampler.next_document)
                except OSError:
                    sampler = None
            if doc is None:
                doc = st.document(target.id, target.name, None, None)
            await response.write(json.dumps(doc).encode() + b"\n")
            await asyncio.sleep(INTERVAL)
    except (ConnectionError, asyncio.CancelledError):
        return response


async def top(request: web.Request) -> web.Response:
    from dockyard.engine.top import container_top

    svc = service_of(request)
    target: ExecTarget = await svc.target(request.match_info["id"])
    if target.status not in LIVE or target.pid <= 0:
        raise Conflict(f"Container {target.id} is not running")
    try:
        answer = await _in_thread(request, container_top, target.pid,
                                  request.query.get("ps_args", ""))
    except (NotFound, Conflict):
        raise Conflict(f"Container {target.id} is not running") from None
    svc.emit(target, "top")
    return json_response(answer)


ROUTES = [
    ("GET", "/containers/{id}/stats", stats),
    ("GET", "/containers/{id}/top", top),
]

__all__ = ["ROUTES"]
