"""Start ``dockyardd`` on first use when nothing answers on the default socket.

Only for the default host (``-H``/``$DOCKYARD_HOST`` name a daemon someone else
runs: not reaching it is an error). The daemon runs detached in its own session,
its output appended to ``/var/log/dockyard/dockyardd.log`` (or
``<data-root>/dockyardd.log`` when /var/log is not writable). Concurrent CLIs
serialize on a lock file next to the socket, so one daemon starts. We wait until
``/_ping`` answers; if the daemon exits first or takes too long, the error says so
and shows the end of its log.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from dockyard.cli.client import Client

START_TIMEOUT = 30.0
LOG_DIR = "/var/log/dockyard"


def autostart_hook(client: Client, *, explicit: bool, data_root: str | None = None
                   ) -> Callable[[], None] | None:
    """What ``client`` calls when nothing answers; None when it must not start one."""
    from dockyard.cli.client import DEFAULT_HOST

    if explicit or client.host != DEFAULT_HOST or os.environ.get("DOCKYARD_NO_AUTOSTART"):
        return None
    def hook() -> None:
        start_daemon(client, data_root)
    return hook


def _daemon_argv(host: str, data_root: str | None) -> list[str]:
    here = os.path.dirname(sys.executable)
    exe = os.path.join(here, "dockyardd")
    argv = [exe] if os.access(exe, os.X_OK) else [sys.executable, "-m",
                                                   "dockyard.daemon.main"]
    argv += ["-H", host]
    if data_root and os.path.normpath(data_root) != "/var/lib/dockyard":
        argv += ["--data-root", data_root]   # the root the CLI's image verbs use too
    return argv


def _log_path(data_root: str | None) -> str:
    for d in (LOG_DIR, data_root or "/var/lib/dockyard"):
        try:
            os.makedirs(d, mode=0o755, exist_ok=True)
            path = os.path.join(d, "dockyardd.log")
            with open(path, "ab"):
                pass
            return path
        except OSError:
            continue
    return os.devnull


def start_daemon(client: Client, data_root: str | None = None,
                 timeout: float = START_TIMEOUT, extra_args: tuple[str, ...] = (),
                 log_path: str | None = None) -> Any:
    """Start dockyardd for ``client``'s unix socket; return once it answers.

    Returns the ``Popen`` of the daemon (None when another CLI had started one)."""
    import fcntl
    import subprocess
    import time

    from dockyard.cli.client import DaemonUnreachable
    from dockyard.errors import Unavailable

    if os.geteuid() != 0:
        raise Unavailable(f"Cannot connect to the dockyard daemon at {client.host}. Is the "
                          "dockyard daemon running? (starting one needs root)")
    sock_dir = os.path.dirname(client.address)
    os.makedirs(sock_dir, mode=0o755, exist_ok=True)
    lock_fd = os.open(os.path.join(sock_dir, "autostart.lock"),
                      os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        if _answers(client):
            return None   # another CLI started it while we waited for the lock
        log = log_path or _log_path(data_root)
        argv = [*_daemon_argv(client.host, data_root), *extra_args]
        with open(log, "ab") as out:
            out.write(f"--- started by the dockyard CLI (pid {os.getpid()}): "
                      f"{' '.join(argv)}\n".encode())
            out.flush()
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=out, start_new_session=True, close_fds=True,
                                    cwd="/")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _answers(client):
                return proc
            code = proc.poll()
            if code is not None:
                raise Unavailable(f"could not start dockyardd (exit status {code}); the "
                                  f"end of {log}:\n{_tail(log)}")
            time.sleep(0.02)
        raise Unavailable(f"dockyardd (pid {proc.pid}) did not answer on {client.host} "
                          f"within {timeout:.0f}s; see {log}:\n{_tail(log)}")
    except DaemonUnreachable:   # pragma: no cover - _answers swallows it
        raise
    finally:
        os.close(lock_fd)


def _answers(client: Client) -> bool:
    from dockyard.cli.client import DaemonUnreachable
    from dockyard.errors import DockyardError

    try:
        resp = client._send("GET", "/_ping", None, {}, versioned=False, fresh=True)
        resp.read()
        return resp.status == 200
    except (DaemonUnreachable, DockyardError, OSError):
        return False


def _tail(path: str, n: int = 15) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 8192))
            lines = f.read().decode("utf-8", "replace").splitlines()
        return "\n".join(lines[-n:])
    except OSError:
        return "(no log)"


__all__ = ["autostart_hook", "start_daemon"]
