"""The shim process: parent of the container's init until it exits.

Forked (twice) from the zygote, so everything it runs is imported already and
it never imports after the fork. Its life:

1. ``detach``: own session, child subreaper, named ``dockyard-shim``, every
   inherited descriptor closed, stdio on /dev/null, cwd ``/``;
2. ``Monitor.start``: log writer, stdio pipes (or a pty), ``shim.sock`` bound, then
   a short-lived child (``dockyard-start``) creates and starts the container with
   the pipes as its fds 0-2 and reports the init's pid (and the pty master, passed
   over a socketpair). The heavy create path thus runs in pages the shim never
   owns: the idle shim stays small (PSS). The init is reparented to the shim
   (subreaper) when the child exits;
3. ``Monitor.loop``: one selector over the output fds, stdin, the control socket,
   its connections and a SIGCHLD wake-up pipe. No asyncio, no threads;
4. when the init is reaped: exit code (128+N when killed by N), OOM-kill flag from
   the memory cgroup, the runtime container deleted (leftover processes killed),
   output drained to EOF (2 s at most), the log closed, ``exit.json`` written
   atomically, waiters answered, attach clients closed, ``shim.sock`` removed, exit.
"""

from __future__ import annotations

import _signal as signal
import gc
import json
import os
import selectors
import socket
import time

from dockyard.shim import files
from dockyard.shim.output import Attach, Output, Stdin

DRAIN_S = 2.0
_READ = selectors.EVENT_READ
_WRITE = selectors.EVENT_WRITE


def error_reply(e: BaseException) -> dict:
    from dockyard.errors import DockyardError

    kind = type(e).__name__ if isinstance(e, DockyardError) else "SystemError_"
    if kind not in ("NotFound", "Conflict", "InvalidArgument", "UnsafeContent",
                    "Unavailable", "SystemError_", "NotModified", "Forbidden"):
        kind = "InvalidArgument" if kind == "ProcessMissing" else "SystemError_"
    msg = getattr(e, "message", None) or str(e) or type(e).__name__
    if isinstance(e, OSError) and not isinstance(e, DockyardError) and e.strerror:
        msg = f"{e.strerror}: {e.filename}" if e.filename else e.strerror
    return {"error": msg, "kind": kind}


def write_line(fd: int, obj: dict) -> None:
    data = (json.dumps(obj) + "\n").encode()
    while data:
        data = data[os.write(fd, data):]


def detach(keep: tuple[int, ...], name: str) -> None:
    """Leave the zygote's world: session, name, descriptors, stdio, cwd."""
    from dockyard.runtime import syscalls

    os.setsid()
    syscalls.prctl(syscalls.PR_SET_CHILD_SUBREAPER, 1)
    syscalls.set_process_name(name)
    close_all_but(keep)
    null = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):
        if null != target:
            os.dup2(null, target)
    if null > 2:
        os.close(null)
    os.chdir("/")


def close_all_but(keep: tuple[int, ...]) -> None:
    lo = 3
    for fd in sorted(set(k for k in keep if k >= 3)):
        os.closerange(lo, fd)
        lo = fd + 1
    os.closerange(lo, 1 << 20)


def become_shim(req, result_fd: int) -> None:
    """Body of the shim process; never returns (``os._exit``)."""
    code = 1
    answered = False
    try:
        detach((result_fd,), files.PROCESS_NAME)
        m = Monitor(req)
        failure = m.start()
        if failure is not None and m.init_pid == 0:
            write_line(result_fd, failure)
            answered = True
            return
        if failure is None:
            write_line(result_fd, {"pid": m.init_pid})
            os.close(result_fd)
            answered = True
        else:  # the container started but its program could not run: answer at the end
            m.answer_fd, m.answer = result_fd, failure
            answered = True
        gc.freeze()  # what exists now is never scanned again
        m.loop()
        code = 0
    except BaseException as e:
        if not answered:
            try:
                write_line(result_fd, error_reply(e))
            except OSError:
                pass
    finally:
        os._exit(code)


def _noop(signum, frame) -> None:
    pass


class Monitor:
    def __init__(self, req) -> None:
        from dockyard.shim import runtimes

        self.req = req
        self.bundle = req.bundle
        self.rt = runtimes.for_request(req)
        self.sel = selectors.DefaultSelector()
        self.init_pid = 0
        self.status: int | None = None
        self.finished_at = ""
        self.error = ""
        self.oom = False
        self.answer_fd = -1
        self.answer: dict | None = None
        self.waiters: list[socket.socket] = []
        self.outputs: dict[int, str] = {}
        self.master = -1
        self.stdin: Stdin | None = None
        self.output: Output | None = None
        self.listener: socket.socket | None = None
        self.drain_deadline = 0.0
        self.done = False
        self.paused_clients: list[Attach] = []

    # --- start ----------------------------------------------------------------------

    def path(self, name: str) -> str:
        return os.path.join(self.bundle, name)

    def start(self) -> dict | None:
        """Launch the container; None on success, else the zygote's error answer
        (with ``init_pid`` set when the container ran and exited: answer later)."""
        from dockyard.logdriver.writers import open_writer

        req = self.req
        for name in (files.EXIT_JSON, files.SHIM_SOCK, files.INIT_PID):
            try:
                os.unlink(self.path(name))
            except FileNotFoundError:
                pass
        try:
            writer = open_writer(req.log.driver, req.log.path, req.log.max_size,
                                 req.log.max_file)
        except Exception as e:
            return error_reply(e)
        self.output = Output(writer, req.tty)
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, _noop)
        self.sel.register(wake_r, _READ, self._on_sigchld)
        self.listener = self._listen()

        theirs: tuple[int, int, int] = (-1, -1, -1)
        ours_out: list[tuple[int, str]] = []
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        if req.tty:
            theirs = (null, null, null)
        else:
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            ours_out = [(out_r, "stdout"), (err_r, "stderr")]
            in_r = null
            if req.open_stdin:
                in_r, in_w = os.pipe()
                os.set_blocking(in_w, False)
                self.stdin = Stdin(in_w, tty=False)
            theirs = (in_r, out_w, err_w)
        result_r, result_w = os.pipe()
        fd_ours, fd_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = os.fork()
        if pid == 0:
            _launch_child(self.rt, req.tty, theirs, result_w, fd_theirs.fileno())
        for fd in set(theirs) | {result_w, null}:
            os.close(fd)
        fd_theirs.close()
        try:
            answer = _read_answer(result_r)
            master = -1
            if answer.get("tty"):
                _, fds, _, _ = socket.recv_fds(fd_ours, 16, 1)
                master = fds[0] if fds else -1
        finally:
            os.close(result_r)
            fd_ours.close()
            _reap(pid)
        if "pid" not in answer:
            for fd, _ in ours_out:
                os.close(fd)
            if self.stdin is not None:
                os.close(self.stdin.fd)
            self._unlink(files.SHIM_SOCK)
            return {"error": answer.get("error", "the container did not start"),
                    "kind": answer.get("kind", "SystemError_")}
        self.init_pid = answer["pid"]
        if master >= 0:
            os.set_blocking(master, False)
            self.master = master
            ours_out = [(master, "stdout")]
            if req.open_stdin:
                self.stdin = Stdin(master, tty=True)
        for fd, stream in ours_out:
            os.set_blocking(fd, False)
            self.outputs[fd] = stream
            self.sel.register(fd, _READ, self._on_output)
        files.write_atomic(self.path(files.INIT_PID), f"{self.init_pid}\n".encode(), False)
        files.write_atomic(self.path(files.SHIM_PID), f"{os.getpid()}\n".encode(), False)
        self._reap_children()  # it may have exited already
        if answer.get("warning"):
            return {"error": answer["warning"], "kind": "InvalidArgument"}
        return None

    def _listen(self) -> socket.socket:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        with files.ShortPath(self.bundle) as short:
            s.bind(short(files.SHIM_SOCK))
        os.chmod(self.path(files.SHIM_SOCK), 0o600)
        s.listen(64)
        s.setblocking(False)
        self.sel.register(s, _READ, self._on_accept)
        return s

    def _unlink(self, name: str) -> None:
        try:
            os.unlink(self.path(name))
        except FileNotFoundError:
            pass

    # --- the loop -------------------------------------------------------------------

    def loop(self) -> None:
        while not self.done:
            timeout = None
            if self.status is not None:
                timeout = max(0.0, self.drain_deadline - time.monotonic())
                if not self.outputs or timeout == 0.0:
                    self.finish()
                    return
            for key, events in self.sel.select(timeout):
                key.data(key, events)

    def _on_sigchld(self, key, events) -> None:
        try:
            while os.read(key.fd, 512):
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
        self.output.writer.close()
        error = self.error
        if self.answer is not None and not error:
            error = self.answer["error"]
        status = ExitStatus(self.exit_code(), self.finished_at, self.oom, error)
        doc = json.dumps(status.to_json()).encode()
        files.write_atomic(self.path(files.EXIT_JSON), doc + b"\n")
        for w in self.waiters:
            _send_line(w, status.to_json())
            w.close()
        for c in self.output.clients:
            c.flush_blocking(1.0)
            c.sock.close()
        self._unlink(files.SHIM_SOCK)
        if self.answer_fd >= 0:
            try:
                write_line(self.answer_fd, self.answer)
            except OSError:
                pass
        self.done = True

    # --- container output and input ----------------------------------------------------

    def _on_output(self, key, events) -> None:
        fd = key.fd
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
        self.sel.unregister(fd)
        self.output.end(stream)
        if self.stdin is not None and self.stdin.fd == fd:
            self._unwatch_stdin()
            self.stdin.fd = -1
        os.close(fd)

    def _watch_client(self, c: Attach) -> None:
        events = (_READ if c.reading and c not in self.paused_clients else 0) | \
            (_WRITE if c.out else 0)
        try:
            if events:
                self.sel.modify(c.sock, events, self._on_client)
            else:
                self.sel.unregister(c.sock)
        except KeyError:
            if events:
                self.sel.register(c.sock, events, self._on_client)

    def _on_client(self, key, events) -> None:
        c = self._client_for(key.fileobj)
        if c is None:
            return
        if events & _WRITE and not c.flush():
            self._drop(c)
            return
        if events & _READ:
            try:
                data = c.sock.recv(65536)
            except BlockingIOError:
                data = None
            except OSError:
                data = b""
            if data == b"":
                c.reading = False
                if c.stdin and self.req.stdin_once:
                    self._close_stdin()
            elif data and c.stdin and self.stdin is not None:
                self.stdin.feed(data)
                self._watch_stdin()
        self._watch_client(c)

    def _client_for(self, sock) -> Attach | None:
        for c in self.output.clients:
            if c.sock is sock:
                return c
        return None

    def _drop(self, c: Attach) -> None:
        if c in self.output.clients:
            self.output.clients.remove(c)
        if c in self.paused_clients:
            self.paused_clients.remove(c)
        try:
            self.sel.unregister(c.sock)
        except KeyError:
            pass
        c.sock.close()

    def _watch_stdin(self) -> None:
        s = self.stdin
        if s is None:
            return
        if s.pending and s.fd >= 0 and s.fd not in self.outputs:
            try:
                self.sel.register(s.fd, _WRITE, self._on_stdin_writable)
            except KeyError:
                pass
        elif s.pending and s.fd in self.outputs:  # tty: the master is also the output
            self.sel.modify(s.fd, _READ | _WRITE, self._on_master)
        if s.backlogged:
            for c in self.output.clients:
                if c.stdin and c not in self.paused_clients:
                    self.paused_clients.append(c)
                    self._watch_client(c)

    def _unwatch_stdin(self) -> None:
        s = self.stdin
        if s is None or s.fd < 0:
            return
        if s.fd in self.outputs:
            self.sel.modify(s.fd, _READ, self._on_output)
        else:
            try:
                self.sel.unregister(s.fd)
            except KeyError:
                pass

    def _on_master(self, key, events) -> None:
        if events & _WRITE:
            self._on_stdin_writable(key, events)
        if events & _READ and key.fd in self.outputs:
            self._on_output(key, events)

    def _on_stdin_writable(self, key, events) -> None:
        s = self.stdin
        fd = s.fd
        s.drain()
        if not s.pending or s.fd < 0:
            if fd >= 0 and fd in self.outputs:
                self.sel.modify(fd, _READ, self._on_output)
            elif fd >= 0:
                try:
                    self.sel.unregister(fd)
                except (KeyError, ValueError):
                    pass
        if not s.backlogged and self.paused_clients:
            paused, self.paused_clients = self.paused_clients, []
            for c in paused:
                self._watch_client(c)

    def _close_stdin(self) -> None:
        s = self.stdin
        if s is None or s.fd < 0:
            return
        fd = s.fd
        s.close()
        if s.fd < 0 and fd not in self.outputs:
            try:
                self.sel.unregister(fd)
            except (KeyError, ValueError):
                pass
        else:
            self._watch_stdin()

    # --- the control socket -----------------------------------------------------------

    def _on_accept(self, key, events) -> None:
        try:
            conn, _ = self.listener.accept()
        except BlockingIOError:
            return
        conn.setblocking(False)
        self.sel.register(conn, _READ, _Request(self, conn))

    def handle(self, conn: socket.socket, req: dict) -> None:
        """One request line from a control connection."""
        op = req.get("op")
        if op == "attach":
            self.sel.unregister(conn)
            c = Attach(conn, bool(req.get("stdin")), bool(req.get("stdout")),
                       bool(req.get("stderr")))
            if not _send_line(conn, {"ok": True}):
                conn.close()
                return
            self.output.clients.append(c)
            self._watch_client(c)
            return
        if op == "wait":
            self.sel.unregister(conn)
            self.waiters.append(conn)
            return
        try:
            reply = self._control(op, req)
        except Exception as e:
            reply = error_reply(e)
        self.sel.unregister(conn)
        _send_line(conn, reply)
        conn.close()

    def _control(self, op, req: dict) -> dict:
        from dockyard.errors import Conflict, InvalidArgument

        if op in ("kill", "pause", "resume") and self.status is not None:
            raise Conflict(f"container {self.req.container_id} is not running")
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
        elif op == "state":
            return {"pid": self.init_pid, "running": self.status is None}
        else:
            raise InvalidArgument(f"unknown shim operation {op!r}")
        return {"ok": True}


class _Request:
    """Reads a control connection's request line, then hands it to the monitor."""

    __slots__ = ("buf", "conn", "monitor")

    def __init__(self, monitor: Monitor, conn: socket.socket) -> None:
        self.monitor = monitor
        self.conn = conn
        self.buf = b""

    def __call__(self, key, events) -> None:
        try:
            data = self.conn.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.monitor.sel.unregister(self.conn)
            self.conn.close()
            return
        self.buf += data
        line, nl, rest = self.buf.partition(b"\n")
        if not nl:
            if len(self.buf) > files.MAX_LINE:
                self.monitor.sel.unregister(self.conn)
                self.conn.close()
            return
        try:
            req = json.loads(line)
            if not isinstance(req, dict):
                raise ValueError("not an object")
        except ValueError:
            self.monitor.sel.unregister(self.conn)
            _send_line(self.conn, {"error": "bad request", "kind": "InvalidArgument"})
            self.conn.close()
            return
        if rest and req.get("op") == "attach" and self.monitor.stdin is not None \
                and req.get("stdin"):
            self.monitor.stdin.feed(rest)  # stdin sent right behind the request
            self.monitor._watch_stdin()
        self.monitor.handle(self.conn, req)


def _send_line(sock: socket.socket, obj: dict) -> bool:
    try:
        sock.settimeout(2.0)
        sock.sendall((json.dumps(obj) + "\n").encode())
        sock.setblocking(False)
        return True
    except OSError:
        return False


def _read_answer(fd: int) -> dict:
    data = b""
    while chunk := os.read(fd, 4096):
        data += chunk
    try:
        return json.loads(data.split(b"\n", 1)[0])
    except ValueError:
        return {"error": "the container's start process died without an answer",
                "kind": "SystemError_"}


def _reap(pid: int) -> None:
    while True:
        try:
            os.waitpid(pid, 0)
            return
        except ChildProcessError:
            return
        except InterruptedError:
            continue


def _launch_child(rt, tty: bool, stdio: tuple[int, int, int], result_w: int,
                  fd_sock: int) -> None:
    """The ``dockyard-start`` child: create + start, report, exit. Never returns."""
    code = 1
    try:
        from dockyard.runtime import syscalls

        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        syscalls.set_process_name("dockyard-start")
        for target, fd in enumerate(stdio):
            os.dup2(fd, target)
        close_all_but((result_w, fd_sock))
        warnings: list[str] = []
        launched = rt.launch(tty, lambda msg: warnings.append(msg))
        answer = {"pid": launched.pid, "tty": launched.pty_master >= 0}
        if warnings:
            answer["warning"] = warnings[-1].removeprefix("warning: ").split(": ", 1)[-1]
        if launched.pty_master >= 0:
            s = socket.socket(fileno=fd_sock)
            socket.send_fds(s, [b"m"], [launched.pty_master])
        write_line(result_w, answer)
        code = 0
    except BaseException as e:
        try:
            write_line(result_w, error_reply(e))
        except OSError:
            pass
    finally:
        os._exit(code)
