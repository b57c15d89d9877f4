"""Serving: bind the sockets, hold the pidfile and the data-root lock, run until a signal.

A stale unix socket (left by a killed daemon) is replaced only when nothing
answers on it; a live one is an error, like a live pidfile. The data root is
``flock``-ed for the daemon's life so that two daemons never share one store;
the kernel drops the lock when the process dies, even by SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import signal
import socket
import ssl
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

from dockyard.daemon.backend import Backend
from dockyard.daemon.config import DaemonConfig, parse_host
from dockyard.errors import Conflict, InvalidArgument
from dockyard.pids import alive as _alive

SOCKET_MODE = 0o660
DEFAULT_GROUP = "docker"
log = logging.getLogger("dockyardd")


@contextlib.contextmanager
def pidfile(path: str) -> Iterator[None]:
    p = Path(path)
    try:
        old = int(p.read_text().strip() or "0")
    except (FileNotFoundError, ValueError):
        old = 0
    if old and old != os.getpid() and _alive(old):
        raise Conflict(f"pid file found, ensure dockyardd is not running or delete {path} "
                       f"(process {old} is alive)")
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.{os.getpid()}")
    tmp.write_text(f"{os.getpid()}")
    os.replace(tmp, p)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError, ValueError):
            if int(p.read_text().strip()) == os.getpid():
                p.unlink()


@contextlib.contextmanager
def root_lock(data_root: Path) -> Iterator[None]:
    data_root.mkdir(parents=True, exist_ok=True, mode=0o711)
    fd = os.open(data_root / "dockyardd.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Conflict(f"another dockyardd is using the data root {data_root}") from None
        yield
    finally:
        os.close(fd)


def socket_gid(group: str) -> int | None:
    """The gid for the sockets: ``group`` must exist when named; by default the
    ``docker`` group is used when there is one (dockerd's rule), else root's."""
    import grp

    try:
        return grp.getgrnam(group or DEFAULT_GROUP).gr_gid
    except KeyError:
        if group:
            raise InvalidArgument(f"group {group!r} not found for the API socket") from None
        return None


def unix_socket(path: str, gid: int | None = None) -> socket.socket:
    """A listening unix socket at ``path``, mode 0660; a stale one is replaced."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
    try:
        st = p.lstat()
    except FileNotFoundError:
        st = None
    if st is not None:
        if not stat.S_ISSOCK(st.st_mode):
            raise InvalidArgument(f"{path} exists and is not a socket")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except OSError as e:
            if e.errno not in (errno.ECONNREFUSED, errno.ENOENT):
                raise
            p.unlink()   # stale: its daemon is gone
        else:
            raise Conflict(f"{path}: another daemon is listening on it")
        finally:
            probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)   # never world-reachable, even for a moment
    try:
        sock.bind(path)
    finally:
        os.umask(old)
    if gid is not None:
        os.chown(path, -1, gid)
    os.chmod(path, SOCKET_MODE)
    sock.listen(128)
    sock.setblocking(False)
    return sock


def tcp_socket(address: str) -> socket.socket:
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, int(port)))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def tls_context(config: DaemonConfig) -> ssl.SSLContext | None:
    """The server context for tcp:// listeners, or None without --tls/--tlsverify."""
    if not config.tls:
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(config.tlscert, config.tlskey)
        if config.tlsverify:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(config.tlscacert)
    except (OSError, ssl.SSLError) as e:
        raise InvalidArgument(f"cannot load the TLS certificates: {e}") from None
    return ctx


async def serve(config: DaemonConfig, ready: Callable[[list[str]], None] | None = None) -> None:
    from aiohttp import web

    from dockyard.api.app import make_app

    backend = Backend(config)
    await backend.start()
    app = make_app(backend)
    access = logging.getLogger("dockyardd.access") if log.isEnabledFor(logging.DEBUG) \
        else None
    runner = web.AppRunner(app, handle_signals=False, access_log=access,
                           shutdown_timeout=5.0)
    await runner.setup()
    sockets: list[socket.socket] = []
    unix_paths: list[str] = []
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        gid = socket_gid(config.group)
        tls = tls_context(config)
        for host in config.hosts:
            kind, where = parse_host(host)
            if kind == "unix":
                sock = unix_socket(where, gid)
                unix_paths.append(where)
                log.info("API listening on %s", where)
            else:
                sock = tcp_socket(where)
                if tls is None:
                    log.warning("API listening on tcp://%s WITHOUT TLS: anyone who can "
                                "reach it controls this host", where)
                elif not config.tlsverify:
                    log.warning("API listening on tcp://%s with TLS but WITHOUT client "
                                "verification (--tlsverify)", where)
                else:
                    log.info("API listening on tcp://%s (TLS, client certificates)", where)
            sockets.append(sock)
            await web.SockSite(runner, sock, ssl_context=None if kind == "unix" else tls
                               ).start()
        if ready is not None:
            ready([h for h in config.hosts])
        await stop.wait()
        log.info("shutting down")
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        backend.events.close()
        await runner.cleanup()
        for sock in sockets:
            sock.close()
        for path in unix_paths:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        await backend.close()


def run(config: DaemonConfig, ready: Callable[[list[str]], None] | None = None) -> None:
    with root_lock(Path(config.data_root)), pidfile(config.pidfile):
        asyncio.run(serve(config, ready))


__all__ = ["SOCKET_MODE", "pidfile", "root_lock", "run", "serve", "tcp_socket",
           "unix_socket"]
