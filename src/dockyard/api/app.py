"""The Docker Engine API application: routes, version negotiation, errors, headers.

Every route is served at ``/PATH`` and ``/vX.Y/PATH``. A versioned request is
checked against [MIN_API_VERSION, API_VERSION] like dockerd does (400 with
dockerd's words outside it); an unversioned one means the current version.
Every answer carries ``Api-Version``, ``Server``, ``Docker-Experimental`` and
``Ostype``. Errors are mapped once here, through ``errors.py``'s table; a route
nobody serves is dockerd's ``404 {"message": "page not found"}``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from dockyard import __version__
from dockyard.api import errors
from dockyard.errors import DockyardError, InvalidArgument

if TYPE_CHECKING:
    from dockyard.daemon.backend import Backend

API_VERSION = "1.41"
MIN_API_VERSION = "1.24"
SERVER = f"Dockyard/{__version__} (linux)"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Route = tuple[str, str, Handler]

BACKEND: web.AppKey[Backend] = web.AppKey("backend")
# The negotiated version of a request (absent: the current one).
VERSION_KEY: Any = (web.RequestKey("api_version", tuple) if hasattr(web, "RequestKey")
                    else "api_version")

log = logging.getLogger("dockyardd.api")


def parse_version(text: str) -> tuple[int, int]:
    major, dot, minor = text.partition(".")
    if not dot or not major.isdigit() or not minor.isdigit():
        raise InvalidArgument(f"invalid API version {text!r}")
    return int(major), int(minor)


def check_version(text: str) -> tuple[int, int]:
    """dockerd's version middleware: the requested version must be in range."""
    wanted = parse_version(text)
    if wanted > parse_version(API_VERSION):
        raise InvalidArgument(f"client version {text} is too new. Maximum supported API "
                              f"version is {API_VERSION}")
    if wanted < parse_version(MIN_API_VERSION):
        raise InvalidArgument(f"client version {text} is too old. Minimum supported API "
                              f"version is {MIN_API_VERSION}, please upgrade your client "
                              "to a newer version")
    return wanted


def request_version(request: web.Request) -> tuple[int, int]:
    return request.get(VERSION_KEY) or parse_version(API_VERSION)


def backend_of(request: web.Request) -> Backend:
    return request.app[BACKEND]


def json_response(doc: Any, status: int = 200) -> web.Response:
    return web.Response(body=json.dumps(doc).encode() + b"\n", status=status,
                        content_type="application/json")


def error_response(status: int, message: str) -> web.Response:
    if status == 304:
        return web.Response(status=304)
    return json_response(errors.error_body(message), status)


@web.middleware
async def _middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        version = request.match_info.get("version")
        if version is not None:
            request[VERSION_KEY] = check_version(version)
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status in (404, 405):   # dockerd: no such route or method
            return error_response(404, errors.PAGE_NOT_FOUND)
        if exc.status >= 400:
            return error_response(exc.status, exc.reason)
        raise
    except DockyardError as exc:
        status = errors.status_for(exc)
        if status >= 500:
            log.error("%s %s: %s", request.method, request.path, exc.message)
        return error_response(status, errors.message_for(exc))
    except (ConnectionResetError, web.HTTPClientError):
        raise
    except Exception as exc:
        log.exception("%s %s failed", request.method, request.path)
        return error_response(500, errors.message_for(exc))


async def _headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Api-Version"] = API_VERSION
    response.headers["Server"] = SERVER
    response.headers["Docker-Experimental"] = "false"
    response.headers["Ostype"] = "linux"


def route_table() -> list[Route]:
    """Every (method, path, handler) the daemon serves, unversioned."""
    from dockyard.api import auth, containers, events, images, system

    routes = [*system.ROUTES, *events.ROUTES, *auth.ROUTES, *images.routes(),
              *containers.routes()]
    # Other rooms' endpoints, once their branches are merged.
    for module in ("exec", "stats", "volumes", "archive", "networks", "build"):
        routes += _optional_routes(module)
    return routes


def _optional_routes(module: str) -> list[Route]:
    import importlib

    try:
        mod = importlib.import_module(f"dockyard.api.{module}")
    except ModuleNotFoundError as e:
        if e.name != f"dockyard.api.{module}":
            raise
        return []
    found = getattr(mod, "ROUTES", None)
    if found is None and hasattr(mod, "routes"):
        found = mod.routes()
    return list(found or [])


def add_routes(app: web.Application, routes: Iterable[Route]) -> None:
    routes = list(routes)
    for prefix in ("/v{version:[0-9]+[.][0-9]+}", ""):
        for method, path, handler in routes:
            if method == "GET":
                app.router.add_get(prefix + path, handler)   # HEAD comes with GET
            else:
                app.router.add_route(method, prefix + path, handler)


def make_app(backend: Backend, routes: Iterable[Route] | None = None) -> web.Application:
    app = web.Application(middlewares=[_middleware], client_max_size=16 << 20)
    app[BACKEND] = backend
    add_routes(app, route_table() if routes is None else routes)
    app.on_response_prepare.append(_headers)
    return app


__all__ = ["API_VERSION", "BACKEND", "MIN_API_VERSION", "SERVER", "Route", "add_routes",
           "backend_of", "check_version", "error_response", "json_response", "make_app",
           "parse_version", "request_version", "route_table"]
