"""``GET /events``: the event log, replayed from ``since`` and streamed until ``until``.

dockerd's semantics: with ``until`` in the past the answer is the replay and the
stream ends; with ``until`` in the future it streams until then; without it, it
streams until the client goes away. ``filters`` keys are dockerd's; values of one
key are OR-ed, keys AND-ed.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from aiohttp import web

from dockyard.api.app import Route, backend_of
from dockyard.api.params import check_filter_keys, parse_filters, parse_timestamp_nano
from dockyard.daemon.events import Event

FILTER_KEYS = {"config", "container", "daemon", "event", "image", "label", "network", "node",
               "plugin", "scope", "secret", "service", "type", "volume"}
# Event types whose actor the filter key names (dockerd matches image events on "image").
_ACTOR_KEYS = {"container": "container", "image": "image", "network": "network",
               "volume": "volume", "plugin": "plugin", "daemon": "daemon"}


def event_json(ev: Event) -> dict[str, Any]:
    attrs = dict(ev.attributes)
    doc: dict[str, Any] = {}
    if ev.type in ("container", "image"):
        doc["status"] = ev.action
        doc["id"] = ev.actor_id
        if ev.type == "container" and "image" in attrs:
            doc["from"] = attrs["image"]
    doc.update({"Type": ev.type, "Action": ev.action,
                "Actor": {"ID": ev.actor_id, "Attributes": attrs},
                "scope": "local", "time": ev.time, "timeNano": ev.time_nano})
    return doc


def matches(ev: Event, filters: dict[str, list[str]]) -> bool:
    attrs = dict(ev.attributes)
    for key, values in filters.items():
        if not values:
            continue
        if key == "type":
            ok = ev.type in values
        elif key == "event":
            ok = ev.action in values or ev.action.split(":", 1)[0] in values
        elif key == "scope":
            ok = "local" in values
        elif key == "label":
            ok = any(_label_match(attrs, v) for v in values)
        elif key in _ACTOR_KEYS:
            ok = ev.type == _ACTOR_KEYS[key] and any(
                v in (ev.actor_id, attrs.get("name"), attrs.get("image")) for v in values)
        else:
            ok = False
        if not ok:
            return False
    return True


def _label_match(attrs: dict[str, str], text: str) -> bool:
    key, eq, value = text.partition("=")
    return key in attrs and (not eq or attrs[key] == value)


async def events(request: web.Request) -> web.StreamResponse:
    backend = backend_of(request)
    q = request.query
    since = parse_timestamp_nano(q.get("since"), "since")
    until = parse_timestamp_nano(q.get("until"), "until")
    filters = parse_filters(q.get("filters"))
    check_filter_keys(filters, FILTER_KEYS)
    bus = backend.events
    sub = bus.subscribe()   # before the replay, so nothing falls between the two
    try:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        await resp.prepare(request)
        seen = 0
        for ev in bus.history(since, until) if since is not None else []:
            if matches(ev, filters):
                await resp.write(json.dumps(event_json(ev)).encode() + b"\n")
            seen = max(seen, ev.time_nano)
        while True:
            timeout = None
            if until is not None:
                timeout = (until - time.time_ns()) / 1e9
                if timeout <= 0:
                    break
            try:
                ev = await asyncio.wait_for(sub.get(), timeout)
            except TimeoutError:
                break
            if ev is None:
                break
            if ev.time_nano <= seen:
                continue   # already sent in the replay
            if until is not None and ev.time_nano > until:
                break
            if matches(ev, filters):
                await resp.write(json.dumps(event_json(ev)).encode() + b"\n")
        await resp.write_eof()
        return resp
    finally:
        bus.unsubscribe(sub)


ROUTES: list[Route] = [("GET", "/events", events)]

__all__ = ["ROUTES", "event_json", "matches"]
