"""The shim's short-lived worker (``dockyard-start``): everything a start needs
that the idle shim must not pay for.

Copy-on-write makes every page a process writes its own, and setting a
container up (reading the request, binding the socket, opening pipes, the
runtime's whole create/start path) writes to many pages it will never touch
again. So the shim forks this worker first thing; the worker does all of it,
with the container's stdio on its own fds 0-2 (the init inherits them), then
hands the shim what it needs over a SOCK_SEQPACKET pair: a small JSON message
and the descriptors (control socket, output read ends, stdin write end or the
pty master). It exits; the init, a descendant of the shim, is reparented to it
(the shim is a child subreaper).
"""

from __future__ import annotations

import _signal as signal
import json
import os
import socket

from dockyard.shim import files

HANDOFF_MAX = 1 << 16


def read_request(conn: int):
    """The start request on ``conn``; anything else is answered here (-> None)."""
    from dockyard.errors import DockyardError
    from dockyard.shim.types import ShimRequest
    from dockyard.shim.wire import write_line

    buf = b""
    while b"\n" not in buf and len(buf) < files.MAX_LINE:
        chunk = os.read(conn, 65536)
        if not chunk:
            return None
        buf += chunk
    try:
        req = json.loads(buf.split(b"\n", 1)[0])
        if not isinstance(req, dict):
            raise ValueError("not an object")
    except ValueError:
        write_line(conn, {"error": "bad request", "kind": "InvalidArgument"})
        return None
    op = req.get("op")
    if op != "start":
        write_line(conn, {"error": f"unknown zygote operation {op!r}",
                          "kind": "InvalidArgument"})
        return None
    try:
        return ShimRequest.from_json(req.get("request"))
    except DockyardError as e:
        write_line(conn, {"error": e.message, "kind": type(e).__name__})
        return None


def run(conn: int, handoff) -> None:
    """The worker's body; never returns. ``conn`` -1: wait for it on ``handoff``."""
    from dockyard.runtime import syscalls
    from dockyard.shim.wire import error_reply

    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        syscalls.set_process_name("dockyard-start")
        if conn < 0:  # a spare's worker: the connection comes from the shim
            from dockyard.shim.wire import FDS_SPACE, fds_from

            _, anc, _, _ = handoff.recvmsg(16, FDS_SPACE)
            fds = fds_from(anc)
            if not fds:  # the spare is leaving
                code = 0
                return
            conn = fds[0]
        req = read_request(conn)
        if req is not None:
            name_parent(f"{files.PROCESS_NAME} {req.container_id[:12]}")
        if req is None:
            handoff.sendmsg([b'{"exit": true}'])
            code = 0
            return
        try:
            msg, fds = prepare_and_launch(req)
        except BaseException as e:
            msg, fds = error_reply(e), []
        anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                b"".join(fd.to_bytes(4, "little") for fd in fds))] if fds else []
        handoff.sendmsg([encode_handoff(msg)], anc)
        code = 0
    finally:
        os._exit(code)


def prepare_and_launch(req) -> tuple[dict, list[int]]:
    """Make the shim's files and fds, create and start the container."""
    from dockyard.errors import Conflict, InvalidArgument
    from dockyard.logdriver.writers import open_writer
    from dockyard.shim.runtimes import for_request

    bundle = req.bundle
    if not os.path.isdir(bundle):
        raise InvalidArgument(f"bundle {bundle!r} is not a directory")
    if files.shim_alive(bundle):
        raise Conflict(f"container {req.container_id} already has a shim running")
    for name in (files.EXIT_JSON, files.SHIM_SOCK, files.INIT_PID):
        try:
            os.unlink(os.path.join(bundle, name))
        except FileNotFoundError:
            pass
    open_writer(req.log.driver, req.log.path, req.log.max_size, req.log.max_file).close()
    rt = for_request(req)
    listener = _listen(bundle)
    ours: list[int] = []
    warnings = _Warnings()
    try:
        if req.tty:
            launched = rt.launch(True, warnings, start=not req.hold)
            ours = [launched.pty_master]
        else:
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            ours = [out_r, err_r]
            if req.open_stdin:
                in_r, in_w = os.pipe()
                ours.append(in_w)
                os.dup2(in_r, 0)
                os.close(in_r)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            os.close(out_w)
            os.close(err_w)
            launched = rt.launch(False, warnings, start=not req.hold)
            null = os.open(os.devnull, os.O_RDWR)
            for target in (0, 1, 2):  # drop our copies of the container's ends
                os.dup2(null, target)
            os.close(null)
    except BaseException:
        for fd in ours:
            os.close(fd)
        listener.close()
        os.unlink(os.path.join(bundle, files.SHIM_SOCK))
        raise
    files.write_atomic(os.path.join(bundle, files.INIT_PID), f"{launched.pid}\n".encode(),
                       fsync=False)
    files.write_atomic(os.path.join(bundle, files.SHIM_PID), f"{os.getppid()}\n".encode(),
                       fsync=False)
    msg = {"request": req.to_json(), "pid": launched.pid}
    if warnings.messages:
        msg["warning"] = warnings.messages[-1]
    return msg, [listener.detach(), *ours]


def encode_handoff(msg: dict) -> bytes:
    """The handoff as the shim reads it without parsing JSON (it parses the request
    only when it needs it): ``pid tty open_stdin stdin_once hold\n<bundle>\n<JSON>``;
    an error or the "exit" answer is plain JSON (starts with ``{``)."""
    if "pid" not in msg:
        return json.dumps(msg).encode()
    req = msg["request"]
    head = " ".join(str(int(v)) for v in (msg["pid"], req["tty"], req["open_stdin"],
                                          req["stdin_once"], req["hold"]))
    body = {"request": req, "warning": msg.get("warning", "")}
    return f"{head}\n{req['bundle']}\n".encode() + json.dumps(body).encode()


def start_held(req: dict) -> dict:
    """``start`` of a held container, in a child of the shim: the reply for the op."""
    from dockyard.shim.runtimes import for_request
    from dockyard.shim.wire import error_reply

    warnings = _Warnings()
    try:
        for_request(req).start(warnings)
    except BaseException as e:
        return error_reply(e)
    if warnings.messages:
        return {"error": warnings.messages[-1], "kind": "InvalidArgument"}
    return {"ok": True}


def name_parent(title: str) -> None:
    """Show ``title`` as the shim's command line (``ps -f``), in place of the
    zygote's: written into the shim's argument area through /proc/<pid>/mem (what
    setproctitle does from inside; no PR_SET_MM without CAP_SYS_RESOURCE). The shim
    itself set its name (``comm``). Best effort."""
    pid = os.getppid()
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        start, end = int(fields[45]), int(fields[46])  # arg_start, arg_end (48, 49)
        data = title.encode()[:max(0, end - start - 1)]
        fd = os.open(f"/proc/{pid}/mem", os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.pwrite(fd, data.ljust(end - start, b"\0"), start)
        finally:
            os.close(fd)
    except (OSError, ValueError, IndexError):
        pass


class _Warnings:
    """Collects ``start``'s warnings (the program could not run) as plain messages.
    (Not a list subclass: ``start`` tests ``warn or default``.)"""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def __call__(self, text: str) -> None:
        text = text.removeprefix("warning: ")
        if text.startswith("container ") and ": " in text:
            text = text.split(": ", 1)[1]
        self.messages.append(text)


def _listen(bundle: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    with files.ShortPath(bundle) as short:
        s.bind(short(files.SHIM_SOCK))
    os.chmod(os.path.join(bundle, files.SHIM_SOCK), 0o600)
    s.listen(64)
    return s
