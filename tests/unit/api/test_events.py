"""Events: the bus (replay window, slow readers) and the API's shape and filters."""

from __future__ import annotations

import asyncio

from dockyard.api.events import event_json, matches
from dockyard.daemon import events as ev


def test_history_respects_since_and_until():
    bus = ev.EventBus()
    a = bus.emit("image", "tag", "sha256:1", [("name", "a:1")])
    b = bus.emit("image", "untag", "sha256:1", [("name", "a:1")])
    assert bus.history(None, None) == [a, b]
    assert bus.history(b.time_nano, None) == [b]
    assert bus.history(None, a.time_nano) == [a]


def test_history_keeps_only_the_last_events():
    bus = ev.EventBus(keep=3)
    for i in range(5):
        bus.emit("image", "tag", str(i))
    assert [e.actor_id for e in bus.history(None, None)] == ["2", "3", "4"]


def test_subscribers_get_new_events_and_a_slow_one_is_cut_off():
    async def go():
        bus = ev.EventBus()
        sub = bus.subscribe()
        bus.emit("image", "pull", "busybox:latest")
        got = await sub.get()
        assert got is not None and got.action == "pull"
        for i in range(ev.QUEUE_LIMIT + 5):
            bus.emit("image", "tag", str(i))
        assert sub.overflowed
        items = []
        while not sub.queue.empty():
            items.append(sub.queue.get_nowait())
        assert items[-1] is None   # told to stop, not silently starved
        live = bus.subscribe()
        full = bus.subscribe()
        for _ in range(ev.QUEUE_LIMIT):
            full.queue.put_nowait(None)
        assert bus.listeners == 2
        bus.close()
        assert bus.listeners == 0
        assert await live.get() is None
        while not full.queue.empty():
            last = full.queue.get_nowait()
        assert last is None
    asyncio.run(go())


def test_event_json_has_dockers_fields():
    e = ev.Event("image", "tag", "sha256:abc", (("name", "x:1"),), time_nano=1_700_000_000_5)
    doc = event_json(e)
    assert doc == {"status": "tag", "id": "sha256:abc", "Type": "image", "Action": "tag",
                   "Actor": {"ID": "sha256:abc", "Attributes": {"name": "x:1"}},
                   "scope": "local", "time": 17, "timeNano": 1_700_000_000_5}
    assert "status" not in event_json(ev.Event("volume", "create", "v"))


def test_filters_and_between_keys_or_within():
    e = ev.Event("image", "tag", "sha256:abc", (("name", "x:1"), ("maintainer", "me")))
    assert matches(e, {})
    assert matches(e, {"type": ["image"], "event": ["untag", "tag"]})
    assert not matches(e, {"type": ["image"], "event": ["untag"]})
    assert matches(e, {"image": ["x:1"]}) and matches(e, {"image": ["sha256:abc"]})
    assert not matches(e, {"container": ["x:1"]})
    assert matches(e, {"label": ["maintainer=me"]}) and matches(e, {"label": ["maintainer"]})
    assert not matches(e, {"label": ["maintainer=you"]})
    assert matches(e, {"scope": ["local"]}) and not matches(e, {"scope": ["swarm"]})
