"""A small synchronous Docker Engine API client for the ``dockyard`` CLI.

Why hand-written: ``http.client`` costs ~28 ms of CPU to import here (it pulls in
``email``), ``socket`` and ``json`` another ~7 ms through ``enum`` and ``re``;
the whole CLI must spend < 25 ms on ``dockyard run --rm busybox true``. So this
is HTTP/1.1 over the C ``_socket`` module: Content-Length, chunked and
read-to-close bodies, JSON message streams, keep-alive on one connection, and
hijacked connections (``Upgrade: tcp``) for attach and exec.

Hosts: ``unix:///path`` or ``tcp://host:port`` (``--host``/``-H``, then
``$DOCKYARD_HOST``, then ``unix:///run/dockyard/dockyard.sock``). The API version
is negotiated once, lazily, from ``/_ping``'s ``Api-Version`` header: the lower of
the daemon's and :data:`API_VERSION`.

Daemon errors raise :class:`APIError` (a :class:`dockyard.errors.DockyardError`
kind chosen from the status) carrying the daemon's ``message``; not reaching the
daemon raises :class:`DaemonUnreachable`.
"""

from __future__ import annotations

import _socket
import os

from dockyard.cli import jsonfast
from dockyard.errors import (
    Conflict,
    DockyardError,
    InvalidArgument,
    NotFound,
    Unavailable,
)

TYPE_CHECKING = False
if TYPE_CHECKING:   # typing imports re, collections.abc imports collections: ~2 ms
    from collections.abc import Iterator
    from typing import Any

API_VERSION = "1.41"
DEFAULT_HOST = "unix:///run/dockyard/dockyard.sock"
USER_AGENT = "dockyard-cli/0.1"
_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_MAX_HEAD = 64 << 10


class APIError(DockyardError):
    """The daemon answered with an error status; ``message`` is its text."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class APINotFound(APIError, NotFound):
    pass


class APIConflict(APIError, Conflict):
    pass


class APIInvalid(APIError, InvalidArgument):
    pass


class DaemonUnreachable(Unavailable):
    """Nothing answers at the host (no socket, connection refused)."""

    def __init__(self, host: str, cause: str = "") -> None:
        super().__init__(f"Cannot connect to the dockyard daemon at {host}. "
                         "Is the dockyard daemon running?")
        self.host = host
        self.cause = cause


def api_error(status: int, body: bytes) -> APIError:
    """dockerd's error body ``{"message": ...}`` -> the right APIError kind."""
    message = ""
    try:
        doc = jsonfast.loads(body)
        if isinstance(doc, dict):
            message = str(doc.get("message", ""))
    except (ValueError, UnicodeDecodeError):
        message = body.decode("utf-8", "replace").strip()
    if not message:
        message = f"HTTP {status}"
    cls = {404: APINotFound, 409: APIConflict, 400: APIInvalid}.get(status, APIError)
    return cls(status, message)


def quote(text: str) -> str:
    """Percent-encode everything but RFC 3986's unreserved characters."""
    raw = text.encode("utf-8")
    if all(b in _SAFE for b in raw):
        return text
    return "".join(chr(b) if b in _SAFE else f"%{b:02X}" for b in raw)


def encode_query(params: dict[str, Any] | None) -> str:
    """``?k=v&...``; None values are left out, bools are 1/0, dicts/lists JSON."""
    if not params:
        return ""
    parts = []
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "1" if value else "0"
        elif isinstance(value, (dict, list)):
            value = jsonfast.dumps(value)
        parts.append(f"{quote(key)}={quote(str(value))}")
    return "?" + "&".join(parts) if parts else ""


def parse_host(host: str) -> tuple[str, Any]:
    """``unix:///p`` -> ("unix", "/p"); ``tcp://h:p`` -> ("tcp", (h, p))."""
    if host.startswith("unix://"):
        path = host[len("unix://"):]
        if not path.startswith("/"):
            raise InvalidArgument(f"invalid host {host!r}: a unix socket needs an "
                                  "absolute path")
        return "unix", path
    if host.startswith("tcp://") or host.startswith("http://"):
        rest = host.split("://", 1)[1].rstrip("/")
        if rest.startswith("["):
            addr, _, port = rest[1:].partition("]:")
        else:
            addr, _, port = rest.rpartition(":")
        if not addr or not port.isdigit():
            raise InvalidArgument(f"invalid host {host!r}: want tcp://HOST:PORT")
        return "tcp", (addr, int(port))
    if host.startswith("/"):
        return "unix", host
    raise InvalidArgument(f"invalid host {host!r}: want unix:///path or tcp://HOST:PORT")


def default_host() -> str:
    return os.environ.get("DOCKYARD_HOST") or DEFAULT_HOST


class Connection:
    """One socket with a read buffer; HTTP/1.1 framing on top."""

    def __init__(self, sock: Any) -> None:
        self.sock = sock
        self.buf = b""
        self.reusable = False

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def recv(self, n: int = 65536) -> bytes:
        """Buffered bytes first, else one read from the socket (b"" at EOF)."""
        if self.buf:
            data, self.buf = self.buf[:n], self.buf[n:]
            return data
        return self.sock.recv(n)

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buf += data
        return True

    def read_line(self) -> bytes:
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line
            if len(self.buf) > _MAX_HEAD or not self._fill():
                raise DockyardError("the daemon closed the connection mid-response")

    def read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill():
                raise DockyardError("the daemon closed the connection mid-response")
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_head(self) -> tuple[int, dict[str, str]]:
        line = self.read_line()
        parts = line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
            raise DockyardError(f"bad HTTP status line from the daemon: {line[:80]!r}")
        status = int(parts[1])
        headers: dict[str, str] = {}
        while True:
            line = self.read_line()
            if not line:
                break
            k, _, v = line.partition(b":")
            headers[k.decode("latin-1").strip().lower()] = v.decode("latin-1").strip()
        return status, headers

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class Response:
    """A response whose body is read on demand (whole, as chunks or JSON messages)."""

    def __init__(self, conn: Connection, status: int, headers: dict[str, str],
                 method: str, on_done: Any = None) -> None:
        self.conn = conn
        self.status = status
        self.headers = headers
        self._on_done = on_done
        te = headers.get("transfer-encoding", "").lower()
        self._chunked = "chunked" in te
        length = headers.get("content-length")
        no_body = method == "HEAD" or status in (204, 304) or 100 <= status < 200
        self._left: int | None = 0 if no_body else (
            int(length) if length is not None and not self._chunked else None)
        self._done = no_body or self._left == 0
        self._released = False

    def iter_raw(self) -> Iterator[bytes]:
        """The body as it arrives, de-chunked."""
        conn = self.conn
        if self._done:
            self._finish(True)
            return
        if self._chunked:
            while True:
                size_line = conn.read_line().split(b";", 1)[0].strip()
                try:
                    size = int(size_line, 16)
                except ValueError:
                    raise DockyardError(f"bad chunk size from the daemon: {size_line!r}"
                                        ) from None
                if size == 0:
                    while conn.read_line():   # trailers
                        pass
                    break
                data = conn.read_exact(size)
                conn.read_exact(2)
                yield data
            self._finish(True)
        elif self._left is not None:
            while self._left > 0:
                data = conn.recv(min(self._left, 65536))
                if not data:
                    raise DockyardError("the daemon closed the connection mid-response")
                self._left -= len(data)
                yield data
            self._finish(True)
        else:
            while True:
                data = conn.recv()
                if not data:
                    break
                yield data
            self._finish(False)

    def _finish(self, reusable: bool) -> None:
        """The body is fully read: hand the connection back (keep-alive) or close it."""
        self._done = True
        if self._released:
            return
        self._released = True
        keep = reusable and self.headers.get("connection", "").lower() != "close"
        if self._on_done is not None:
            self._on_done(self.conn, keep)
        else:
            self.conn.close()

    def read(self) -> bytes:
        return b"".join(self.iter_raw())

    def json(self) -> Any:
        data = self.read()
        return jsonfast.loads(data) if data.strip() else None

    def iter_json(self) -> Iterator[Any]:
        """A stream of JSON values (newline separated or not), each as it completes."""
        pending = ""
        decoder = _Utf8()
        for chunk in self.iter_raw():
            pending += decoder.feed(chunk)
            pending, values = _split_json(pending)
            yield from values
        pending = pending.strip()
        if pending:
            yield jsonfast.loads(pending)

    def close(self) -> None:
        """Drop the response; an unread body makes the connection unusable."""
        if not self._released:
            self._released = True
            if self._done and self._on_done is not None:
                self._on_done(self.conn, True)
            else:
                self.conn.close()
        self._done = True


class _Utf8:
    """Decode UTF-8 across chunk boundaries."""

    def __init__(self) -> None:
        self.rest = b""

    def feed(self, data: bytes) -> str:
        data = self.rest + data
        cut = len(data)
        for back in range(1, min(4, len(data)) + 1):
            b = data[-back]
            if b & 0xC0 == 0x80:
                continue
            if b >= 0xC0:
                need = 2 if b < 0xE0 else 3 if b < 0xF0 else 4
                if need > back:
                    cut = len(data) - back
            break
        self.rest = data[cut:]
        return data[:cut].decode("utf-8", "replace")


def _split_json(text: str) -> tuple[str, list[Any]]:
    values = []
    pos = 0
    n = len(text)
    while True:
        while pos < n and text[pos] in " \t\r\n":
            pos += 1
        if pos >= n:
            return "", values
        try:
            value, end = jsonfast.scan(text, pos)
        except ValueError:
            return text[pos:], values
        if end >= n and text[pos] not in "{[\"":
            return text[pos:], values   # a bare number may continue in the next chunk
        values.append(value)
        pos = end


class Hijacked:
    """A connection taken over for raw bytes (attach, exec start)."""

    def __init__(self, conn: Connection, status: int, headers: dict[str, str]) -> None:
        self.conn = conn
        self.status = status
        self.headers = headers

    def fileno(self) -> int:
        return self.conn.fileno()

    def recv(self, n: int = 65536) -> bytes:
        return self.conn.recv(n)

    def sendall(self, data: bytes) -> None:
        self.conn.send(data)

    def close_write(self) -> None:
        """Half-close (stdin EOF). Over TLS a half-close would end the session, so
        there the daemon learns of EOF only when the connection closes."""
        if hasattr(self.conn.sock, "unwrap"):
            return
        try:
            self.conn.sock.shutdown(_socket.SHUT_WR)
        except OSError:
            pass

    def close(self) -> None:
        self.conn.close()


class TLSOptions:
    """docker's --tls/--tlsverify/--tlscacert/--tlscert/--tlskey for tcp:// hosts.

    ``$DOCKYARD_TLS_VERIFY`` (non-empty) turns verification on and
    ``$DOCKYARD_CERT_PATH`` names a directory holding ca.pem, cert.pem and key.pem
    (default ``~/.dockyard``), as DOCKER_TLS_VERIFY/DOCKER_CERT_PATH do for docker.
    """

    def __init__(self, tls: bool = False, verify: bool = False, ca: str = "",
                 cert: str = "", key: str = "") -> None:
        self.verify = verify
        self.enabled = tls or verify
        cert_dir = os.environ.get("DOCKYARD_CERT_PATH") or os.path.join(
            os.path.expanduser("~"), ".dockyard")

        def default(name: str) -> str:
            path = os.path.join(cert_dir, name)
            return path if os.path.exists(path) else ""
        self.ca = ca or (default("ca.pem") if self.enabled else "")
        self.cert = cert or (default("cert.pem") if self.enabled else "")
        self.key = key or (default("key.pem") if self.enabled else "")

    @classmethod
    def from_env(cls) -> TLSOptions | None:
        if os.environ.get("DOCKYARD_TLS_VERIFY"):
            return cls(verify=True)
        return None


class Client:
    """The Docker Engine API over one host; methods return parsed results."""

    def __init__(self, host: str | None = None, version: str | None = None,
                 timeout: float | None = None, tls: TLSOptions | None = None) -> None:
        self.host = host or default_host()
        self.kind, self.address = parse_host(self.host)
        self.tls = tls if tls is not None else TLSOptions.from_env()
        self._ssl_context: Any = None
        self.version = version
        self.timeout = timeout
        self._idle: Connection | None = None
        # Called once when nothing answers the first request (daemonstart.py sets it).
        self.autostart: Any = None

    # --- connections -----------------------------------------------------------------

    def connect(self) -> Connection:
        try:
            if self.kind == "unix":
                sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
                try:
                    sock.settimeout(self.timeout)
                    sock.connect(self.address)
                except BaseException:
                    sock.close()
                    raise
            else:
                sock = self._connect_tcp()
        except OSError as e:
            raise DaemonUnreachable(self.host, str(e)) from e
        return Connection(sock)

    def _connect_tcp(self) -> Any:
        host, port = self.address
        last: OSError | None = None
        for family, type_, proto, _, addr in _socket.getaddrinfo(
                host, port, 0, _socket.SOCK_STREAM):
            sock = _socket.socket(family, type_, proto)
            try:
                sock.settimeout(self.timeout)
                sock.connect(addr)
                sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            except OSError as e:
                sock.close()
                last = e
                continue
            if self.tls is not None and self.tls.enabled:
                return self._wrap_tls(sock, host)
            return sock
        raise last or OSError(f"cannot resolve {host}")

    def _wrap_tls(self, sock: Any, host: str) -> Any:
        """TLS on a tcp:// host (docker's --tls/--tlsverify); ssl is imported only here."""
        import socket as _pysocket
        import ssl

        opts = self.tls
        assert opts is not None
        if self._ssl_context is None:
            if opts.verify:
                ctx = ssl.create_default_context(cafile=opts.ca or None)
            else:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            if opts.cert and opts.key:
                try:
                    ctx.load_cert_chain(opts.cert, opts.key)
                except (OSError, ssl.SSLError) as e:
                    sock.close()
                    raise InvalidArgument(f"could not load the client certificate "
                                          f"{opts.cert}: {e}") from None
            self._ssl_context = ctx
        py = _pysocket.socket(fileno=sock.detach())
        try:
            return self._ssl_context.wrap_socket(py, server_hostname=host)
        except ssl.SSLError as e:
            py.close()
            raise Unavailable(f"error during connect: TLS handshake with {self.host} "
                              f"failed: {e}") from None
        except BaseException:
            py.close()
            raise

    def _release(self, conn: Connection, keep: bool) -> None:
        if keep and self._idle is None:
            self._idle = conn
        else:
            conn.close()

    def close(self) -> None:
        if self._idle is not None:
            self._idle.close()
            self._idle = None

    # --- requests ----------------------------------------------------------------------

    def negotiate(self) -> str:
        """The API version to speak: min(ours, the daemon's ``Api-Version``)."""
        if self.version is None:
            try:
                resp = self._send("GET", "/_ping", None, {}, versioned=False)
            except DaemonUnreachable:
                if self.autostart is None:
                    raise
                hook, self.autostart = self.autostart, None
                hook()   # starts a daemon (or raises why it could not)
                resp = self._send("GET", "/_ping", None, {}, versioned=False)
            data = resp.read()
            server = resp.headers.get("api-version", "")
            if resp.status >= 400:
                raise api_error(resp.status, data)
            self.version = _min_version(API_VERSION, server) if server else API_VERSION
        return self.version

    def url(self, path: str, params: dict[str, Any] | None = None) -> str:
        return f"/v{self.negotiate()}{path}{encode_query(params)}"

    def _send(self, method: str, path: str, body: bytes | None,
              headers: dict[str, str], versioned: bool = True,
              params: dict[str, Any] | None = None, fresh: bool = False) -> Response:
        target = self.url(path, params) if versioned else path + encode_query(params)
        lines = [f"{method} {target} HTTP/1.1", "Host: dockyard",
                 f"User-Agent: {USER_AGENT}"]
        for k, v in headers.items():
            lines.append(f"{k}: {v}")
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        big = body is not None and len(body) >= 65536
        payload = head if big or body is None else head + body
        conn = None
        if not fresh:
            conn, self._idle = self._idle, None
        if conn is not None:
            try:
                conn.send(payload)
                if big:
                    conn.send(body)
                status, rh = conn.read_head()
                return Response(conn, status, rh, method, self._release)
            except (OSError, DockyardError):
                conn.close()   # a kept-alive socket the daemon closed: retry once fresh
        conn = self.connect()
        try:
            conn.send(payload)
            if big:
                conn.send(body)
            status, rh = conn.read_head()
        except OSError as e:
            conn.close()
            if type(e).__name__.startswith("SSL"):
                raise Unavailable(f"error during connect: {self.host}: {e}") from None
            raise DaemonUnreachable(self.host, str(e)) from e
        except DockyardError as e:
            conn.close()
            if self.kind == "tcp" and "closed the connection" in e.message:
                hint = ("does it want a client certificate? (--tlscert/--tlskey)"
                        if self.tls is not None and self.tls.enabled else
                        "does it want TLS? (--tls/--tlsverify)")
                raise Unavailable(f"error during connect: the daemon at {self.host} "
                                  f"closed the connection: {hint}") from None
            raise
        except BaseException:
            conn.close()
            raise
        return Response(conn, status, rh, method, None if fresh else self._release)

    def request(self, method: str, path: str, params: dict[str, Any] | None = None,
                body: Any = None, headers: dict[str, str] | None = None,
                fresh: bool = False) -> Response:
        """Send a request; raise APIError for 4xx/5xx; the body is left to read."""
        hdrs = dict(headers or {})
        data: bytes | None
        if body is None:
            data = None
        elif isinstance(body, (bytes, bytearray)):
            data = bytes(body)
        else:
            data = jsonfast.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        if method in ("POST", "PUT") and data is None:
            data = b""
        resp = self._send(method, path, data, hdrs, params=params, fresh=fresh)
        if resp.status >= 400:
            raise api_error(resp.status, resp.read())
        return resp

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.request("GET", path, params).json()

    def post(self, path: str, params: dict[str, Any] | None = None, body: Any = None
             ) -> Any:
        return self.request("POST", path, params, body).json()

    def delete(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.request("DELETE", path, params).json()

    def stream(self, method: str, path: str, params: dict[str, Any] | None = None,
               body: Any = None, headers: dict[str, str] | None = None) -> Response:
        """A response on its own connection (long-lived streams, wait)."""
        return self.request(method, path, params, body, headers, fresh=True)

    def hijack(self, path: str, params: dict[str, Any] | None = None,
               body: Any = None) -> Hijacked:
        """POST with ``Upgrade: tcp``; the connection then carries raw bytes."""
        resp = self.request("POST", path, params, body,
                            {"Connection": "Upgrade", "Upgrade": "tcp"}, fresh=True)
        if resp.status not in (101, 200):
            resp.close()
            raise APIError(resp.status, f"unexpected status {resp.status} on {path}")
        return Hijacked(resp.conn, resp.status, resp.headers)

    def send_only(self, method: str, path: str, params: dict[str, Any] | None = None,
                  body: Any = None) -> Connection:
        """Write a request on a fresh connection and return without reading the answer
        (``wait`` before ``start``: read it later with :meth:`finish`)."""
        data = b"" if body is None else jsonfast.dumps(body).encode()
        target = self.url(path, params)
        head = (f"{method} {target} HTTP/1.1\r\nHost: dockyard\r\nUser-Agent: {USER_AGENT}"
                f"\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n")
        conn = self.connect()
        try:
            conn.send(head.encode("latin-1") + data)
        except OSError as e:
            conn.close()
            raise DaemonUnreachable(self.host, str(e)) from e
        return conn

    @staticmethod
    def finish(conn: Connection, method: str = "POST") -> Response:
        status, headers = conn.read_head()
        resp = Response(conn, status, headers, method)
        if status >= 400:
            raise api_error(status, resp.read())
        return resp


def _min_version(a: str, b: str) -> str:
    def key(v: str) -> tuple[int, ...]:
        try:
            return tuple(int(x) for x in v.split("."))
        except ValueError:
            return (0,)
    return a if key(a) <= key(b) else b


__all__ = [
    "API_VERSION",
    "DEFAULT_HOST",
    "APIConflict",
    "APIError",
    "APIInvalid",
    "APINotFound",
    "Client",
    "Connection",
    "DaemonUnreachable",
    "Hijacked",
    "Response",
    "api_error",
    "default_host",
    "encode_query",
    "parse_host",
    "quote",
]
