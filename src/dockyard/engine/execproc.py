"""One exec'd process: ``dockyard-runtime exec`` as an asyncio child of the daemon.

``<runtime> --root <root> --log <dir>/log.json --log-format json exec --process
<dir>/process.json --pid-file <dir>/pid [--tty --console-socket <dir>/c.sock] <id>``

Without a terminal the runtime hands its own stdio (our pipes) to the process,
so stdout and stderr stay apart for Docker's multiplexed frames. With one, the
runtime opens the pty inside the container and sends us its master over the
console socket (SCM_RIGHTS); we relay it. The runtime waits for the process and
exits with its status (128+N for a signal), so its exit code is the exec's,
except when the runtime itself failed: then its JSON log has an ``error``
record and the exec's code is Docker's 126.

The private directory (``<exec_root>/execs/x*``, or a temp dir when that path
is too long for a unix socket) is removed when the process is done, on every
path; a new daemon clears what a killed one left.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Awaitable, Callable

from dockyard.errors import SystemError_

Sink = Callable[[int, bytes], Awaitable[None]]   # (stream 1|2, data)
RUNTIME_FAILED = 126
DRAIN_GRACE = 2.0   # after the process exits, how long output may still come
READ_SIZE = 32768


def runtime_argv() -> list[str]:
    """How the daemon calls dockyard-runtime: the installed script, else the module."""
    found = shutil.which("dockyard-runtime")
    return [found] if found else [sys.executable, "-m", "dockyard.runtime.cli"]


class ExecProcess:
    """A started exec; ``pump`` its output, ``wait`` for its exit code."""

    def __init__(self, proc: asyncio.subprocess.Process, workdir: str, tty: bool,
                 master: int = -1) -> None:
        self.proc = proc
        self.workdir = workdir
        self.tty = tty
        self.master = master
        self.exit_code: int | None = None
        self._closed = False
        self._pid = 0

    # --- starting ------------------------------------------------------------
    @classmethod
    async def spawn(cls, runtime: list[str], runtime_root: str, container_id: str,
                    process: dict, *, stdin: bool, output: bool = True,
                    work_root: str | None = None) -> ExecProcess:
        """Start the runtime; for a terminal, wait until it sent the pty master.

        Raises SystemError_ with the runtime's message when it fails before the
        process runs (a bad cwd, no such binary...) only for terminals: without one
        the failure shows as the exit code and the stderr text, like docker's."""
        workdir = _workdir(work_root)
        try:
            tty = bool(process.get("terminal"))
            pfile = os.path.join(workdir, "process.json")
            fd = os.open(pfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump(process, f)
            argv = [*runtime, "--root", runtime_root,
                    "--log", os.path.join(workdir, "log.json"), "--log-format", "json",
                    "exec", "--process", pfile, "--pid-file", os.path.join(workdir, "pid")]
            listener = None
            if tty:
                sock_path = os.path.join(workdir, "c.sock")
                listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                listener.bind(sock_path)
                listener.listen(1)
                listener.setblocking(False)
                argv += ["--tty", "--console-socket", sock_path]
            argv.append(container_id)
            pipe = asyncio.subprocess.PIPE
            devnull = asyncio.subprocess.DEVNULL
            try:
                proc = await asyncio.create_subprocess_exec(
                    *argv,
                    stdin=pipe if (stdin and not tty) else devnull,
                    stdout=devnull if (tty or not output) else pipe,
                    stderr=pipe if tty else (pipe if output else devnull),
                    start_new_session=True)
            except BaseException:
                if listener is not None:
                    listener.close()
                raise
            if not tty:
                return cls(proc, workdir, False)
            assert listener is not None
            try:
                master = await _receive_master(listener, proc)
            finally:
                listener.close()
            if master < 0:
                err = b""
                if proc.stderr is not None:
                    err = await proc.stderr.read()
                code = await proc.wait()
                self = cls(proc, workdir, True)
                self.exit_code = self._map_exit(code)
                self._cleanup()
                raise SystemError_(err.decode(errors="replace").strip()
                                   or f"exec failed (runtime exit status {code})")
            os.set_blocking(master, False)
            return cls(proc, workdir, True, master)
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise

    # --- facts ---------------------------------------------------------------
    @property
    def pid(self) -> int:
        """The exec'd process's host pid (0 until the runtime wrote it)."""
        if not self._pid and not self._closed:
            with contextlib.suppress(OSError, ValueError), \
                    open(os.path.join(self.workdir, "pid")) as f:
                self._pid = int(f.read().strip() or 0)
        return self._pid

    def runtime_error(self) -> str:
        """The runtime's own error message, if it failed (its JSON log)."""
        try:
            with open(os.path.join(self.workdir, "log.json")) as f:
                lines = f.read().splitlines()
        except OSError:
            return ""
        for line in reversed(lines):
            with contextlib.suppress(ValueError):
                rec = json.loads(line)
                if rec.get("level") == "error":
                    return str(rec.get("msg", ""))
        return ""

    def _map_exit(self, code: int) -> int:
        if code < 0:        # the runtime itself was killed by a signal
            return 128 - code
        if code == 1 and self.runtime_error():
            return RUNTIME_FAILED
        return code

    # --- i/o -------------------------------------------------------------------
    async def write_stdin(self, data: bytes) -> None:
        if self.tty:
            await _write_fd(self.master, data)
        elif self.proc.stdin is not None:
            self.proc.stdin.write(data)
            await self.proc.stdin.drain()

    def close_stdin(self) -> None:
        """End of the caller's input: the process reads EOF (not for terminals,
        where EOF is a key the user types)."""
        if not self.tty and self.proc.stdin is not None:
            with contextlib.suppress(Exception):
                self.proc.stdin.close()

    def resize(self, height: int, width: int) -> None:
        if self.master < 0:
            return
        import fcntl
        import struct
        import termios

        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))

    async def pump(self, sink: Sink | None) -> None:
        """Copy output to ``sink`` until it ends (both pipes closed / the pty hung
        up), or DRAIN_GRACE after the process exited (a background child may hold
        the output open forever)."""
        readers: list[Awaitable[None]] = []
        if self.tty:
            readers.append(self._pump_pty(sink))
        else:
            if self.proc.stdout is not None:
                readers.append(_pump_stream(self.proc.stdout, 1, sink))
            if self.proc.stderr is not None:
                readers.append(_pump_stream(self.proc.stderr, 2, sink))
        if not readers:
            return
        copy = asyncio.ensure_future(asyncio.gather(*readers))
        waiter = asyncio.ensure_future(self.proc.wait())
        try:
            done, _ = await asyncio.wait({copy, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if copy not in done:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(asyncio.shield(copy), DRAIN_GRACE)
            if copy.done():
                copy.result()
        finally:
            for task in (copy, waiter):
                if not task.done():
                    task.cancel()
            await asyncio.gather(copy, waiter, return_exceptions=True)

    async def _pump_pty(self, sink: Sink | None) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                data = os.read(self.master, READ_SIZE)
            except BlockingIOError:
                await _fd_ready(loop, self.master, write=False)
                continue
            except OSError:   # EIO: every slave side closed
                return
            if not data:
                return
            if sink is not None:
                await sink(1, data)

    async def wait(self) -> int:
        """The exec's exit code (Docker's meaning); frees the private directory."""
        code = await self.proc.wait()
        if self.exit_code is None:
            self.exit_code = self._map_exit(code)
        return self.exit_code

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the exec'd process. Not the runtime when the pid is known: it is
        the process's reaper (killed, its child would become a zombie of the
        container's init, which may never reap)."""
        target = self.pid or self.proc.pid
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(target, sig)

    def _cleanup(self) -> None:
        if self._closed:
            return
        self.pid  # noqa: B018 - read it before the directory goes
        self._closed = True
        if self.master >= 0:
            with contextlib.suppress(OSError):
                os.close(self.master)
            self.master = -1
        shutil.rmtree(self.workdir, ignore_errors=True)

    def close(self) -> None:
        """Release the pty and the private directory (the process may still run)."""
        self._cleanup()


def _workdir(work_root: str | None) -> str:
    """A private directory for one exec: under the daemon's ``work_root`` (its
    exec root), else the temp dir when that path is too long for a unix socket."""
    if work_root and len(work_root) < 80:
        os.makedirs(work_root, mode=0o700, exist_ok=True)
        return tempfile.mkdtemp(prefix="x", dir=work_root)
    return tempfile.mkdtemp(prefix="dyexec-")


def clear_work_root(work_root: str) -> None:
    """Daemon start: what a previous daemon left (its execs did not outlive it in
    the daemon's books; a still-running process has read its files already)."""
    shutil.rmtree(work_root, ignore_errors=True)


async def _pump_stream(reader: asyncio.StreamReader, stream: int, sink: Sink | None) -> None:
    while True:
        data = await reader.read(READ_SIZE)
        if not data:
            return
        if sink is not None:
            await sink(stream, data)


async def _write_fd(fd: int, data: bytes) -> None:
    loop = asyncio.get_running_loop()
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
            view = view[n:]
        except BlockingIOError:
            await _fd_ready(loop, fd, write=True)


async def _fd_ready(loop: asyncio.AbstractEventLoop, fd: int, *, write: bool) -> None:
    ready = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    (loop.add_writer if write else loop.add_reader)(fd, wake)
    try:
        await ready
    finally:
        (loop.remove_writer if write else loop.remove_reader)(fd)


async def _receive_master(listener: socket.socket, proc: asyncio.subprocess.Process) -> int:
    """The pty master the runtime sends, or -1 when it exited without sending one."""
    loop = asyncio.get_running_loop()
    accept = asyncio.ensure_future(loop.sock_accept(listener))
    exited = asyncio.ensure_future(proc.wait())
    try:
        done, _ = await asyncio.wait({accept, exited}, return_when=asyncio.FIRST_COMPLETED)
        if accept not in done:
            return -1
        conn, _ = accept.result()
    finally:
        for task in (accept, exited):
            if not task.done():
                task.cancel()
        await asyncio.gather(accept, exited, return_exceptions=True)
    with conn:
        conn.setblocking(True)
        conn.settimeout(10)
        _msg, fds, _flags, _addr = await loop.run_in_executor(
            None, socket.recv_fds, conn, 4096, 4)
    for extra in fds[1:]:
        os.close(extra)
    return fds[0] if fds else -1


__all__ = ["DRAIN_GRACE", "RUNTIME_FAILED", "ExecProcess", "Sink", "clear_work_root",
           "runtime_argv"]
