"""The registry server's aiohttp application: routing, auth, error bodies.

``make_app`` builds the app over a :class:`RegistryStorage`; ``serve`` runs it
(``dockyard registry serve``). Handlers live in ``blobs.py`` and ``manifests.py``;
this module only dispatches and turns every failure into the spec's body.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
from collections.abc import Awaitable, Callable

from aiohttp import web

from dockyard.registry.server import blobs, manifests
from dockyard.registry.server.context import ServerConfig, ServerContext
from dockyard.registry.server.errors import RegistryError
from dockyard.registry.server.routes import Route, parse_path
from dockyard.registry.server.storage import RegistryStorage

log = logging.getLogger("dockyard.registry.server")

Handler = Callable[[ServerContext, web.Request, Route], Awaitable[web.StreamResponse]]

_HANDLERS: dict[tuple[str, str], Handler] = {}
for _m in ("GET", "HEAD", "DELETE"):
    _HANDLERS[("blob", _m)] = blobs.get_blob
for _m in ("GET", "HEAD", "PUT", "DELETE"):
    _HANDLERS[("manifest", _m)] = manifests.manifest
for _m in ("GET", "PATCH", "PUT", "DELETE"):
    _HANDLERS[("blob_upload", _m)] = blobs.upload
_HANDLERS[("blob_uploads", "POST")] = blobs.start_upload
_HANDLERS[("tags", "GET")] = manifests.tags_list
_HANDLERS[("catalog", "GET")] = manifests.catalog
_HANDLERS[("referrers", "GET")] = manifests.referrers

CTX_KEY: web.AppKey[ServerContext] = web.AppKey("ctx", ServerContext)


def _scope(route: Route, method: str) -> str | None:
    if route.endpoint == "base":
        return None
    if route.endpoint == "catalog":
        return "registry:catalog:*"
    if method in ("GET", "HEAD"):
        return f"repository:{route.name}:pull"
    if method == "DELETE" and route.endpoint in ("manifest", "blob"):
        return f"repository:{route.name}:delete"
    return f"repository:{route.name}:pull,push"


def _error_response(err: RegistryError) -> web.Response:
    resp = web.json_response(err.body(), status=err.status, headers=err.headers)
    return resp


async def _dispatch(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CTX_KEY]
    try:
        route = parse_path(request.path)
        if route is None:
            raise RegistryError("UNSUPPORTED", {"path": request.path[:200]}, status=404,
                                message="no such endpoint")
        realm = f"{request.scheme}://{request.host}/token"
        ctx.config.authorizer.check(request.headers.get("Authorization"),
                                    _scope(route, request.method), realm)
        if route.endpoint == "base":
            return web.json_response({})
        handler = _HANDLERS.get((route.endpoint, request.method))
        if handler is None:
            raise RegistryError("UNSUPPORTED", f"{request.method} {route.endpoint}")
        return await handler(ctx, request, route)
    except RegistryError as e:
        if e.status >= 500 or e.code not in ("BLOB_UNKNOWN", "MANIFEST_UNKNOWN",
                                             "UNAUTHORIZED", "NAME_UNKNOWN"):
            log.info("%s %s -> %s %s", request.method, request.path, e.status, e)
        return _error_response(e)


async def _token(request: web.Request) -> web.Response:
    ctx = request.app[CTX_KEY]
    scopes: list[str] = []
    for s in request.query.getall("scope", []):
        scopes.extend(s.split())
    try:
        doc = ctx.config.authorizer.issue_token(request.headers.get("Authorization"), scopes)
    except RegistryError as e:
        return _error_response(e)
    return web.json_response(doc)


async def _api_version_header(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Docker-Distribution-API-Version"] = "registry/2.0"


def make_app(storage: RegistryStorage, config: ServerConfig | None = None) -> web.Application:
    app = web.Application(client_max_size=1 << 20)
    app[CTX_KEY] = ServerContext(storage, config or ServerConfig())
    app.router.add_route("*", "/v2{tail:.*}", _dispatch)
    app.router.add_get("/token", _token)
    app.on_response_prepare.append(_api_version_header)
    return app


def split_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        from dockyard.errors import InvalidArgument
        raise InvalidArgument(f"--listen {listen!r}: expected HOST:PORT")
    return host.strip("[]") or "0.0.0.0", int(port)


async def run(storage: RegistryStorage, config: ServerConfig, listen: str,
              tls: tuple[str, str] | None = None,
              ready: Callable[[str], None] | None = None) -> None:
    """Serve until SIGINT/SIGTERM. ``ready`` gets the bound address (port 0 works)."""
    host, port = split_listen(listen)
    ctx = None
    if tls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(tls[0], tls[1])
    runner = web.AppRunner(make_app(storage, config), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=ctx, reuse_address=True)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        server = site._server  # the bound socket tells the real port for port 0
        addr = server.sockets[0].getsockname() if server and server.sockets else (host, port)
        if ready:
            ready(f"{addr[0]}:{addr[1]}")
        await stop.wait()
    finally:
        await runner.cleanup()


__all__ = ["make_app", "run", "split_listen"]
