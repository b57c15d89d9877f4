"""Bridges between the event loop and the worker threads that do blocking work.

Blocking image work (tar, sqlite, hashing) runs in worker threads, but its
input and output are HTTP bodies owned by the event loop. :class:`BodyReader`
gives a worker a file object reading the request body; :class:`ChunkWriter`
gives it a file object whose writes become response chunks, with back-pressure
(a bounded queue), so a slow client slows the worker instead of filling memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import CancelledError as FutureCancelled
from typing import Any

from dockyard.errors import InvalidArgument

READ_TIMEOUT = 300.0


class ClientGone(Exception):
    """The HTTP peer went away: the worker should stop."""


class BodyReader:
    """A read-only binary file over an aiohttp request body, for a worker thread."""

    def __init__(self, content: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._content = content
        self._loop = loop

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            chunks = []
            while chunk := self.read(1 << 20):
                chunks.append(chunk)
            return b"".join(chunks)
        fut = asyncio.run_coroutine_threadsafe(self._content.read(n), self._loop)
        try:
            return fut.result(READ_TIMEOUT)
        except TimeoutError:
            fut.cancel()
            raise InvalidArgument("timed out reading the request body") from None
        except FutureCancelled:
            raise ClientGone("request cancelled") from None

    def readinto(self, buf: Any) -> int:
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def writable(self) -> bool:
        return False

    def close(self) -> None:
        pass


class ChunkWriter:
    """A write-only binary file for a worker thread; the loop drains :meth:`chunks`."""

    def __init__(self, loop: asyncio.AbstractEventLoop, depth: int = 16,
                 chunk: int = 1 << 20) -> None:
        self._loop = loop
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(depth)
        self._buf = bytearray()
        self._chunk = chunk
        self.gone = False

    def write(self, data: bytes) -> int:
        if self.gone:
            raise ClientGone("the client stopped reading")
        self._buf += data
        if len(self._buf) >= self._chunk:
            self._send(bytes(self._buf))
            self._buf.clear()
        return len(data)

    def flush(self) -> None:
        if self._buf:
            self._send(bytes(self._buf))
            self._buf.clear()

    def _send(self, item: bytes | None) -> None:
        fut = asyncio.run_coroutine_threadsafe(self._queue.put(item), self._loop)
        while True:
            try:
                fut.result(1.0)
                return
            except TimeoutError:
                if self.gone:
                    fut.cancel()
                    raise ClientGone("the client stopped reading") from None
            except FutureCancelled:
                raise ClientGone("the client stopped reading") from None

    def finish(self) -> None:
        """Called by the worker when done (success or not): flush and mark the end."""
        try:
            self.flush()
        finally:
            if not self.gone:
                self._send(None)

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        raise OSError("not seekable")

    def close(self) -> None:
        pass

    async def chunks(self) -> AsyncIterator[bytes]:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            yield item

    def abandon(self) -> None:
        """The loop side stops reading (client gone): unblock the worker."""
        self.gone = True
        while not self._queue.empty():
            self._queue.get_nowait()


__all__ = ["BodyReader", "ChunkWriter", "ClientGone"]
