"""The one-way messages the fork stages exchange, over a pair of pipes.

Each message is one JSON line ``{"m": <Msg value>, ...payload}``. Pipes, not a
socket pair: :mod:`socket` costs ~4 ms to import, and only the terminal case
needs to pass a descriptor (the parent takes the pty master straight from the
init with ``pidfd_getfd``, see ``stage_parent``).

A stage that fails sends ``ERROR`` with its message; every ``wait_for`` turns a
received ``ERROR`` (or the other end closing) into an exception, so a failure in
a child surfaces as the parent's error with the child's words.
"""

from __future__ import annotations

import os

from dockyard.errors import SystemError_
from dockyard.runtime import fastjson


class Msg:
    """The closed set of message names (plain strings: :mod:`enum` costs ~2 ms)."""

    # intermediate -> parent
    SETUP_REQUEST = "setup-request"     # user ns made (maybe): apply cgroup, write maps
    INIT_PID = "init-pid"               # payload: pid (host view)
    # parent -> intermediate
    SETUP_DONE = "setup-done"
    # init -> parent
    PRE_ROOTFS = "pre-rootfs"           # namespaces ready: run createRuntime hooks
    READY = "ready"                     # rootfs done, waiting on exec.fifo; payload: pty fd
    # parent -> init
    CONTINUE = "continue"               # payload: state for in-container hooks
    # any -> any
    ERROR = "error"                     # payload: message


class StageError(SystemError_):
    """A child stage reported a failure (or died without a word)."""


class Channel:
    """One end of a duplex pipe pair; ``pair()`` makes both ends."""

    __slots__ = ("_buf", "_stash", "rfd", "wfd")

    def __init__(self, rfd: int, wfd: int) -> None:
        self.rfd = rfd
        self.wfd = wfd
        self._buf = b""
        # Two stages (intermediate and init) share the write end of the pipe to the
        # parent, so their messages may arrive out of order: keep early ones here.
        self._stash: list[dict] = []

    @staticmethod
    def pair() -> tuple[Channel, Channel]:
        a_r, b_w = os.pipe2(os.O_CLOEXEC)
        b_r, a_w = os.pipe2(os.O_CLOEXEC)
        return Channel(a_r, a_w), Channel(b_r, b_w)

    def send(self, msg: str, **payload) -> None:
        payload["m"] = msg
        data = fastjson.dumps(payload).encode() + b"\n"
        try:
            os.write(self.wfd, data)
        except BrokenPipeError:
            raise StageError(f"the other stage went away before {msg}") from None

    def error(self, message: str) -> None:
        """Report a failure; if nobody listens any more, say it on stderr."""
        try:
            if self.wfd < 0:
                raise StageError("closed")
            self.send(Msg.ERROR, error=message)
        except (StageError, OSError):
            try:
                os.write(2, f"dockyard-runtime: {message}\n".encode())
            except OSError:
                pass

    def recv(self) -> dict | None:
        while b"\n" not in self._buf:
            try:
                chunk = os.read(self.rfd, 65536)
            except InterruptedError:
                continue
            if not chunk:
                return None
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return fastjson.loads(line)

    def wait_for(self, msg: str, stage: str) -> dict:
        for i, early in enumerate(self._stash):
            if early["m"] == msg:
                return self._stash.pop(i)
        while True:
            got = self.recv()
            if got is None:
                raise StageError(f"{stage} exited before {msg}")
            if got["m"] == Msg.ERROR:
                raise StageError(got.get("error") or f"{stage} failed")
            if got["m"] == msg:
                return got
            self._stash.append(got)

    def close(self) -> None:
        for fd in (self.rfd, self.wfd):
            try:
                os.close(fd)
            except OSError:
                pass
        self.rfd = self.wfd = -1
