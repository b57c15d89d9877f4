"""``/networks`` endpoints: list, inspect, create, remove, connect, disconnect, prune.

Handlers parse, call ``backend.networks`` (the NetworkService; its blocking methods
run in the worker pool, never on the loop) and publish Docker's network events
(``create``, ``destroy``, ``connect``, ``disconnect`` with ``name``, ``type`` and
``container`` attributes). A container is named by id, id prefix or name and
resolved through the engine's ContainerService.
"""

from __future__ import annotations

from aiohttp import web

from dockyard.api.app import backend_of, json_response
from dockyard.api.params import parse_filters, parse_json_body, query_bool
from dockyard.errors import InvalidArgument


async def _service(request: web.Request):
    svc = backend_of(request).networks
    await svc.start()
    return svc


def _emit(request: web.Request, action: str, net: dict, **extra: str) -> None:
    events = getattr(backend_of(request), "events", None)
    if events is None:
        return
    attrs = [("name", net.get("Name", "")), ("type", net.get("Driver", ""))]
    attrs += sorted(extra.items())
    events.emit("network", action, net.get("Id", ""), attrs)


async def list_networks(request: web.Request) -> web.Response:
    svc = await _service(request)
    filters = parse_filters(request.query.get("filters"))
    return json_response(await backend_of(request).run(svc.list, filters))


async def inspect_network(request: web.Request) -> web.Response:
    svc = await _service(request)
    verbose = query_bool(request.query, "verbose")
    scope = request.query.get("scope", "")
    if scope and scope != "local":
        from dockyard.errors import NotFound

        raise NotFound(f"network {request.match_info['id']} not found")
    return json_response(await backend_of(request).run(
        svc.inspect, request.match_info["id"], verbose))


async def create_network(request: web.Request) -> web.Response:
    svc = await _service(request)
    body = parse_json_body(await request.read(), "network config")
    backend = backend_of(request)
    out = await backend.run(svc.create, body)
    net = await backend.run(svc.inspect, out["Id"])
    _emit(request, "create", net)
    return json_response(out, status=201)


async def remove_network(request: web.Request) -> web.Response:
    svc = await _service(request)
    backend = backend_of(request)
    net = await backend.run(svc.inspect, request.match_info["id"])
    await backend.run(svc.remove, net["Id"])
    _emit(request, "destroy", net)
    return web.Response(status=204)


async def _container(request: web.Request, ref: object) -> tuple[str, str]:
    if not isinstance(ref, str) or not ref:
        raise InvalidArgument("no container given: want {\"Container\": \"<id or name>\"}")
    backend = backend_of(request)
    record = await backend.run(backend.containers.get, ref)
    return record.id, record.name


async def connect_network(request: web.Request) -> web.Response:
    svc = await _service(request)
    body = parse_json_body(await request.read(), "connect request")
    if not isinstance(body, dict):
        raise InvalidArgument("invalid connect request: expected a JSON object")
    cid, name = await _container(request, body.get("Container"))
    cfg = body.get("EndpointConfig") or {}
    if not isinstance(cfg, dict):
        raise InvalidArgument("invalid EndpointConfig: expected a JSON object")
    backend = backend_of(request)
    net = await backend.run(svc.inspect, request.match_info["id"])
    await svc.connect(net["Id"], cid, cfg, name=name)
    _emit(request, "connect", net, container=cid)
    return web.Response(status=200)


async def disconnect_network(request: web.Request) -> web.Response:
    svc = await _service(request)
    body = parse_json_body(await request.read(), "disconnect request")
    if not isinstance(body, dict):
        raise InvalidArgument("invalid disconnect request: expected a JSON object")
    cid, _ = await _container(request, body.get("Container"))
    backend = backend_of(request)
    net = await backend.run(svc.inspect, request.match_info["id"])
    await svc.disconnect(net["Id"], cid, bool(body.get("Force")))
    _emit(request, "disconnect", net, container=cid)
    return web.Response(status=200)


async def prune_networks(request: web.Request) -> web.Response:
    svc = await _service(request)
    backend = backend_of(request)
    filters = parse_filters(request.query.get("filters"))
    before = {n["Name"]: n for n in await backend.run(svc.list, {})}
    out = await backend.run(svc.prune, filters)
    for name in out.get("NetworksDeleted") or []:
        if name in before:
            _emit(request, "destroy", before[name])
    return json_response(out)


ROUTES = [
    ("GET", "/networks", list_networks),
    ("POST", "/networks/create", create_network),
    ("POST", "/networks/prune", prune_networks),
    ("GET", "/networks/{id}", inspect_network),
    ("DELETE", "/networks/{id}", remove_network),
    ("POST", "/networks/{id}/connect", connect_network),
    ("POST", "/networks/{id}/disconnect", disconnect_network),
]

__all__ = ["ROUTES"]
