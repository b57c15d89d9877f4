"""The zygote: a pre-warmed Python that forks shims on request.

``python -m dockyard.shim.zygote --socket <exec_root>/zygote.sock``, started by the
daemon (subprocess, never a fork of the daemon) with a pipe on its stdin. It
imports the shim and the runtime's create/start/kill/pause/delete path, runs the
shim's start-up calls until CPython has specialised them, freezes the collector
(``gc.freeze``), prints ``ready`` and serves one JSON line per connection::

    {"op": "start", "request": <ShimRequest JSON>}  ->  {"pid": N}
                                                     |  {"error": "...", "kind": "InvalidArgument"}

The zygote itself only accepts and forks: the child forks the shim and exits
(double fork: the shim belongs to no one but init and survives the zygote and the
daemon); the shim reads the request (through its worker, see ``monitor``) and
answers on the same connection once the container runs. Every page the zygote
writes after a fork is copied into the shims forked before it, so its loop does
next to nothing. It exits when its stdin reaches EOF (the daemon closed it or died).
"""

from __future__ import annotations

import gc
import os
import socket
import sys

from dockyard.shim import files


def preload() -> None:
    """Import everything a shim and its start child will run (no imports after fork)."""
    import fcntl  # noqa: F401
    import json  # noqa: F401 - the worker reads the request with it
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
    import dockyard.runtime.fastjson
    import dockyard.runtime.process.stage_intermediate
    import dockyard.runtime.process.stage_parent
    import dockyard.runtime.rootfs
    import dockyard.runtime.security
    import dockyard.shim.launch
    import dockyard.shim.monitor
    import dockyard.shim.output
    import dockyard.shim.runtimes
    import dockyard.shim.types
    import dockyard.shim.wire
    import dockyard.shim.worker
    from dockyard.runtime import security

    security.preload()
    # What create (in the worker) and delete (in the shim, at exit) load lazily:
    # the cgroup implementations (a manager computed, never applied) and the
    # init's stage; the default spec's cgroup mount.
    import dockyard.runtime.cgroups.cgfs
    import dockyard.runtime.cgroups.paths
    import dockyard.runtime.cgroups.resources
    import dockyard.runtime.cgroups.v1
    import dockyard.runtime.cgroups.v2
    import dockyard.runtime.process.stage_init
    import dockyard.runtime.rootfs.cgroupfs
    from dockyard.runtime import cgroups

    try:
        cgroups.load_manager(cgroups.create_manager(None, "dockyard-zygote").to_state())
    except Exception:  # an unusual host: the worker will say what is wrong
        pass
    dockyard.shim.launch.warm()


SPARES = 1  # shims made ahead of requests (each with its worker): one start's fork cost


def serve(listener: socket.socket) -> None:
    """Accept and fork; nothing else. Every page this loop writes after a fork is
    copied into the shims forked before (copy-on-write), so it does as little as
    possible: the request is read, parsed and answered in the child.

    Spare shims wait on the same socket; whoever accepts first serves the request
    (a spare that took one writes a byte on the notify pipe: we make a new one).
    """
    import select

    lfd = listener.fileno()
    notify_r, notify_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    for _ in range(int(os.environ.get("DOCKYARD_ZYGOTE_SPARES", SPARES))):
        _fork_spare(lfd, notify_w)
    poller = select.poll()
    poller.register(lfd, select.POLLIN)
    poller.register(0, select.POLLIN)
    poller.register(notify_r, select.POLLIN)
    while True:
        for fd, _ in poller.poll():
            if fd == 0:
                try:
                    if not os.read(0, 4096):
                        return  # the daemon closed our stdin or died
                except BlockingIOError:
                    pass
                except OSError:
                    return
                continue
            if fd == notify_r:
                try:
                    taken = len(os.read(notify_r, 64))
                except BlockingIOError:
                    taken = 0
                for _ in range(taken):
                    _fork_spare(lfd, notify_w)
                continue
            try:
                conn, _ = listener._accept()
            except (BlockingIOError, InterruptedError):
                continue
            pid = os.fork()
            if pid == 0:
                _child(conn, lfd)  # never returns
            os.close(conn)
        _reap()


def _fork_spare(lfd: int, notify_w: int) -> None:
    if os.fork() == 0:
        try:
            if os.fork() == 0:
                from dockyard.shim.launch import become_shim

                control = os.dup(0)  # the shim's stdin becomes /dev/null
                become_shim(-1, spare=(lfd, control, notify_w))  # never returns
        finally:
            os._exit(0)


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _child(conn: int, listener: int) -> None:
    """The middle child: fork the shim and leave at once (it does nothing else, so
    the shim starts with as few copied pages as possible)."""
    try:
        if os.fork() == 0:
            from dockyard.shim.launch import become_shim

            os.close(listener)
            become_shim(conn)  # never returns
    finally:
        os._exit(0)


def listen(path: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    with files.ShortPath(os.path.dirname(path) or ".") as short:
        s.bind(short(os.path.basename(path)))
    os.chmod(path, 0o600)
    s.listen(128)
    s.setblocking(False)  # spares accept on it too: a poll's connection may be gone
    return s


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] != "--socket":
        print("usage: python -m dockyard.shim.zygote --socket PATH", file=sys.stderr)
        return 2
    preload()
    from dockyard.runtime import syscalls

    syscalls.set_process_name("dockyard-zygote")
    path = os.path.abspath(args[1])
    listener = listen(path)
    os.set_blocking(0, False)
    gc.collect()
    gc.freeze()
    os.write(1, b"ready\n")
    try:
        serve(listener)
    finally:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        listener.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
