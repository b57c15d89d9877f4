"""``run``: create + start, then (unless ``--detach``) wait for the container.

In the foreground this process is a child subreaper, so the init becomes our
child when the intermediate stage exits: we forward the signals we receive to
it, relay its terminal when it has one and no console socket was given, reap
it, delete the container and exit with its exit code (128+N if killed by N).
"""

from __future__ import annotations

import _signal as signal  # the C module: `signal` imports enum (~2 ms)
import os

from dockyard.runtime import state as st
from dockyard.runtime.container import create as createmod
from dockyard.runtime.container import delete as deletemod
from dockyard.runtime.container import start as startmod

FORWARDED = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2,
             signal.SIGTERM, signal.SIGALRM, signal.SIGCONT, signal.SIGPWR, signal.SIGURG,
             signal.SIGWINCH, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU)


def run(store: st.StateStore, container_id: str, opts: createmod.CreateOptions, *,
        detach: bool, warn=None) -> int:
    opts.relay_tty = not detach and not opts.console_socket
    if not detach:
        forward = Forwarder()
        forward.install()
    c, master = createmod.create(store, container_id, opts)
    try:
        startmod.start(store, container_id, warn=warn)
    except BaseException:
        if master >= 0:
            os.close(master)
        try:
            deletemod.delete(store, container_id, force=True, warn=warn)
        except Exception:
            pass
        raise
    if detach:
        return 0
    forward.target = c.pid
    forward.master = master
    status = wait_foreground(c.pid, master, forward)
    deletemod.delete(store, container_id, force=True, warn=warn)
    return exit_code(status)


class Forwarder:
    """Pass the signals we get on to the container's process (or resize its pty)."""

    def __init__(self) -> None:
        self.target = 0
        self.master = -1
        self.pending: list[int] = []

    def install(self) -> None:
        for sig in FORWARDED:
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame) -> None:
        if signum == signal.SIGWINCH and self.master >= 0:
            _copy_winsize(self.master)
            return
        if not self.target:
            self.pending.append(signum)
            return
        try:
            os.kill(self.target, signum)
        except ProcessLookupError:
            pass

    def flush(self) -> None:
        for signum in self.pending:
            self._handle(signum, None)
        self.pending.clear()


def _copy_winsize(master: int) -> None:
    import fcntl
    import termios

    try:
        size = fcntl.ioctl(0, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(master, termios.TIOCSWINSZ, size)
    except OSError:
        pass


def wait_foreground(pid: int, master: int, forward: Forwarder) -> int:
    import gc

    # cli.main turned the collector off for start-up; this wait may last for days.
    # What exists now lives as long as we do: freeze it, so it is never scanned.
    gc.freeze()
    gc.enable()
    forward.flush()
    result: list[int] = []

    def exited() -> bool:
        if result:
            return True
        try:
            got, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            result.append(0)
            return True
        if got:
            result.append(status)
        return bool(result)

    if master >= 0:
        from dockyard.runtime import console

        try:
            console.relay(master, exited)
        finally:
            os.close(master)
    while not result:
        try:
            _, status = os.waitpid(pid, 0)
            result.append(status)
        except ChildProcessError:
            result.append(0)
    return result[0]


def exit_code(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1
