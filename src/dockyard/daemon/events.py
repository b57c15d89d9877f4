"""The daemon's event log: what happened, for ``GET /events``.

Like dockerd, events live in memory: the last ``KEEP`` are kept for ``since``
replays and every subscriber gets new ones through its own bounded queue (a
slow reader loses its subscription rather than growing the daemon's memory).
Handlers publish from the event loop thread only.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

KEEP = 1024
QUEUE_LIMIT = 1024


@dataclass(frozen=True)
class Event:
    type: str                       # "image", later "container", "volume", ...
    action: str                     # "pull", "tag", "untag", "delete", ...
    actor_id: str
    attributes: tuple[tuple[str, str], ...] = ()
    time_nano: int = field(default_factory=time.time_ns)

    @property
    def time(self) -> int:
        return self.time_nano // 1_000_000_000


class Subscription:
    """New events for one reader; ``closed`` once the reader fell too far behind."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(QUEUE_LIMIT)
        self.overflowed = False

    async def get(self) -> Event | None:
        return await self.queue.get()


class EventBus:
    def __init__(self, keep: int = KEEP) -> None:
        self._log: deque[Event] = deque(maxlen=keep)
        self._subs: set[Subscription] = set()

    def publish(self, event: Event) -> None:
        self._log.append(event)
        for sub in list(self._subs):
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:
                sub.overflowed = True
                self._subs.discard(sub)
                sub.queue.get_nowait()  # room for the end marker
                sub.queue.put_nowait(None)

    def emit(self, type_: str, action: str, actor_id: str,
             attributes: Iterable[tuple[str, str]] = ()) -> Event:
        event = Event(type_, action, actor_id, tuple(attributes))
        self.publish(event)
        return event

    def history(self, since_nano: int | None, until_nano: int | None) -> list[Event]:
        return [ev for ev in self._log
                if (since_nano is None or ev.time_nano >= since_nano)
                and (until_nano is None or ev.time_nano <= until_nano)]

    def subscribe(self) -> Subscription:
        sub = Subscription()
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    def close(self) -> None:
        """End every subscription (daemon shutdown)."""
        for sub in list(self._subs):
            self._subs.discard(sub)
            if sub.queue.full():
                sub.queue.get_nowait()   # room for the end marker: it must land
            sub.queue.put_nowait(None)

    @property
    def listeners(self) -> int:
        return len(self._subs)


__all__ = ["Event", "EventBus", "Subscription"]
