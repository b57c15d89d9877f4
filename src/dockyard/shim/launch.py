"""The shim process's start: leave the zygote, get a container, become its monitor.

``become_shim`` is what the zygote's grandchild runs (see ``monitor`` for why the
shim is so careful with memory): ``detach`` (own session, child subreaper, named
``dockyard-shim``, inherited descriptors closed, stdio on /dev/null, cwd ``/``);
fork the ``worker``, which reads the request, makes the files and descriptors and
creates and starts the container, and hands back ``pid tty ...`` and the
descriptors; answer the requester ``{"pid": N}`` (or its error); run
``Monitor.loop``. A spare shim does the same ahead of a request and accepts the
connection itself. ``warm`` runs these paths once in the zygote, so the shims
re-run code CPython has already specialised (fewer pages of their own).
"""

from __future__ import annotations

import _signal as signal
import _socket
import gc
import os
import select

from dockyard.runtime import fastjson
from dockyard.shim.monitor import Monitor, noop
from dockyard.shim.wire import FDS_SPACE, error_reply, fds_from, reap, write_line


def detach(keep: tuple[int, ...], name: bytes, rehearse: bool = False) -> None:
    """Leave the zygote's world: session, subreaper, name, descriptors, stdio, cwd.

    ``rehearse`` runs the same steps harmlessly in the zygote (``warm``): no
    subreaper (the zygote would adopt the shims), no descriptor closed, stdio kept.
    """
    from dockyard.runtime.syscalls import (
        PR_GET_DUMPABLE,
        PR_SET_CHILD_SUBREAPER,
        prctl_plain,
    )

    try:
        os.setsid()
    except OSError:
        if not rehearse:  # the zygote may lead its session already
            raise
    option, value = (PR_GET_DUMPABLE, 0) if rehearse else (PR_SET_CHILD_SUBREAPER, 1)
    if prctl_plain(option, value, 0, 0, 0) < 0:
        raise OSError("prctl(PR_SET_CHILD_SUBREAPER) failed")
    fd = os.open("/proc/self/comm", os.O_WRONLY)
    os.write(fd, name)
    os.close(fd)
    if not rehearse:
        close_all_but(keep)
    null = os.open(os.devnull, os.O_RDWR)
    targets = (os.dup(null), os.dup(null), os.dup(null)) if rehearse else (0, 1, 2)
    for target in targets:
        if null != target:
            os.dup2(null, target)
    if null > 2:
        os.close(null)
    if rehearse:
        for target in targets:
            os.close(target)
    os.chdir("/")


def close_all_but(keep: tuple[int, ...]) -> None:
    lo = 3
    for fd in sorted(k for k in keep if k >= 3):
        os.closerange(lo, fd)
        lo = fd + 1
    os.closerange(lo, 1 << 20)


def become_shim(conn: int, spare: tuple[int, int, int] | None = None) -> None:
    """Body of the shim process (forked by the zygote with the requester's
    connection); never returns (``os._exit``).

    With ``spare`` = (zygote's listener, control pipe, notify pipe) the shim is made
    before any request: session, signals and the worker are ready when it accepts a
    connection on the zygote's socket itself; it then tells the zygote (a byte on
    ``notify``: make another spare). It leaves quietly when the control pipe ends.
    """
    code = 1
    answered = False
    try:
        detach((conn,) if spare is None else spare,
               b"dockyard-shim" if spare is None else b"dockyard-spare")
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, noop)
        ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:
            from dockyard.shim import worker

            ours.close()
            worker.run(conn, theirs)  # never returns
        theirs.close()
        if spare is not None:
            conn = _take_connection(*spare)
            if conn < 0:  # the zygote is going away
                ours.close()
                reap(pid)
                code = 0
                return
            ours.sendmsg([b"c"], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS,
                                   conn.to_bytes(4, "little"))])
        try:
            data, anc, _, _ = ours.recvmsg(1 << 16, FDS_SPACE)
        finally:
            ours.close()
            reap(pid)
        fds = fds_from(anc)
        if not data or data[:1] == b"{":  # not started: an error, or nothing to do
            msg = fastjson.loads(data) if data else {
                "error": "the shim's start worker died", "kind": "SystemError_"}
            if "error" in msg:
                write_line(conn, msg)
                answered = True
            code = 0
            return
        m = Monitor(data, fds, wake_r)
        _crash_note.bundle = m.bundle
        if m.warned and m.req["warning"]:  # started, but its program could not run
            m.answer_fd = conn
            m.answer = {"error": m.req["warning"], "kind": "InvalidArgument"}
        else:
            write_line(conn, {"pid": m.init_pid})
            os.close(conn)
        answered = True
        gc.freeze()  # what exists now is never scanned again
        m.loop()
        code = 0
    except BaseException as e:
        if not answered and conn >= 0:
            try:
                write_line(conn, error_reply(e))
            except OSError:
                pass
        elif answered:
            _crash_note(e)
    finally:
        os._exit(code)


def _take_connection(listener: int, control: int, notify: int) -> int:
    """A spare's wait: the next connection on the zygote's socket, or -1 when the
    control pipe ends (the daemon closed it: the zygote is leaving)."""
    sock = _socket.socket(fileno=listener)
    os.set_blocking(listener, False)
    poller = select.poll()
    poller.register(listener, select.POLLIN)
    poller.register(control, select.POLLIN)
    conn = -1
    while conn < 0:
        for fd, _ in poller.poll():
            if fd == control:
                try:
                    if not os.read(control, 4096):
                        return -1
                except BlockingIOError:
                    pass
                except OSError:
                    return -1
                continue
            try:
                conn, _ = sock._accept()  # another may have taken it: poll again
            except (BlockingIOError, InterruptedError):
                continue
            break
    os.set_blocking(conn, True)
    fd = os.open("/proc/self/comm", os.O_WRONLY)
    os.write(fd, b"dockyard-shim")
    os.close(fd)
    try:
        os.write(notify, b"+")
    except OSError:
        pass
    for fd in (notify, control):
        os.close(fd)
    sock.close()  # our copy of the zygote's listener
    return conn


def _crash_note(e: BaseException) -> None:
    """A shim that fails after answering has no one to tell: leave the traceback in
    ``<bundle>/shim.err`` for whoever finds its container without an exit.json."""
    try:
        import traceback

        bundle = getattr(_crash_note, "bundle", "")
        if bundle:
            with open(os.path.join(bundle, "shim.err"), "a") as f:
                f.write("".join(traceback.format_exception(e)))
    except Exception:
        pass


def warm() -> None:
    """Run, in the zygote, the calls every shim makes at start, until CPython has
    specialised their bytecode (3.11 rewrites a function's code in place during its
    first calls): a shim that only re-runs them writes fewer pages of its own."""
    sample = {"request": {"container_id": "x" * 64, "bundle": "/b", "runtime": "dockyard",
                          "runtime_root": "/r", "tty": False, "open_stdin": False,
                          "stdin_once": False,
                          "log": {"driver": "json-file", "path": "/l", "max_size": None,
                                  "max_file": 1}},
              "pid": 1}
    data = fastjson.dumps(sample).encode()
    anc = [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, bytes(16))]
    for _ in range(16):
        fastjson.loads(data)
        fastjson.dumps({"pid": 12345})
        fds_from(anc)
        error_reply(OSError(2, "x"))
    from dockyard.runtime.syscalls import PR_GET_DUMPABLE, prctl_plain

    for _ in range(8):
        detach((), b"dockyard-zygote", rehearse=True)
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        reap(pid)
        prctl_plain(PR_GET_DUMPABLE, 0, 0, 0, 0)
        fd = os.open("/proc/self/comm", os.O_RDONLY)
        os.read(fd, 64)
        os.close(fd)
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        previous = signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, noop)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.set_wakeup_fd(previous)
        os.close(wake_r)
        os.close(wake_w)
        a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
        r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        b.sendmsg([b"x"], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, r.to_bytes(4, "little"))])
        _, anc, _, _ = a.recvmsg(1 << 16, FDS_SPACE)
        for fd in fds_from(anc):
            os.close(fd)
        write_line(w, {"pid": 1})
        os.read(r, 100)
        for fd in (r, w):
            os.close(fd)
        a.close()
        b.close()
    # A Monitor built and torn down on throw-away descriptors, a few times.
    handoff = b"1 0 0 0 0\n/nonexistent\n" + fastjson.dumps(
        {"request": sample["request"], "warning": ""}).encode()
    for _ in range(8):
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK)
        listener = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        m = Monitor(handoff, [listener.detach(), out_r, err_r], wake_r)
        os.write(wake_w, b"\0")
        for fd, events in m.ep.poll(0):
            m.handlers[fd](fd, events)
        m.listener.close()
        m.ep.close()
        for fd in (out_r, out_w, err_r, err_w, wake_r, wake_w):
            os.close(fd)
