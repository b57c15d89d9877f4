"""Small helpers every shim process speaks with: JSON lines, error answers, and
descriptors received with SCM_RIGHTS. C-level calls only (see ``monitor``)."""

from __future__ import annotations

import _socket
import os

from dockyard.runtime import fastjson

FDS_SPACE = _socket.CMSG_SPACE(16 * 4)


def error_reply(e: BaseException) -> dict:
    from dockyard.errors import DockyardError

    kind = type(e).__name__ if isinstance(e, DockyardError) else "SystemError_"
    if kind not in ("NotFound", "Conflict", "InvalidArgument", "UnsafeContent",
                    "Unavailable", "SystemError_", "NotModified", "Forbidden"):
        kind = "InvalidArgument" if kind == "ProcessMissing" else "SystemError_"
    msg = getattr(e, "message", None) or str(e) or type(e).__name__
    return {"error": msg, "kind": kind}


def write_line(fd: int, obj: dict) -> None:
    """Write one JSON line (blocking fd)."""
    data = (fastjson.dumps(obj) + "\n").encode()
    while data:
        data = data[os.write(fd, data):]


def send_reply(fd: int, obj: dict) -> bool:
    """One JSON line to a non-blocking connection; replies are small enough for the
    socket buffer, a peer that cannot take one is given up."""
    try:
        data = (fastjson.dumps(obj) + "\n").encode()
        return os.write(fd, data) == len(data)
    except OSError:
        return False


def fds_from(ancillary: list) -> list[int]:
    """Descriptors received with SCM_RIGHTS, made close-on-exec (they arrive
    inheritable: nothing we spawn may keep them)."""
    out = []
    for level, kind, data in ancillary:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            n = len(data) - len(data) % 4
            out += [int.from_bytes(data[i:i + 4], "little", signed=True)
                    for i in range(0, n, 4)]
    for fd in out:
        os.set_inheritable(fd, False)
    return out


def reap(pid: int) -> None:
    while True:
        try:
            os.waitpid(pid, 0)
            return
        except ChildProcessError:
            return
        except InterruptedError:
            continue
