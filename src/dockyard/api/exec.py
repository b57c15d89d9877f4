"""Exec endpoints: create, start (a hijacked stream), inspect, resize.

``POST /exec/{id}/start`` answers its refusals (no such exec, already run,
container stopped or paused) as ordinary HTTP errors, then takes the connection
over (``hijack.py``): 101 for ``Upgrade: tcp`` clients, 200 otherwise. Output is
raw for ``Tty: true`` and in Docker's 8-byte-header frames otherwise (the start
body's ``Tty`` decides, as in dockerd). The exit code is recorded before the
connection closes: the docker CLI and docker-py inspect right after.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from aiohttp import web

from dockyard.api.app import backend_of, json_response
from dockyard.api.params import parse_json_body, query_int
from dockyard.errors import InvalidArgument

if TYPE_CHECKING:
    from dockyard.engine.exec import ExecService

# Tests (and an embedding daemon) may set their own service on the app.
EXEC_SERVICE: web.AppKey[Any] = web.AppKey("exec_service")


def service_of(request: web.Request) -> ExecService:
    svc = request.app.get(EXEC_SERVICE)
    if svc is not None:
        return svc
    from dockyard.engine.exec import exec_service

    return exec_service(backend_of(request))


async def _body(request: web.Request, required: bool) -> dict:
    raw = await request.read()
    if not raw.strip():
        if required:
            raise InvalidArgument("request body is empty")
        return {}
    doc = parse_json_body(raw)
    if not isinstance(doc, dict):
        raise InvalidArgument("request body must be a JSON object")
    return doc


async def create(request: web.Request) -> web.Response:
    body = await _body(request, required=True)
    exec_id = await service_of(request).create(request.match_info["id"], body)
    return json_response({"Id": exec_id}, status=201)


async def inspect(request: web.Request) -> web.Response:
    return json_response(service_of(request).inspect(request.match_info["id"]))


async def resize(request: web.Request) -> web.Response:
    height = query_int(request.query, "h", 0)
    width = query_int(request.query, "w", 0)
    if height < 0 or width < 0 or height > 65535 or width > 65535:
        raise InvalidArgument("h and w must be between 0 and 65535")
    await service_of(request).resize(request.match_info["id"], height, width)
    return web.Response(status=200)


async def start(request: web.Request) -> web.StreamResponse:
    from dockyard.api.hijack import frame, hijack

    body = await _body(request, required=False)
    for key in ("Detach", "Tty"):
        if not isinstance(body.get(key, False), bool):
            raise InvalidArgument(f"{key} must be a boolean")
    exec_id = request.match_info["id"]
    svc = service_of(request)
    size = body.get("ConsoleSize")
    console = None
    if isinstance(size, list) and len(size) == 2 and all(isinstance(x, int) and x > 0
                                                         for x in size):
        console = (size[0], size[1])
    await svc.check_startable(exec_id)
    if body.get("Detach"):
        await svc.start(exec_id, detach=True, console_size=console)
        return json_response_empty()
    raw = bool(body.get("Tty"))
    stream = await hijack(request)

    async def sink(stream_no: int, data: bytes) -> None:
        await stream.write(data if raw else frame(stream_no, data))

    try:
        await svc.start(exec_id, stdin=stream.reader, sink=sink, console_size=console)
    except ConnectionError:
        pass
    finally:
        with contextlib.suppress(Exception):
            await stream.close()
    return stream.response


def json_response_empty() -> web.Response:
    """dockerd's detached start: 200 with no body."""
    return web.Response(status=200, content_type="application/json")


ROUTES = [
    ("POST", "/containers/{id}/exec", create),
    ("POST", "/exec/{id}/start", start),
    ("POST", "/exec/{id}/resize", resize),
    ("GET", "/exec/{id}/json", inspect),
]

__all__ = ["EXEC_SERVICE", "ROUTES", "service_of"]
