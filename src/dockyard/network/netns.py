"""A container's network namespace: made, entered and removed without forking.

The daemon is a multi-threaded asyncio process, where ``fork`` (what ``unshare(1)``
or pyroute2's netns sockets do) would copy every other thread's held locks into a
child that runs Python. Namespaces are per *thread* in Linux, so each operation here
runs in a short-lived thread of its own instead:

- ``create(path)``: the thread unshares a new netns, brings its loopback up and
  bind-mounts ``/proc/thread-self/ns/net`` onto ``path`` (an empty file), which keeps
  the namespace alive after the thread ends; the thread then simply exits, so the
  daemon's other threads never see the namespace;
- ``run_in(path, fn)``: the thread ``setns`` into the namespace and calls ``fn``; any
  socket ``fn`` opens (a netlink socket for pyroute2) belongs to that namespace for
  its whole life, whichever thread uses it later;
- ``remove(path)``: lazy unmount and unlink; a container still inside keeps the
  namespace alive until it exits.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from dockyard.errors import NotFound, SystemError_

__all__ = ["create", "is_netns", "loopback_up", "remove", "run_in"]

T = TypeVar("T")
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1


def _in_thread(fn: Callable[[], T]) -> T:
    """Run ``fn`` in a fresh thread that dies afterwards (namespace changes die with it)."""
    box: dict[str, object] = {}

    def main() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:  # handed to the caller
            box["error"] = e

    t = threading.Thread(target=main, name="dockyard-netns", daemon=True)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def loopback_up() -> None:
    """Bring ``lo`` up in the calling thread's namespace (an ioctl: no netlink needed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sh14x", b"lo", 0)
        flags = struct.unpack("16sh14x", fcntl.ioctl(s.fileno(), _SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s.fileno(), _SIOCSIFFLAGS, struct.pack("16sh14x", b"lo", flags | _IFF_UP))


def is_netns(path: str | Path) -> bool:
    """True when ``path`` is a bind-mounted namespace file (not the empty placeholder):
    the mounted nsfs inode lives on another device than its directory."""
    try:
        st = os.stat(path)
        parent = os.stat(os.path.dirname(os.path.abspath(path)))
    except OSError:
        return False
    return st.st_dev != parent.st_dev


def create(path: str | Path) -> str:
    """A new netns with ``lo`` up, pinned at ``path``; on failure nothing is left."""
    from dockyard.runtime import syscalls

    target = str(path)
    os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
    try:
        os.close(os.open(target, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444))
    except FileExistsError:
        if is_netns(target):
            raise SystemError_(f"network namespace {target} already exists") from None
        # a placeholder left by a crash between create and mount: reuse it

    def make() -> None:
        syscalls.unshare(syscalls.CLONE_NEWNET)
        loopback_up()
        syscalls.mount("/proc/thread-self/ns/net", target, None, syscalls.MS_BIND)

    try:
        _in_thread(make)
    except OSError as e:
        _unlink(target)
        raise SystemError_(f"create network namespace {target}: {e}") from e
    except BaseException:
        _unlink(target)
        raise
    return target


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def remove(path: str | Path) -> bool:
    """Unmount and delete ``path``; False when there was nothing. Idempotent."""
    from dockyard.runtime import syscalls

    target = str(path)
    found = os.path.lexists(target)
    for _ in range(8):  # stacked mounts (a crash mid-restore) come off one by one
        try:
            syscalls.umount2(target, syscalls.MNT_DETACH)
        except OSError as e:
            if e.errno in (errno.EINVAL, errno.ENOENT):
                break
            raise SystemError_(f"unmount network namespace {target}: {e}") from e
    try:
        os.unlink(target)
    except FileNotFoundError:
        pass
    except OSError as e:
        raise SystemError_(f"remove network namespace file {target}: {e}") from e
    return found


def run_in(path: str | Path, fn: Callable[[], T]) -> T:
    """``fn()`` in a thread that has joined the netns at ``path``."""
    from dockyard.runtime import syscalls

    target = str(path)
    try:
        fd = os.open(target, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NotFound(f"network namespace {target} does not exist") from None

    def enter() -> T:
        try:
            syscalls.setns(fd, syscalls.CLONE_NEWNET)
        except OSError as e:
            raise SystemError_(f"enter network namespace {target}: {e}") from e
        return fn()

    try:
        return _in_thread(enter)
    finally:
        os.close(fd)
