"""The zygote: a pre-warmed Python that forks shims on request.

``python -m dockyard.shim.zygote --socket <exec_root>/zygote.sock``, started by the
daemon (subprocess, never a fork of the daemon) with a pipe on its stdin. It
imports the shim and the runtime's create/start/kill/pause/delete path, freezes
the collector (``gc.freeze``: those objects are never scanned, so forked shims
keep sharing their pages), prints ``ready`` and serves one JSON line per
connection::

    {"op": "start", "request": <ShimRequest JSON>}  ->  {"pid": N}
                                                     |  {"error": "...", "kind": "InvalidArgument"}
    {"op": "ping"}                                   ->  {"ok": true, "pid": <zygote pid>}

Per start it double-forks: the child exits at once, the grandchild becomes the
shim (``monitor.become_shim``: own session, subreaper), so shims survive the
zygote and the daemon. Requests are served concurrently (one selector; a shim
answers through a pipe when its container runs). The zygote exits when its stdin
reaches EOF: the daemon closed it or died.
"""

from __future__ import annotations

import gc
import json
import os
import selectors
import socket
import sys

from dockyard.shim import files


def preload() -> None:
    """Import everything a shim and its start child will run (no imports after fork)."""
    import fcntl  # noqa: F401
    import resource  # noqa: F401
    import struct  # noqa: F401
    import termios  # noqa: F401

    import dockyard.errors
    import dockyard.logdriver.entry
    import dockyard.logdriver.jsonfile
    import dockyard.logdriver.local
    import dockyard.logdriver.writers
    import dockyard.runtime.cgroups
    import dockyard.runtime.console
    import dockyard.runtime.container.create
    import dockyard.runtime.container.delete
    import dockyard.runtime.container.kill
    import dockyard.runtime.container.pause
    import dockyard.runtime.container.start
    import dockyard.runtime.process.stage_intermediate
    import dockyard.runtime.process.stage_parent
    import dockyard.runtime.rootfs
    import dockyard.runtime.security
    import dockyard.shim.monitor
    import dockyard.shim.output
    import dockyard.shim.runtimes
    import dockyard.shim.types  # noqa: F401
    from dockyard.runtime import security

    security.preload()


class Zygote:
    def __init__(self, socket_path: str) -> None:
        self.sel = selectors.DefaultSelector()
        self.path = socket_path
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            os.unlink(socket_path)
        except FileNotFoundError:
            pass
        with files.ShortPath(os.path.dirname(socket_path) or ".") as short:
            self.listener.bind(short(os.path.basename(socket_path)))
        os.chmod(socket_path, 0o600)
        self.listener.listen(128)
        self.listener.setblocking(False)
        self.sel.register(self.listener, selectors.EVENT_READ, self.accept)
        os.set_blocking(0, False)
        self.sel.register(0, selectors.EVENT_READ, self.control)
        self.running = True

    def serve(self) -> None:
        while self.running:
            for key, _ in self.sel.select():
                key.data(key)
        self.close()

    def close(self) -> None:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        self.listener.close()

    def control(self, key) -> None:
        try:
            data = os.read(0, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.running = False

    def accept(self, key) -> None:
        try:
            conn, _ = self.listener.accept()
        except BlockingIOError:
            return
        conn.setblocking(False)
        self.sel.register(conn, selectors.EVENT_READ, _Conn(self, conn))

    def handle(self, conn: socket.socket, req: dict) -> None:
        op = req.get("op")
        if op == "ping":
            self.reply(conn, {"ok": True, "pid": os.getpid()})
            return
        if op != "start":
            self.reply(conn, {"error": f"unknown zygote operation {op!r}",
                              "kind": "InvalidArgument"})
            return
        from dockyard.errors import DockyardError
        from dockyard.shim.types import ShimRequest

        try:
            shim_req = ShimRequest.from_json(req.get("request"))
        except DockyardError as e:
            self.reply(conn, {"error": e.message, "kind": type(e).__name__})
            return
        try:
            result = self.fork_shim(shim_req)
        except OSError as e:
            self.reply(conn, {"error": f"fork: {e.strerror}", "kind": "Unavailable"})
            return
        self.sel.register(result, selectors.EVENT_READ, _Result(self, conn, result))

    def fork_shim(self, req) -> int:
        """Double-fork a shim; return the read end of its answer pipe."""
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the middle child: fork the shim and leave at once
            try:
                if os.fork() == 0:
                    from dockyard.shim.monitor import become_shim

                    become_shim(req, w)
            finally:
                os._exit(0)
        os.close(w)
        while True:
            try:
                os.waitpid(pid, 0)
                break
            except ChildProcessError:
                break
            except InterruptedError:
                continue
        os.set_blocking(r, False)
        return r

    def reply(self, conn: socket.socket, obj: dict) -> None:
        try:
            self.sel.unregister(conn)
        except KeyError:
            pass
        try:
            conn.settimeout(2.0)
            conn.sendall((json.dumps(obj) + "\n").encode())
        except OSError:
            pass
        conn.close()


class _Conn:
    __slots__ = ("buf", "conn", "zygote")

    def __init__(self, zygote: Zygote, conn: socket.socket) -> None:
        self.zygote = zygote
        self.conn = conn
        self.buf = b""

    def __call__(self, key) -> None:
        try:
            data = self.conn.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.zygote.sel.unregister(self.conn)
            self.conn.close()
            return
        self.buf += data
        line, nl, _ = self.buf.partition(b"\n")
        if not nl:
            if len(self.buf) > files.MAX_LINE:
                self.zygote.reply(self.conn, {"error": "request too long",
                                              "kind": "InvalidArgument"})
            return
        self.zygote.sel.unregister(self.conn)
        try:
            req = json.loads(line)
            if not isinstance(req, dict):
                raise ValueError("not an object")
        except ValueError:
            self.zygote.reply(self.conn, {"error": "bad request", "kind": "InvalidArgument"})
            return
        self.zygote.handle(self.conn, req)


class _Result:
    """Waits for a shim's one-line answer and passes it to the requester."""

    __slots__ = ("buf", "conn", "fd", "zygote")

    def __init__(self, zygote: Zygote, conn: socket.socket, fd: int) -> None:
        self.zygote = zygote
        self.conn = conn
        self.fd = fd
        self.buf = b""

    def __call__(self, key) -> None:
        try:
            data = os.read(self.fd, 4096)
        except BlockingIOError:
            return
        self.buf += data
        if data and b"\n" not in self.buf:
            return
        self.zygote.sel.unregister(self.fd)
        os.close(self.fd)
        try:
            answer = json.loads(self.buf.split(b"\n", 1)[0])
        except ValueError:
            answer = {"error": "the shim died before the container started",
                      "kind": "SystemError_"}
        self.zygote.reply(self.conn, answer)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] != "--socket":
        print("usage: python -m dockyard.shim.zygote --socket PATH", file=sys.stderr)
        return 2
    preload()
    from dockyard.runtime import syscalls

    syscalls.set_process_name("dockyard-zygote")
    z = Zygote(os.path.abspath(args[1]))
    gc.collect()
    gc.freeze()
    os.write(1, b"ready\n")
    z.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
