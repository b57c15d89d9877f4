"""The shim process: parent of the container's init until it exits.

Forked from the zygote, it imports nothing and writes as few pages as it can:
every page it touches is copied out of the zygote's (copy-on-write), and that
is what an idle container costs (PSS). So it works on raw descriptors with
C-level calls (``select.epoll``, ``os.read``/``os.write``, ``_socket``), and the
whole start (reading the request, pipes, control socket, the runtime's create
and start) runs in a short-lived child, ``worker``, which hands the results
back and exits. Its life:

1-2. ``launch.become_shim``: leave the zygote (session, subreaper, name, fds), get
   the container from the worker (init pid, control socket, output read ends, stdin
   write end or pty master), answer the zygote's requester ``{"pid": N}``;
3. ``Monitor.loop``: one epoll over outputs, stdin, the control socket and its
   connections, and a SIGCHLD wake-up pipe. No asyncio, no threads;
4. when the init is reaped: exit code (128+N when killed by N), OOM-kill flag from
   the memory cgroup, the runtime container deleted (leftover processes killed),
   output drained to EOF (2 s at most), the log closed, ``exit.json`` written
   atomically, waiters answered, attach clients closed, ``shim.sock`` removed, exit.
"""

from __future__ import annotations

import _signal as signal
import _socket
import os
import select
import time

from dockyard.runtime import fastjson
from dockyard.shim import files
from dockyard.shim.output import Attach, Output, Stdin
from dockyard.shim.wire import error_reply, send_reply, write_line

DRAIN_S = 2.0
_IN = select.EPOLLIN
_OUT = select.EPOLLOUT
_ERRS = select.EPOLLERR | select.EPOLLHUP


def noop(signum, frame) -> None:
    pass


class Monitor:
    """The shim's state and event loop, built from the worker's handoff."""

    def __init__(self, handoff: bytes, fds: list[int], wake_fd: int) -> None:
        head, bundle, self._raw = handoff.split(b"\n", 2)
        pid, tty, open_stdin, self.stdin_once, self.held = map(int, head.split())
        self.tty = tty
        self.warned = b'"warning": ""' not in self._raw
        self.bundle = bundle.decode()
        self._req = None
        self._rt = None
        self.ep = select.epoll()
        self.handlers: dict = {}
        self.init_pid = pid
        self.status: int | None = None
        self.finished_at = ""
        self.error = ""
        self.oom = False
        self.answer_fd = -1
        self.answer: dict | None = None
        self.waiters: list[int] = []
        self.requests: dict[int, bytes] = {}
        self.outputs: dict[int, str] = {}
        self.master = -1
        self.stdin: Stdin | None = None
        self.drain_deadline = 0.0
        self.done = False
        self.paused: list[Attach] = []
        self.output = Output(None, self.tty, self._log_config)
        self._watch(wake_fd, _IN, self._on_sigchld)
        self.listener = _socket.socket(fileno=fds[0])
        os.set_blocking(fds[0], False)
        self._watch(fds[0], _IN, self._on_accept)
        if self.tty:
            self.master = fds[1]
            streams = [(fds[1], "stdout")]
            if open_stdin:
                self.stdin = Stdin(fds[1], tty=True)
        else:
            streams = [(fds[1], "stdout"), (fds[2], "stderr")]
            if open_stdin:
                os.set_blocking(fds[3], False)
                self.stdin = Stdin(fds[3], tty=False)
        for fd, stream in streams:
            os.set_blocking(fd, False)
            self.outputs[fd] = stream
            self._watch(fd, _IN, self._on_output)
        # An init that exited already is reaped by the loop (its SIGCHLD woke the
        # pipe): the requester gets its answer first, the exit path runs after.

    def _watch(self, fd: int, events: int, handler) -> None:
        if fd in self.handlers:
            self.ep.modify(fd, events)
        else:
            self.ep.register(fd, events)
        self.handlers[fd] = handler

    def _unwatch(self, fd: int) -> None:
        if self.handlers.pop(fd, None) is not None:
            self.ep.unregister(fd)

    @property
    def req(self) -> dict:
        """The request (and the start warning), parsed on first use only."""
        if self._req is None:
            body = fastjson.loads(self._raw)
            self._req = dict(body["request"], warning=body.get("warning", ""))
        return self._req

    def _log_config(self) -> dict:
        return self.req["log"]

    @property
    def rt(self):
        if self._rt is None:
            from dockyard.shim import runtimes

            self._rt = runtimes.for_request(self.req)
        return self._rt

    def path(self, name: str) -> str:
        return os.path.join(self.bundle, name)

    # --- the loop -------------------------------------------------------------------

    def loop(self) -> None:
        while not self.done:
            timeout = -1.0
            if self.status is not None:
                timeout = max(0.0, self.drain_deadline - time.monotonic())
                if not self.outputs or timeout == 0.0:
                    self.finish()
                    return
            for fd, events in self.ep.poll(timeout):
                handler = self.handlers.get(fd)
                if handler is not None:
                    handler(fd, events)

    def _on_sigchld(self, fd: int, events: int) -> None:
        try:
            while os.read(fd, 512):
                pass
        except BlockingIOError:
            pass
        self._reap_children()

    def _reap_children(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.init_pid and self.status is None:
                self._init_exited(status)

    def _init_exited(self, status: int) -> None:
        self.status = status
        self.finished_at = files.now_rfc3339()
        try:
            self.oom = self.rt.oom_killed()
        except Exception:
            pass
        try:
            self.rt.delete()  # kills what is left, so the output reaches EOF
        except Exception as e:
            self.error = error_reply(e)["error"]
        self._reap_children()
        self.drain_deadline = time.monotonic() + DRAIN_S

    def exit_code(self) -> int:
        status = self.status or 0
        if os.WIFSIGNALED(status):
            return 128 + os.WTERMSIG(status)
        return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 255

    def finish(self) -> None:
        from dockyard.shim.types import ExitStatus

        for fd in list(self.outputs):
            self._close_output(fd)
        self.output.close()
        error = self.error
        if self.answer is not None and not error:
            error = self.answer["error"]
        status = ExitStatus(self.exit_code(), self.finished_at, self.oom, error).to_json()
        # exit.json first: a client whose connection is refused or dropped from here
        # on finds it at once.
        files.write_atomic(self.path(files.EXIT_JSON),
                           (fastjson.dumps(status) + "\n").encode())
        try:
            os.unlink(self.path(files.SHIM_SOCK))
        except FileNotFoundError:
            pass
        self._unwatch(self.listener.fileno())
        self.listener.close()
        for w in self.waiters:
            send_reply(w, status)
            os.close(w)
        for c in self.output.clients:
            c.flush_blocking(1.0)
            os.close(c.fd)
        if self.answer_fd >= 0:
            try:
                write_line(self.answer_fd, self.answer)
            except OSError:
                pass
        self.done = True

    # --- container output and input ----------------------------------------------------

    def _on_output(self, fd: int, events: int) -> None:
        if events & _OUT and self.stdin is not None and self.stdin.fd == fd:
            self._on_stdin_writable(fd, events)  # tty: the master is also stdin
        if not events & (_IN | _ERRS) or fd not in self.outputs:
            return
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:  # EIO: the pty's other side is closed
            data = b""
        if not data:
            self._close_output(fd)
            return
        for c in self.output.data(self.outputs[fd], data):
            self._drop(c)
        for c in self.output.clients:
            if c.out:
                self._watch_client(c)

    def _close_output(self, fd: int) -> None:
        stream = self.outputs.pop(fd, None)
        if stream is None:
            return
        self._unwatch(fd)
        self.output.end(stream)
        if self.stdin is not None and self.stdin.fd == fd:
            self.stdin.fd = -1
        os.close(fd)

    def _watch_client(self, c: Attach) -> None:
        events = (_IN if c.reading and c not in self.paused else 0) | (_OUT if c.out else 0)
        if events:
            self._watch(c.fd, events, self._on_client)
        else:
            self._unwatch(c.fd)

    def _on_client(self, fd: int, events: int) -> None:
        c = self._client(fd)
        if c is None:
            return
        if events & _OUT and not c.flush():
            self._drop(c)
            return
        if events & (_IN | _ERRS) and c.reading:
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                data = None
            except OSError:
                data = b""
            if data == b"":
                c.reading = False
                # dockerd closes stdin at a StdinOnce client's EOF only without a
                # TTY: with one, dropping the connection is how clients detach.
                if c.stdin and self.stdin_once and not self.tty:
                    self._close_stdin()
                if events & _ERRS and not c.out:
                    self._drop(c)
                    return
            elif data and c.stdin and self.stdin is not None:
                self._feed_stdin(data)
        self._watch_client(c)

    def _client(self, fd: int) -> Attach | None:
        for c in self.output.clients:
            if c.fd == fd:
                return c
        return None

    def _drop(self, c: Attach) -> None:
        if c in self.output.clients:
            self.output.clients.remove(c)
        if c in self.paused:
            self.paused.remove(c)
        self._unwatch(c.fd)
        os.close(c.fd)

    def _feed_stdin(self, data: bytes) -> None:
        self._stdin_do(self.stdin.feed, data)

    def _stdin_do(self, action, *args) -> None:
        """Run a Stdin action that may close its fd: never leave a closed fd in epoll."""
        fd = self.stdin.fd
        if fd >= 0 and fd not in self.outputs:
            self._unwatch(fd)
        action(*args)
        self._watch_stdin()

    def _watch_stdin(self) -> None:
        s = self.stdin
        if s is None or s.fd < 0:
            return
        if s.fd in self.outputs:  # tty: the master is also the output
            self._watch(s.fd, _IN | (_OUT if s.pending else 0), self._on_output)
        elif s.pending:
            self._watch(s.fd, _OUT, self._on_stdin_writable)
        else:
            self._unwatch(s.fd)
        if s.backlogged:
            for c in self.output.clients:
                if c.stdin and c not in self.paused:
                    self.paused.append(c)
                    self._watch_client(c)

    def _on_stdin_writable(self, fd: int, events: int) -> None:
        s = self.stdin
        self._stdin_do(s.drain)
        if not s.backlogged and self.paused:
            paused, self.paused = self.paused, []
            for c in paused:
                self._watch_client(c)

    def _close_stdin(self) -> None:
        if self.stdin is not None and self.stdin.fd >= 0:
            self._stdin_do(self.stdin.close)

    # --- the control socket -----------------------------------------------------------

    def _on_accept(self, fd: int, events: int) -> None:
        try:
            conn, _ = self.listener._accept()
        except OSError:
            return
        os.set_blocking(conn, False)
        self.requests[conn] = b""
        self._watch(conn, _IN, self._on_request)

    def _on_request(self, fd: int, events: int) -> None:
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        buf = self.requests[fd] + data
        line, nl, rest = buf.partition(b"\n")
        if not data or (not nl and len(buf) > files.MAX_LINE):
            del self.requests[fd]
            self._unwatch(fd)
            os.close(fd)
            return
        if not nl:
            self.requests[fd] = buf
            return
        del self.requests[fd]
        self._unwatch(fd)
        try:
            req = fastjson.loads(line)
            if not isinstance(req, dict):
                raise ValueError("not an object")
        except ValueError:
            send_reply(fd, {"error": "bad request", "kind": "InvalidArgument"})
            os.close(fd)
            return
        self.handle(fd, req, rest)

    def handle(self, conn: int, req: dict, rest: bytes = b"") -> None:
        """One request line from a control connection."""
        op = req.get("op")
        if op == "attach":
            c = Attach(conn, bool(req.get("stdin")), bool(req.get("stdout")),
                       bool(req.get("stderr")))
            if not send_reply(conn, {"ok": True}):
                os.close(conn)
                return
            self.output.clients.append(c)
            if rest and c.stdin and self.stdin is not None:
                self._feed_stdin(rest)  # stdin sent right behind the request
            self._watch_client(c)
            return
        if op == "wait":
            self.waiters.append(conn)
            return
        try:
            reply = self._control(op, req)
        except Exception as e:
            reply = error_reply(e)
        send_reply(conn, reply)
        os.close(conn)

    def _control(self, op, req: dict) -> dict:
        from dockyard.errors import Conflict, InvalidArgument

        if op in ("kill", "pause", "resume") and self.status is not None:
            raise Conflict(f"container {self.req['container_id']} is not running")
        if op == "kill":
            sig = req.get("signal", 15)
            if not isinstance(sig, int) or not 0 < sig < 65:
                raise InvalidArgument(f"invalid signal {sig!r}")
            self.rt.kill(sig, bool(req.get("all")))
        elif op == "pause":
            self.rt.pause()
        elif op == "resume":
            self.rt.resume()
        elif op == "resize":
            if self.master >= 0:
                from dockyard.runtime import console

                console.set_size(self.master, int(req["height"]), int(req["width"]))
        elif op == "close_stdin":
            self._close_stdin()
        elif op == "start":
            return self._start_held()
        elif op == "state":
            return {"pid": self.init_pid, "running": self.status is None}
        else:
            raise InvalidArgument(f"unknown shim operation {op!r}")
        return {"ok": True}


    def _start_held(self) -> dict:
        """Run the runtime's ``start`` for a held container, in a child (its pages
        are not the shim's); blocks the loop for the few ms it takes."""
        from dockyard.errors import Conflict

        if not self.held:
            raise Conflict(f"container {self.req['container_id']} is already started")
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(r)
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                from dockyard.shim.worker import start_held

                write_line(w, start_held(self.req))
            finally:
                os._exit(0)
        os.close(w)
        data = b""
        try:
            while chunk := os.read(r, 4096):
                data += chunk
        finally:
            os.close(r)
        self._reap_children()
        self.held = False
        try:
            reply = fastjson.loads(data)
        except ValueError:
            reply = {"error": "the start process died", "kind": "SystemError_"}
        if "error" in reply and not self.error:
            self.error = reply["error"]
        return reply
