"""Streamed JSON-message responses (pull, push, load, import), dockerd's way.

dockerd writes its status line only with the first message, so an error that
happens before any progress (a bad name, a missing image, refused credentials)
still reaches the client as a proper HTTP error. Once messages flowed, an error
can only travel in-band as ``{"errorDetail": ..., "error": ...}``, which the
docker CLI and docker-py both turn into a failure.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web

from dockyard.api import errors
from dockyard.errors import DockyardError

T = TypeVar("T")
log = logging.getLogger("dockyardd.api")

Message = dict[str, Any]
Emit = Callable[[Message], None]


class JsonStream:
    """Collects messages from any thread and writes them as they come.

    ``hold`` names messages that do not yet commit the response: while only those
    came, a failure is still answered with an HTTP error status."""

    def __init__(self, request: web.Request, loop: asyncio.AbstractEventLoop,
                 hold: Callable[[Message], bool] = lambda m: False) -> None:
        self.request = request
        self.loop = loop
        self.queue: asyncio.Queue[Message] = asyncio.Queue()
        self.hold = hold
        self.response: web.StreamResponse | None = None
        self._held: list[Message] = []

    def emit(self, msg: Message) -> None:
        """Thread-safe: callable from the loop or a worker thread."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self.queue.put_nowait(msg)
        else:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, msg)

    async def _write(self, msg: Message) -> None:
        if self.response is None:
            if self.hold(msg):
                self._held.append(msg)
                return
            self.response = web.StreamResponse(headers={"Content-Type": "application/json"})
            await self.response.prepare(self.request)
            for held in self._held:
                await self.response.write(_line(held))
            self._held.clear()
        await self.response.write(_line(msg))

    async def run(self, work: Awaitable[T],
                  finish: Callable[[T], list[Message]] | None = None) -> web.StreamResponse:
        """Drive ``work`` while writing its messages; then ``finish(result)``'s."""
        task = asyncio.ensure_future(work)
        getter: asyncio.Task[Message] | None = None
        try:
            while True:
                getter = asyncio.ensure_future(self.queue.get())
                done, _ = await asyncio.wait({task, getter},
                                             return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    await self._write(getter.result())
                    getter = None
                    continue
                getter.cancel()
                getter = None
                break
            while not self.queue.empty():
                await self._write(self.queue.get_nowait())
            try:
                result = task.result()
            except DockyardError as exc:
                if self.response is None:
                    raise
                await self._write(errors.stream_error(exc.message))
                return await self._end()
            except Exception as exc:
                if self.response is None:
                    raise
                log.exception("%s %s failed while streaming", self.request.method,
                              self.request.path)
                await self._write(errors.stream_error(errors.message_for(exc)))
                return await self._end()
            for msg in finish(result) if finish else []:
                await self._write(msg)
            if self.response is None:   # only held messages (or none): commit now
                self.hold = lambda m: False
                held, self._held = self._held, []
                if held:
                    for msg in held:
                        await self._write(msg)
                else:
                    self.response = web.StreamResponse(
                        headers={"Content-Type": "application/json"})
                    await self.response.prepare(self.request)
            return await self._end()
        finally:
            if getter is not None:
                getter.cancel()
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    async def _end(self) -> web.StreamResponse:
        assert self.response is not None
        await self.response.write_eof()
        return self.response


def _line(msg: Message) -> bytes:
    return json.dumps(msg).encode() + b"\r\n"


__all__ = ["Emit", "JsonStream", "Message"]
