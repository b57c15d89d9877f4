"""Bookkeeping for attaches that wait for a container's start (``docker run``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class Pending:
    """One attach waiting for a start; ``release()`` (idempotent) once it connected
    to the shim or gave up. The count reaching zero sets the container's event, which
    a held start waits on before it lets the program run."""

    def __init__(self, counts: dict[str, int], cid: str,
                 zero: dict[str, asyncio.Event]) -> None:
        self._counts = counts
        self._cid = cid
        self._zero = zero
        self._done = False

    def release(self) -> None:
        if self._done:
            return
        self._done = True
        n = self._counts.get(self._cid, 1) - 1
        if n <= 0:
            self._counts.pop(self._cid, None)
            event = self._zero.get(self._cid)
            if event is not None:
                event.set()
        else:
            self._counts[self._cid] = n


class AttachBook:
    """Per container: attaches waiting for its start (``pending``), futures resolved
    when it started, and attach streams still open (an --rm removal waits for them)."""

    def __init__(self) -> None:
        self._pending: dict[str, int] = {}
        self._zero: dict[str, asyncio.Event] = {}
        self._start_waiters: dict[str, list[asyncio.Future]] = {}
        self._open: dict[str, int] = {}
        self._changed = asyncio.Condition()

    def pending(self, cid: str) -> bool:
        return bool(self._pending.get(cid))

    def wait_start(self, cid: str) -> Pending:
        """An attach waits for this container's start; ``release()`` once connected."""
        self._pending[cid] = self._pending.get(cid, 0) + 1
        return Pending(self._pending, cid, self._zero)

    def started_future(self, cid: str) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        self._start_waiters.setdefault(cid, []).append(fut)
        return fut

    def started(self, cid: str) -> None:
        for fut in self._start_waiters.pop(cid, []):
            if not fut.done():
                fut.set_result(None)

    async def release_for_start(self, cid: str, timeout: float) -> None:
        """A held start: wake the waiting attaches and give them ``timeout`` seconds
        to connect to the shim (each releases its pending mark once connected)."""
        self.started(cid)
        if not self._pending.get(cid):
            return
        event = self._zero.setdefault(cid, asyncio.Event())
        event.clear()
        if self._pending.get(cid):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout)
        self._zero.pop(cid, None)

    @contextlib.asynccontextmanager
    async def stream_open(self, cid: str) -> AsyncIterator[None]:
        self._open[cid] = self._open.get(cid, 0) + 1
        try:
            yield
        finally:
            n = self._open.get(cid, 1) - 1
            if n <= 0:
                self._open.pop(cid, None)
            else:
                self._open[cid] = n
            async with self._changed:
                self._changed.notify_all()

    async def drained(self, cid: str, timeout: float) -> None:
        """Wait (at most ``timeout``) until no attach stream of ``cid`` is open."""
        async def wait() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: cid not in self._open)

        if cid in self._open:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wait(), timeout)

    def cancel_all(self) -> None:
        for futs in self._start_waiters.values():
            for f in futs:
                if not f.done():
                    f.cancel()
        self._start_waiters.clear()


__all__ = ["AttachBook", "Pending"]
