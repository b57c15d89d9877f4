"""Container endpoints: create, start/stop/kill/restart, wait, rm, rename, pause,
update, logs, list, inspect, prune (attach and resize live in ``attach.py``).

Handlers parse Docker's query/body conventions and call ContainerService; the
Docker JSON shapes come from engine/inspect.py. ``wait`` answers its headers as
soon as the waiter is registered (the docker CLI waits for them before it calls
``start``), and its body when the condition is met, as dockerd does.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from dockyard.api.app import Route, backend_of, json_response, request_version
from dockyard.api.params import (
    parse_filters,
    parse_json_body,
    parse_timestamp_nano,
    query_bool,
    query_int,
)
from dockyard.errors import InvalidArgument

if TYPE_CHECKING:
    from dockyard.engine.containers import ContainerService


def service(request: web.Request) -> ContainerService:
    return backend_of(request).containers


def _ref(request: web.Request) -> str:
    return request.match_info["id"]


async def create(request: web.Request) -> web.Response:
    svc = service(request)
    raw = await request.read()
    body = parse_json_body(raw, "create body") if raw.strip() else {}
    platform = request.query.get("platform", "")
    if platform and platform.split("/")[0] != "linux":
        raise InvalidArgument(f"unsupported platform {platform!r}")
    rec, warnings = await svc.create(body, request.query.get("name") or None)
    return json_response({"Id": rec.id, "Warnings": warnings}, 201)


async def list_containers(request: web.Request) -> web.Response:
    svc = service(request)
    q = request.query
    filters = parse_filters(q.get("filters"))
    limit = query_int(q, "limit", -1)
    size = query_bool(q, "size")
    show_all = query_bool(q, "all")
    from dockyard.engine.inspect import summary

    backend = backend_of(request)

    def collect() -> list[dict[str, Any]]:
        recs = svc.list(show_all, filters, limit, size)
        out = []
        for rec in recs:
            sizes = (svc.size_rw(rec), svc.size_rootfs(rec)) if size else None
            out.append(summary(rec, sizes))
        return out

    return json_response(await backend.run(collect))


async def inspect(request: web.Request) -> web.Response:
    svc = service(request)
    from dockyard.engine.inspect import inspect as shape

    rec = svc.get(_ref(request))
    backend = backend_of(request)
    settings = None
    if rec.state.status in ("running", "paused"):
        from dockyard.engine.containers import netglue_available

        if netglue_available():
            current = await backend.run(backend.networks.container_ip, rec.id)
            settings = current or None
    from dockyard.engine.exec import exec_service

    doc = shape(rec, rec.graph_data, settings, exec_service(backend).ids_for(rec.id))
    if query_bool(request.query, "size"):
        doc["SizeRw"] = await backend.run(svc.size_rw, rec)
        doc["SizeRootFs"] = await backend.run(svc.size_rootfs, rec)
    return json_response(doc)


def _no_content() -> web.Response:
    return web.Response(status=204)


async def start(request: web.Request) -> web.Response:
    raw = await request.read()
    if raw.strip() not in (b"", b"{}", b"null") and request_version(request) >= (1, 24):
        raise InvalidArgument("starting container with non-empty request body was "
                              "deprecated since API v1.22 and removed in v1.24")
    await service(request).start(_ref(request))
    return _no_content()


def _timeout(request: web.Request) -> int | None:
    q = request.query
    if q.get("t", "") == "":
        return None
    return query_int(q, "t", 10)


async def stop(request: web.Request) -> web.Response:
    await service(request).stop(_ref(request), _timeout(request),
                                request.query.get("signal") or None)
    return _no_content()


async def restart(request: web.Request) -> web.Response:
    await service(request).restart(_ref(request), _timeout(request),
                                   request.query.get("signal") or None)
    return _no_content()


async def kill(request: web.Request) -> web.Response:
    await service(request).kill(_ref(request), request.query.get("signal") or None)
    return _no_content()


async def wait(request: web.Request) -> web.StreamResponse:
    svc = service(request)
    condition = request.query.get("condition", "") or "not-running"
    fut = svc.wait_future(_ref(request), condition)
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    await resp.prepare(request)   # headers now: the CLI starts the container after them
    try:
        code, error = await fut
    except asyncio.CancelledError:
        if not fut.done():
            fut.cancel()
        raise
    doc = {"StatusCode": code, "Error": {"Message": error} if error else None}
    await resp.write(json.dumps(doc).encode() + b"\n")
    await resp.write_eof()
    return resp


async def remove(request: web.Request) -> web.Response:
    q = request.query
    await service(request).remove(_ref(request), force=query_bool(q, "force"),
                                  volumes=query_bool(q, "v"), link=query_bool(q, "link"))
    return _no_content()


async def rename(request: web.Request) -> web.Response:
    await service(request).rename(_ref(request), request.query.get("name", ""))
    return _no_content()


async def pause(request: web.Request) -> web.Response:
    await service(request).pause(_ref(request))
    return _no_content()


async def unpause(request: web.Request) -> web.Response:
    await service(request).unpause(_ref(request))
    return _no_content()


async def update(request: web.Request) -> web.Response:
    body = parse_json_body(await request.read(), "update body")
    warnings = await service(request).update(_ref(request), body)
    return json_response({"Warnings": warnings})


async def prune(request: web.Request) -> web.Response:
    filters = parse_filters(request.query.get("filters"))
    return json_response(await service(request).prune(filters))


async def logs(request: web.Request) -> web.StreamResponse:
    from dockyard.engine import lifecycle
    from dockyard.logdriver import frame, read_logs

    svc = service(request)
    q = request.query
    rec = svc.get(_ref(request))
    want_out, want_err = query_bool(q, "stdout"), query_bool(q, "stderr")
    if not (want_out or want_err):
        raise InvalidArgument("Bad parameters: you must choose at least one stream")
    if rec.log_driver == "none":
        raise InvalidArgument("configured logging driver does not support reading")
    since = parse_timestamp_nano(q.get("since"), "since")
    until = parse_timestamp_nano(q.get("until"), "until")
    tail_text = q.get("tail", "all") or "all"
    if tail_text == "all":
        tail = None
    else:
        try:
            tail = int(tail_text)
        except ValueError:
            raise InvalidArgument(f"invalid value for tail: {tail_text!r}") from None
        if tail < 0:
            tail = None
    follow = query_bool(q, "follow") and rec.state.status in ("running", "paused",
                                                               "restarting")
    timestamps = query_bool(q, "timestamps")
    stop = asyncio.Event()
    exit_fut = svc.wait_future(rec.id, "next-exit") if follow else None
    if exit_fut is not None:
        exit_fut.add_done_callback(lambda f: stop.set())
    ctype = ("application/vnd.docker.raw-stream" if rec.tty
             else "application/vnd.docker.multiplexed-stream")
    resp = web.StreamResponse(headers={"Content-Type": ctype})
    await resp.prepare(request)
    try:
        entries = read_logs(lifecycle.log_path_for_read(rec), rec.log_driver,
                            since=since / 1e9 if since is not None else None,
                            until=until / 1e9 if until is not None else None,
                            tail=tail, follow=follow, stop=stop)
        async for entry in entries:
            if entry.stream == "stderr" and not want_err:
                continue
            if entry.stream != "stderr" and not want_out:
                continue
            data = entry.data
            if timestamps:
                data = entry.time.encode() + b" " + data
            if rec.tty:
                await resp.write(data)
            else:
                await resp.write(frame(2 if entry.stream == "stderr" else 1, data))
    finally:
        if exit_fut is not None and not exit_fut.done():
            exit_fut.cancel()
    await resp.write_eof()
    return resp


def routes() -> list[Route]:
    from dockyard.api import attach

    return [
        ("POST", "/containers/create", create),
        ("GET", "/containers/json", list_containers),
        ("POST", "/containers/prune", prune),
        ("GET", "/containers/{id}/json", inspect),
        ("POST", "/containers/{id}/start", start),
        ("POST", "/containers/{id}/stop", stop),
        ("POST", "/containers/{id}/restart", restart),
        ("POST", "/containers/{id}/kill", kill),
        ("POST", "/containers/{id}/wait", wait),
        ("DELETE", "/containers/{id}", remove),
        ("POST", "/containers/{id}/rename", rename),
        ("POST", "/containers/{id}/pause", pause),
        ("POST", "/containers/{id}/unpause", unpause),
        ("POST", "/containers/{id}/update", update),
        ("GET", "/containers/{id}/logs", logs),
        *attach.ROUTES,
    ]


__all__ = ["routes"]
