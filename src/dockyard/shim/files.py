"""The shim's files in the bundle, and questions the daemon asks about them.

``<bundle>/shim.sock`` (control socket), ``shim.pid`` (the shim), ``init.pid`` (the
container's init, host pid), ``exit.json`` (the ExitStatus, written atomically once
the container is gone and its output flushed). Unix socket paths are limited to
108 bytes, and a bundle under a deep data directory can be longer: sockets are
bound and reached through ``/proc/self/fd/<dirfd>/<name>``.
"""

from __future__ import annotations

import os

SHIM_SOCK = "shim.sock"
SHIM_PID = "shim.pid"
INIT_PID = "init.pid"
EXIT_JSON = "exit.json"
PROCESS_NAME = "dockyard-shim"
MAX_LINE = 1 << 20


def write_atomic(path: str, data: bytes, fsync: bool = True) -> None:
    """temp + (fsync) + rename: a reader sees the old file or the whole new one."""
    tmp = f"{path}.tmp{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)


class ShortPath:
    """A short alias for a file in ``directory``, valid while the object is open."""

    def __init__(self, directory: str) -> None:
        self.fd = os.open(directory, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)

    def __call__(self, name: str) -> str:
        return f"/proc/self/fd/{self.fd}/{name}"

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> ShortPath:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_exit(bundle) -> ExitStatus | None:  # noqa: F821 - lazy import below
    """The recorded exit status, or None when the container has not exited (yet)."""
    import json

    from dockyard.shim.types import ExitStatus

    try:
        with open(os.path.join(os.fspath(bundle), EXIT_JSON), "rb") as f:
            return ExitStatus.from_json(json.loads(f.read()))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        return None


def read_pid(path: str) -> int:
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def is_shim(pid: int) -> bool:
    """The process ``pid`` exists, is not a zombie, and is a dockyard shim."""
    if pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    name = stat[stat.index(b"(") + 1:stat.rindex(b")")]
    state = stat[stat.rindex(b")") + 2:stat.rindex(b")") + 3]
    return name == PROCESS_NAME.encode() and state not in (b"Z", b"X")


def shim_alive(bundle) -> bool:
    return is_shim(read_pid(os.path.join(os.fspath(bundle), SHIM_PID)))


def now_rfc3339() -> str:
    import time

    from dockyard.logdriver.entry import format_time

    return format_time(time.time_ns())
