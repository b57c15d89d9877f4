"""``POST /containers/{id}/attach`` (a hijacked HTTP connection) and ``/resize``.

dockerd's protocol: when the client asks for ``Connection: Upgrade`` /
``Upgrade: tcp`` the answer is ``101 UPGRADED``, else ``200``; either way the
connection then carries raw bytes both ways: the container's output (docker's
8-byte multiplexed frames unless it has a TTY) to the client, the client's bytes
to the container's stdin. A client that half-closes (the docker CLI after stdin
EOF) still receives the rest of the output, so the transport's protocol is
swapped for :class:`_Hijacked`, which keeps the connection open on EOF (aiohttp's
own protocol would close it).

Attaching before ``start`` (what ``docker run`` does) waits for the start, then
connects to the shim's attach socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from aiohttp import web

from dockyard.api.app import Route, backend_of
from dockyard.api.params import query_bool, query_int
from dockyard.errors import Conflict, DockyardError

log = logging.getLogger("dockyardd.api")
START_WAIT = 3600.0


class _Hijacked(asyncio.Protocol):
    """Takes over an aiohttp connection's transport after the response headers."""

    def __init__(self, inner: asyncio.BaseProtocol, transport: asyncio.Transport) -> None:
        self.inner = inner
        self.transport = transport
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.closed = asyncio.Event()
        self._paused = False
        self._drain: asyncio.Future | None = None

    # the client's bytes
    def data_received(self, data: bytes) -> None:
        self.queue.put_nowait(data)

    def eof_received(self) -> bool:
        self.queue.put_nowait(b"")
        return True    # keep the write side open (half-close)

    def connection_lost(self, exc: BaseException | None) -> None:
        self.queue.put_nowait(b"")
        self.closed.set()
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)
        with contextlib.suppress(Exception):
            self.inner.connection_lost(exc)

    # flow control of our writes
    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    async def write(self, data: bytes) -> None:
        if self.closed.is_set() or self.transport.is_closing():
            raise ConnectionResetError("attach client went away")
        self.transport.write(data)
        if self._paused:
            self._drain = asyncio.get_running_loop().create_future()
            await self._drain

    def close(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()


async def hijack(request: web.Request, content_type: str) -> _Hijacked:
    """Answer the headers (101 when asked to upgrade) and take the connection."""
    upgrade = "upgrade" in request.headers.get("Connection", "").lower() and \
        request.headers.get("Upgrade", "").lower() == "tcp"
    if upgrade:
        resp = web.StreamResponse(status=101, reason="UPGRADED", headers={
            "Content-Type": content_type, "Connection": "Upgrade", "Upgrade": "tcp"})
    else:
        resp = web.StreamResponse(status=200, headers={"Content-Type": content_type})
        resp.force_close()
    # no chunked framing: the body is raw bytes until the connection closes
    resp._length_check = False
    await resp.prepare(request)
    transport = request.transport
    assert transport is not None
    proto = _Hijacked(request.protocol, transport)
    tail = getattr(request.protocol, "_message_tail", b"")
    if tail:
        proto.queue.put_nowait(bytes(tail))
        request.protocol._message_tail = b""
    transport.set_protocol(proto)
    request["hijacked"] = resp
    return proto


async def attach(request: web.Request) -> web.StreamResponse:
    backend = backend_of(request)
    svc = backend.containers
    q = request.query
    rec = svc.get(request.match_info["id"])
    stream = query_bool(q, "stream")
    if rec.state.status in ("removing", "dead"):
        raise Conflict(f"container {rec.id} is being removed")
    ctype = ("application/vnd.docker.raw-stream" if rec.tty
             else "application/vnd.docker.multiplexed-stream")
    started = None
    exited = None
    since = time.time()
    pending = svc.attachments.wait_start(rec.id)
    try:
        if stream and rec.state.status not in ("running", "paused"):
            started = svc.attachments.started_future(rec.id)
            exited = svc.wait_future(rec.id, "next-exit")
        conn = await hijack(request, ctype)
        svc.event(rec, "attach")
        async with svc.attachments.stream_open(rec.id):
            await _serve(svc, rec, conn, q, started, exited, since, pending)
    finally:
        for fut in (started, exited):
            if fut is not None and not fut.done():
                fut.cancel()
        pending.release()
    return request["hijacked"]


async def _serve(svc: Any, rec: Any, conn: _Hijacked, q: Any, started: Any, exited: Any,
                 since: float, pending: Any) -> None:
    want_in, want_out, want_err = (query_bool(q, "stdin"), query_bool(q, "stdout"),
                                   query_bool(q, "stderr"))
    stream, logs = query_bool(q, "stream"), query_bool(q, "logs")
    try:
        try:
            if logs:
                await _send_logs(rec, conn, want_out, want_err)
            if stream:
                from_log = None
                if started is not None:
                    try:
                        await _wait_started(started, conn)
                    except BaseException:
                        pending.release()
                        raise
                    if _needs_log_fallback(rec):
                        from_log = (since, exited)
                        pending.release()
                else:
                    pending.release()
                await _pump(svc, rec.id, conn, want_in, want_out, want_err, from_log,
                            pending)
        except (ConnectionError, asyncio.CancelledError):
            pass
        except DockyardError as e:
            log.info("attach %s ended: %s", rec.id[:12], e.message)
    finally:
        conn.close()


async def _wait_started(started: asyncio.Future, conn: _Hijacked) -> None:
    closed = asyncio.ensure_future(conn.closed.wait())
    try:
        done, _ = await asyncio.wait({started, closed}, timeout=START_WAIT,
                                     return_when=asyncio.FIRST_COMPLETED)
    finally:
        closed.cancel()
    if started not in done:
        raise ConnectionResetError("attach ended before the container started")


async def _send_logs(rec: Any, conn: _Hijacked, want_out: bool, want_err: bool) -> None:
    from dockyard.engine import lifecycle
    from dockyard.logdriver import frame, read_logs

    if rec.log_driver == "none":
        return
    async for entry in read_logs(lifecycle.log_path_for_read(rec), rec.log_driver,
                                 since=None, until=None, tail=None, follow=False, stop=None):
        if (entry.stream == "stderr" and not want_err) or \
                (entry.stream != "stderr" and not want_out):
            continue
        await conn.write(entry.data if rec.tty
                         else frame(2 if entry.stream == "stderr" else 1, entry.data))


def _needs_log_fallback(rec: Any) -> bool:
    """Attached before start: the shim may have written the first output before our
    attach connection reached it. Without a shim that holds the start for us
    (``ShimRequest.hold``), output comes from the log (complete, from the
    start on) for containers without a TTY; a TTY's partial lines (prompts) are
    only in the live stream, so TTY containers attach to the shim directly."""
    from dockyard.engine.containers import _shim_has

    return not _shim_has("hold") and not rec.tty and rec.log_driver != "none"


async def _follow_log(rec: Any, conn: _Hijacked, since: float, exited: asyncio.Future,
                      want_out: bool, want_err: bool) -> None:
    from dockyard.engine import lifecycle
    from dockyard.logdriver import frame, read_logs

    stop = asyncio.Event()
    if exited.done():
        stop.set()
    else:
        exited.add_done_callback(lambda f: stop.set())
    async for entry in read_logs(lifecycle.log_path_for_read(rec), rec.log_driver,
                                 since=since, until=None, tail=None, follow=True,
                                 stop=stop):
        if (entry.stream == "stderr" and not want_err) or \
                (entry.stream != "stderr" and not want_out):
            continue
        await conn.write(frame(2 if entry.stream == "stderr" else 1, entry.data))


async def _pump(svc: Any, cid: str, conn: _Hijacked, want_in: bool, want_out: bool,
                want_err: bool, from_log: tuple[float, asyncio.Future] | None = None,
                pending: Any = None) -> None:
    try:
        await _pump_connected(svc, cid, conn, want_in, want_out, want_err, from_log,
                              pending)
    finally:
        if pending is not None:
            pending.release()


async def _pump_connected(svc: Any, cid: str, conn: _Hijacked, want_in: bool,
                          want_out: bool, want_err: bool,
                          from_log: tuple[float, asyncio.Future] | None,
                          pending: Any) -> None:
    rec = svc.get(cid)
    if from_log is not None and from_log[1].done():
        # it already ran to its end: everything is in the log
        await _follow_log(rec, conn, from_log[0], from_log[1], want_out, want_err)
        return
    if rec.state.status not in ("running", "paused", "created", "exited") or \
            not (rec.bundle / "shim.sock").exists():
        return
    from dockyard.shim import ShimClient

    client = ShimClient(rec.bundle)   # a held start is not "running" in the record yet
    live_out = from_log is None
    try:
        reader, writer = await client.attach(want_in, want_out and live_out,
                                             want_err and live_out)
    except (DockyardError, OSError):
        # the shim is already gone (a fast container): its output is in the log
        if from_log is None:
            raise
        await _follow_log(rec, conn, from_log[0], from_log[1], want_out, want_err)
        return
    if pending is not None:
        pending.release()   # connected: a held start may now run the program

    async def upstream() -> None:   # client -> container stdin
        while True:
            data = await conn.queue.get()
            if not data:
                break
            if want_in:
                writer.write(data)
                await writer.drain()
        if want_in and rec.config.get("StdinOnce"):
            # docker run -i: the client's EOF is the container's stdin EOF
            with contextlib.suppress(Exception):
                await client.close_stdin()

    async def downstream() -> None:   # container output -> client
        if from_log is not None:
            await _follow_log(rec, conn, from_log[0], from_log[1], want_out, want_err)
            return
        while True:
            data = await reader.read(65536)
            if not data:
                break
            await conn.write(data)

    up = asyncio.ensure_future(upstream())
    down = asyncio.ensure_future(downstream())
    try:
        # Output ends when the container's streams close; the client leaving ends too.
        closed = asyncio.ensure_future(conn.closed.wait())
        await asyncio.wait({down, closed}, return_when=asyncio.FIRST_COMPLETED)
        closed.cancel()
    finally:
        for t in (up, down):
            t.cancel()
        results = await asyncio.gather(up, down, return_exceptions=True)
        for r in results:
            if isinstance(r, Exception) and not isinstance(r, ConnectionError):
                log.error("attach %s: %s", cid[:12], r, exc_info=r)
        with contextlib.suppress(Exception):
            writer.close()


async def resize(request: web.Request) -> web.Response:
    q = request.query
    h, w = query_int(q, "h", 0), query_int(q, "w", 0)
    await backend_of(request).containers.resize(request.match_info["id"], h, w)
    return web.Response(status=200)


ROUTES: list[Route] = [
    ("POST", "/containers/{id}/attach", attach),
    ("POST", "/containers/{id}/resize", resize),
]

__all__ = ["ROUTES", "hijack"]
