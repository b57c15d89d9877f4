"""Image endpoints that look and name: list, inspect, history, tag, delete, prune,
search. Moving images in and out (create, push, get, load) is ``image_transfer.py``.

Handlers parse the request, call the images room through the backend (in a
worker thread) and shape Docker's JSON (``dockyard.image.dockershape``); each
change publishes dockerd's image event.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from dockyard.api.app import Route, backend_of, json_response
from dockyard.api.params import (
    check_filter_keys,
    filter_items,
    parse_filters,
    query_bool,
    query_int,
)
from dockyard.daemon.timefilter import parse_until, prune_until
from dockyard.errors import InvalidArgument, Unavailable

LIST_FILTERS = {"before", "dangling", "label", "reference", "since"}
PRUNE_FILTERS = {"dangling", "label", "until"}


def image_attrs(name: str | None = None) -> list[tuple[str, str]]:
    return [("name", name)] if name else []


async def list_images(request: web.Request) -> web.Response:
    from dockyard.image.dockershape import summary_json
    from dockyard.image.service import ImageFilters

    q = request.query
    filters = parse_filters(q.get("filters"))
    if q.get("filter"):   # API < 1.25: a reference pattern
        filters.setdefault("reference", []).append(q["filter"])
    check_filter_keys(filters, LIST_FILTERS)
    parsed = ImageFilters.parse(filter_items(filters))
    all_images = query_bool(q, "all")
    # ``digests``: RepoDigests are always filled in, as dockerd does today.

    def run(svc: Any) -> list[dict[str, Any]]:
        return [summary_json(s) for s in svc.list_images(all_images=all_images,
                                                          filters=parsed)]

    return json_response(await backend_of(request).images(run))


async def inspect_image(request: web.Request) -> web.Response:
    from dockyard.image.dockershape import inspect_json

    name = request.match_info["name"]
    backend = backend_of(request)
    doc = await backend.images(lambda svc: inspect_json(svc, svc.inspect(name)))
    if backend.host is not None:   # the same driver name /info reports
        doc["GraphDriver"] = {"Name": backend.host.driver, "Data": None}
    return json_response(doc)


async def history(request: web.Request) -> web.Response:
    from dockyard.image import reference as refs
    from dockyard.image.dockershape import created_unix

    name = request.match_info["name"]

    def run(svc: Any) -> list[dict[str, Any]]:
        rec = svc.store.resolve(name)
        rows = []
        for entry, layer_id, size in svc.history(name):
            top = layer_id != "<missing>"
            rows.append({
                "Id": layer_id,
                "Created": created_unix(entry.created),
                "CreatedBy": entry.created_by or "",
                "Tags": [refs.parse(t).familiar() for t in rec.repo_tags] if top else None,
                "Size": size,
                "Comment": entry.comment or "",
            })
        return rows

    return json_response(await backend_of(request).images(run))


async def tag(request: web.Request) -> web.Response:
    from dockyard.image import reference as refs

    name = request.match_info["name"]
    repo = request.query.get("repo", "")
    tag_ = request.query.get("tag", "")
    if not repo:
        raise InvalidArgument("repository name must have at least one component")
    target = f"{repo}:{tag_}" if tag_ else repo
    backend = backend_of(request)

    def run(svc: Any) -> str:
        svc.tag(name, target)
        return str(svc.store.resolve(target).id)

    image_id = await backend.images(run)
    shown = refs.parse(target).with_default_tag().familiar()
    backend.events.emit("image", "tag", image_id, image_attrs(shown))
    return web.Response(status=201)


async def delete(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    force = query_bool(request.query, "force")
    noprune = query_bool(request.query, "noprune")
    backend = backend_of(request)

    def run(svc: Any) -> tuple[list[Any], set[str], str]:
        ids = {str(r.id) for r in svc.store.list()}
        target = str(svc.store.resolve(name).id)
        return svc.remove(name, force=force, prune_layers=not noprune), ids, target

    events, image_ids, target = await backend.images(run)
    publish_removals(backend, events, image_ids, target)
    return json_response([{ev.kind: ev.value} for ev in events])


def publish_removals(backend: Any, events: list[Any], image_ids: set[str],
                     untag_only_id: str = "") -> None:
    """dockerd's events for an rmi/prune answer: ``untag`` (actor: the image id,
    name: the reference) and ``delete`` for images, none for layers. Untags come
    before their image's Deleted entry; an untag-only answer names one image."""
    pending: list[str] = []
    for ev in events:
        if ev.kind == "Untagged":
            pending.append(ev.value)
        elif ev.value in image_ids:
            for ref in pending:
                backend.events.emit("image", "untag", ev.value, image_attrs(ref))
            pending.clear()
            backend.events.emit("image", "delete", ev.value, image_attrs(ev.value))
    for ref in pending:
        backend.events.emit("image", "untag", untag_only_id, image_attrs(ref))


async def prune(request: web.Request) -> web.Response:
    from dockyard.image.service import ImageFilters

    filters = parse_filters(request.query.get("filters"))
    check_filter_keys(filters, PRUNE_FILTERS)
    dangling = filters.pop("dangling", ["true"])
    if len(dangling) != 1 or dangling[0].lower() not in ("true", "false", "1", "0"):
        raise InvalidArgument(f"invalid filter 'dangling={','.join(dangling)}'")
    all_images = dangling[0].lower() in ("false", "0")
    untils = filters.pop("until", [])
    if len(untils) > 1:
        raise InvalidArgument("more than one until filter specified")
    until = parse_until(untils[0]) if untils else None
    parsed = ImageFilters.parse(filter_items(filters))
    backend = backend_of(request)

    def run(svc: Any) -> tuple[Any, set[str]]:
        ids = {str(r.id) for r in svc.store.list()}
        if until is not None:
            return prune_until(svc, all_images, parsed, until), ids
        return svc.prune(all_images=all_images, filters=parsed), ids

    report, image_ids = await backend.images(run)
    deleted = [{ev.kind: ev.value} for ev in report.events]
    publish_removals(backend, list(report.events), image_ids)
    backend.events.emit("image", "prune", "",
                        [("reclaimed", str(report.space_reclaimed))])
    return json_response({"ImagesDeleted": deleted or None,
                          "SpaceReclaimed": report.space_reclaimed})


INDEX_SEARCH = "https://index.docker.io/v1/search"
SEARCH_TIMEOUT = 15.0


async def search(request: web.Request) -> web.Response:
    """Docker Hub's search, asked live; without a network the answer says so (503)."""
    import aiohttp

    q = request.query
    term = q.get("term", "")
    if not term:
        raise InvalidArgument("term is required")
    limit = query_int(q, "limit", 25)
    if not 1 <= limit <= 100:
        raise InvalidArgument("limit is outside the range of [1, 100]")
    filters = parse_filters(q.get("filters"))
    check_filter_keys(filters, {"is-automated", "is-official", "stars"})
    try:
        timeout = aiohttp.ClientTimeout(total=SEARCH_TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as session, \
                session.get(INDEX_SEARCH, params={"q": term, "n": str(limit)}) as resp:
            if resp.status != 200:
                raise Unavailable(f"searching the index failed: HTTP {resp.status}")
            doc = await resp.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, OSError) as e:
        raise Unavailable(f"cannot search {INDEX_SEARCH}: the index is unreachable "
                          f"from this daemon ({type(e).__name__}: {e})") from None
    results = [_search_row(r) for r in (doc.get("results") or []) if isinstance(r, dict)]
    return json_response([r for r in results if _search_keep(r, filters)][:limit])


def _search_row(r: dict[str, Any]) -> dict[str, Any]:
    return {"name": r.get("name", ""), "description": r.get("description", ""),
            "star_count": int(r.get("star_count") or 0),
            "is_official": bool(r.get("is_official")),
            "is_automated": bool(r.get("is_automated"))}


def _search_keep(row: dict[str, Any], filters: dict[str, list[str]]) -> bool:
    for value in filters.get("stars", []):
        if not value.isdigit():
            raise InvalidArgument(f"invalid filter 'stars={value}'")
        if row["star_count"] < int(value):
            return False
    for key, field in (("is-official", "is_official"), ("is-automated", "is_automated")):
        for value in filters.get(key, []):
            if value.lower() not in ("true", "false"):
                raise InvalidArgument(f"invalid filter '{key}={value}'")
            if row[field] != (value.lower() == "true"):
                return False
    return True


def routes() -> list[Route]:
    from dockyard.api import image_transfer

    # Literal paths before the {name} patterns: a name may contain slashes.
    return [
        ("GET", "/images/json", list_images),
        ("GET", "/images/search", search),
        ("POST", "/images/prune", prune),
        *image_transfer.ROUTES_LITERAL,
        ("GET", "/images/{name:.+}/json", inspect_image),
        ("GET", "/images/{name:.+}/history", history),
        ("POST", "/images/{name:.+}/tag", tag),
        *image_transfer.ROUTES_NAMED,
        ("DELETE", "/images/{name:.+}", delete),
    ]


__all__ = ["delete", "history", "inspect_image", "list_images", "prune", "routes", "search",
           "tag"]
