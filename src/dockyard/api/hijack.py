"""Docker's hijacked streams (exec start, attach) on top of aiohttp.

dockerd answers ``Upgrade: tcp`` requests with ``101 UPGRADED`` and then uses
the bare connection both ways; other clients get ``200 OK`` and the same raw
bytes. The client's half-close (``CloseWrite`` after its stdin ended) must not
end the session: the output still has to come back.

aiohttp's request handler closes the transport on EOF from the client, so once
the head is written the connection's protocol is swapped for :class:`_Relay`: it
feeds client bytes into a StreamReader (with read-side flow control), keeps the
connection open on a half-close, and passes write flow control and the final
``connection_lost`` back to aiohttp's protocol so its bookkeeping stays right.
Bytes the client sent before the swap (already buffered by aiohttp after the
upgrade) are recovered through ``set_parser``, aiohttp's own hook for upgraded
protocols (web sockets use it).

Output frames for non-tty streams: an 8-byte header (stream 1/2, three zero
bytes, big-endian length) before each chunk (``frame``).
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

from aiohttp import web

RAW_STREAM = "application/vnd.docker.raw-stream"
MULTIPLEXED_STREAM = "application/vnd.docker.multiplexed-stream"


def frame(stream: int, data: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(data)) + data


def wants_upgrade(request: web.Request) -> bool:
    conn = request.headers.get("Connection", "").lower()
    return "upgrade" in conn and request.headers.get("Upgrade", "").lower() == "tcp"


class _Feeder:
    """What ``set_parser`` wants: feed_data/feed_eof into our reader."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        if data:
            self.reader.feed_data(data)
        return False, b""

    def feed_eof(self) -> None:
        if not self.reader.at_eof():
            self.reader.feed_eof()


class _Relay(asyncio.Protocol):
    def __init__(self, inner: Any, reader: asyncio.StreamReader) -> None:
        self.inner = inner
        self.reader = reader
        self.closed = asyncio.get_running_loop().create_future()
        self._paused = False
        self._drain: asyncio.Future | None = None

    def data_received(self, data: bytes) -> None:
        self.reader.feed_data(data)

    def eof_received(self) -> bool:
        if not self.reader.at_eof():
            self.reader.feed_eof()
        return True     # keep our side open: output still flows

    def pause_writing(self) -> None:
        self._paused = True
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self._paused = False
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)
        self.inner.resume_writing()

    def connection_lost(self, exc: BaseException | None) -> None:
        if not self.reader.at_eof():
            self.reader.feed_eof()
        if not self.closed.done():
            self.closed.set_result(None)
        if self._drain is not None and not self._drain.done():
            self._drain.set_exception(ConnectionResetError("connection lost"))
        self.inner.connection_lost(exc)

    async def drain(self) -> None:
        if self._paused:
            self._drain = asyncio.get_running_loop().create_future()
            await self._drain


class HijackedStream:
    """The raw connection after the head: ``reader`` (client -> us), ``write``."""

    def __init__(self, request: web.Request, response: web.StreamResponse,
                 reader: asyncio.StreamReader, relay: _Relay) -> None:
        self.request = request
        self.response = response
        self.reader = reader
        self._relay = relay
        self._transport = request.transport

    @property
    def closed(self) -> bool:
        return self._transport is None or self._transport.is_closing()

    async def write(self, data: bytes) -> None:
        if self.closed:
            raise ConnectionResetError("the client went away")
        assert self._transport is not None
        self._transport.write(data)
        await self._relay.drain()

    async def close(self) -> None:
        """End the session: the client reads EOF."""
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.close()
        self._transport = None

    async def wait_closed(self) -> None:
        await self._relay.closed


class _UpgradedResponse(web.StreamResponse):
    """A response whose head is all aiohttp writes: no Content-Length, no chunking
    (the body is the bare connection, as for web sockets)."""

    _length_check = False

    async def write_eof(self, data: bytes = b"") -> None:
        return None


async def hijack(request: web.Request, content_type: str = RAW_STREAM) -> HijackedStream:
    """Answer the request with a raw stream head and take the connection over.

    Read the request body (``await request.read()``) before calling this."""
    if wants_upgrade(request):
        response = _UpgradedResponse(status=101, reason="UPGRADED", headers={
            "Content-Type": content_type, "Connection": "Upgrade", "Upgrade": "tcp"})
    else:
        response = _UpgradedResponse(status=200, headers={"Content-Type": content_type})
    response.force_close()
    await response.prepare(request)
    transport = request.transport
    protocol = request.protocol
    if transport is None or transport.is_closing():
        raise ConnectionResetError("the client went away")
    reader = asyncio.StreamReader(limit=1 << 20)
    reader.set_transport(transport)
    relay = _Relay(protocol, reader)
    protocol.set_parser(_Feeder(reader))   # claims bytes aiohttp buffered already
    transport.set_protocol(relay)
    return HijackedStream(request, response, reader, relay)


__all__ = ["MULTIPLEXED_STREAM", "RAW_STREAM", "HijackedStream", "frame", "hijack",
           "wants_upgrade"]
