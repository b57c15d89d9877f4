"""Volume endpoints: list, create, inspect, remove, prune (Docker API 1.41 shapes).

Handlers parse the request, call :class:`~dockyard.engine.volumes.VolumeService`
in a worker thread and publish dockerd's ``volume`` events (create, destroy).
Which containers use a volume is read from the engine's container records (their
mount plans), so "in use" messages name the containers like dockerd's do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from dockyard.api.app import Route, backend_of, json_response
from dockyard.api.params import parse_filters, parse_json_body, query_bool
from dockyard.errors import InvalidArgument

if TYPE_CHECKING:
    from dockyard.daemon.backend import Backend


def volume_users(backend: Backend) -> Callable[[str], list[str]] | None:
    """``name -> [container ids]`` from the engine's records (one snapshot per
    request); None when no container service exists (the holder count decides)."""
    try:
        records = backend.containers.list(all=True, filters={})
    except (ImportError, AttributeError):
        return None
    users: dict[str, list[str]] = {}
    for rec in records:
        for m in getattr(rec, "mounts", None) or []:
            if isinstance(m, dict) and m.get("type") == "volume" and m.get("name"):
                users.setdefault(m["name"], []).append(rec.id)
    return lambda name: users.get(name, [])


def _attrs() -> list[tuple[str, str]]:
    return [("driver", "local")]


async def list_volumes(request: web.Request) -> web.Response:
    backend = backend_of(request)
    filters = parse_filters(request.query.get("filters"))
    doc = await backend.run(lambda: backend.volumes.list(filters, in_use=volume_users(backend)))
    return json_response(doc)


async def create(request: web.Request) -> web.Response:
    backend = backend_of(request)
    raw = await request.read()
    body = parse_json_body(raw, "volume create body") if raw.strip() else {}
    if not isinstance(body, dict):
        raise InvalidArgument("volume create body must be a JSON object")
    name = body.get("Name")
    existed = isinstance(name, str) and bool(name) and await backend.run(
        backend.volumes.exists, name)
    doc = await backend.run(backend.volumes.create, body)
    if not existed:
        backend.events.emit("volume", "create", doc["Name"], _attrs())
    return json_response(doc, 201)


async def inspect(request: web.Request) -> web.Response:
    backend = backend_of(request)
    name = request.match_info["name"]
    return json_response(await backend.run(backend.volumes.inspect, name))


async def remove(request: web.Request) -> web.Response:
    backend = backend_of(request)
    name = request.match_info["name"]
    force = query_bool(request.query, "force")

    def run() -> bool:
        existed = backend.volumes.exists(name)
        backend.volumes.remove(name, force=force, in_use=volume_users(backend))
        return existed

    if await backend.run(run):
        backend.events.emit("volume", "destroy", name, _attrs())
    return web.Response(status=204)


async def prune(request: web.Request) -> web.Response:
    backend = backend_of(request)
    filters = parse_filters(request.query.get("filters"))
    doc = await backend.run(lambda: backend.volumes.prune(filters,
                                                          in_use=volume_users(backend)))
    for name in doc.get("VolumesDeleted") or []:
        backend.events.emit("volume", "destroy", name, _attrs())
    backend.events.emit("volume", "prune", "",
                        [("reclaimed", str(doc.get("SpaceReclaimed", 0)))])
    return json_response(doc)


def disk_usage(backend: Backend) -> list[dict[str, Any]]:
    """``/system/df``'s ``Volumes`` (blocking: call it in a worker)."""
    return backend.volumes.disk_usage(in_use=volume_users(backend))


ROUTES: list[Route] = [
    ("GET", "/volumes", list_volumes),
    ("POST", "/volumes/create", create),
    ("POST", "/volumes/prune", prune),
    ("GET", "/volumes/{name}", inspect),
    ("DELETE", "/volumes/{name}", remove),
]

__all__ = ["ROUTES", "disk_usage", "volume_users"]
