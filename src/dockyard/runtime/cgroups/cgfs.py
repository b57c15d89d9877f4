"""Reading and writing cgroupfs files with errors that name the file and value.

Every controller module writes through :func:`write`, so a failure reads like
``cpu.cfs_quota_us = 5000 in /sys/fs/cgroup/cpu/x: [Errno 22] Invalid argument``
and a missing file for a value that was asked for is a clear ``Unavailable``.
"""

from __future__ import annotations

import errno
import os

from dockyard.errors import InvalidArgument, SystemError_, Unavailable

__all__ = ["exists", "read", "read_int", "read_kv", "write"]


def exists(directory: str, name: str) -> bool:
    return os.path.exists(os.path.join(directory, name))


def write(directory: str, name: str, value: str | int, *, what: str = "") -> None:
    """Write ``value`` to ``directory/name``; the file must already exist."""
    path = os.path.join(directory, name)
    text = str(value)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
    except FileNotFoundError:
        raise Unavailable(f"{what or name}: this kernel has no {path} "
                          f"(controller or feature missing); cannot set {text!r}") from None
    except OSError as err:
        raise SystemError_(f"open {path}: {err.strerror}") from err
    try:
        os.write(fd, text.encode())
    except OSError as err:
        msg = f"{what or name}: writing {text!r} to {path}: [Errno {err.errno}] {err.strerror}"
        if err.errno in (errno.EINVAL, errno.ERANGE, errno.EBUSY, errno.ENOSPC):
            raise InvalidArgument(msg) from err
        raise SystemError_(msg) from err
    finally:
        os.close(fd)


def read(directory: str, name: str) -> str:
    with open(os.path.join(directory, name)) as f:
        return f.read().strip()


def read_int(directory: str, name: str, default: int | None = None) -> int | None:
    """An integer file; ``max`` reads as -1; absent or unreadable gives ``default``."""
    try:
        text = read(directory, name)
    except OSError:
        return default
    if text == "max":
        return -1
    try:
        return int(text.split()[0])
    except (ValueError, IndexError):
        return default


def read_kv(directory: str, name: str) -> dict[str, int]:
    """A flat ``key value`` file such as memory.stat or cpu.stat; {} when absent."""
    out: dict[str, int] = {}
    try:
        text = read(directory, name)
    except OSError:
        return out
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                continue
    return out
