"""A canned HTTP server on a unix socket for the CLI client's unit tests.

Each accepted connection is served by a thread; ``handler(method, path, headers,
body, conn)`` returns raw response bytes (or writes to ``conn`` itself and
returns None). Requests are recorded in ``requests`` as (method, path, headers, body).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from pathlib import Path

Handler = Callable[[str, str, dict[str, str], bytes, socket.socket], bytes | None]


def http_response(status: int, body: bytes | str | dict | list = b"",
                  headers: dict[str, str] | None = None, chunked: bool = False) -> bytes:
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", **(headers or {})}
    elif isinstance(body, str):
        body = body.encode()
    lines = [f"HTTP/1.1 {status} X", "Api-Version: 1.41"]
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
        data = b""
        for i in range(0, len(body), 7):   # small chunks to exercise reassembly
            part = body[i:i + 7]
            data += f"{len(part):x}\r\n".encode() + part + b"\r\n"
        data += b"0\r\n\r\n"
    else:
        lines.append(f"Content-Length: {len(body)}")
        data = body
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


class FakeDaemon:
    def __init__(self, path: Path, handler: Handler) -> None:
        self.path = path
        self.handler = handler
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.connections = 0
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(16)
        self._threads: list[threading.Thread] = []
        self._closing = False
        self._conns: list[socket.socket] = []
        self._accept = threading.Thread(target=self._serve, daemon=True)
        self._accept.start()

    @property
    def host(self) -> str:
        return f"unix://{self.path}"

    def _serve(self) -> None:
        while not self._closing:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            self._conns.append(conn)
            t = threading.Thread(target=self._conn, args=(conn,), daemon=True)
            t.start()
            self._threads.append(t)

    def _conn(self, conn: socket.socket) -> None:
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, buf = buf.split(b"\r\n\r\n", 1)
                lines = head.decode().split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {k.lower(): v.strip() for k, _, v in
                           (line.partition(":") for line in lines[1:])}
                n = int(headers.get("content-length", "0"))
                while len(buf) < n:
                    buf += conn.recv(65536)
                body, buf = buf[:n], buf[n:]
                self.requests.append((method, path, headers, body))
                out = self.handler(method, path, headers, body, conn)
                if out is None:
                    return
                conn.sendall(out)
                if b"Connection: close" in out.split(b"\r\n\r\n", 1)[0]:
                    return
        except OSError:
            return
        finally:
            conn.close()

    def close(self) -> None:
        self._closing = True
        self.sock.close()
        for c in self._conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in self._threads:
            t.join(timeout=5)


__all__ = ["FakeDaemon", "http_response"]
