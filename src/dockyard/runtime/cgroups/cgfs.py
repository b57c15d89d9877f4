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


def make_dirs(leaf: str, on_created=None) -> list[str]:
    """mkdir ``leaf`` and its missing parents; return the dirs made, top first.

    Retries when a parent vanishes under us (another container's ``destroy``
    removing a shared, empty parent at that moment). ``on_created(dir)`` runs
    right after each mkdir (v1 cpuset dirs must be filled before their children).
    Only ever creates below an existing cgroup directory (one with cgroup.procs): a
    wrong mount point must not make directories elsewhere.
    """
    # Fast path (every container but the first under a parent): the parent is a
    # cgroup (it has cgroup.procs), so one mkdir does it.
    if os.path.exists(os.path.join(os.path.dirname(leaf), "cgroup.procs")):
        try:
            os.mkdir(leaf, 0o755)
        except FileExistsError:
            return []
        except FileNotFoundError:
            pass  # the parent just went away: the careful walk below
        except OSError as err:
            raise SystemError_(f"creating cgroup {leaf}: {err.strerror}") from err
        else:
            if on_created is not None:
                on_created(leaf)
            return [leaf]
    made: list[str] = []
    for _attempt in range(5):
        missing = []
        d = leaf
        while not os.path.isdir(d):
            missing.append(d)
            parent = os.path.dirname(d)
            if parent == d:
                break
            d = parent
        if missing and not os.path.exists(os.path.join(d, "cgroup.procs")):
            raise SystemError_(f"creating cgroup {leaf}: {d} is not a cgroup directory")
        try:
            for level in reversed(missing):
                try:
                    os.mkdir(level, 0o755)
                except FileExistsError:
                    continue
                made.append(level)
                if on_created is not None:
                    on_created(level)
            return made
        except FileNotFoundError:
            continue
        except OSError as err:
            raise SystemError_(f"creating cgroup {leaf}: {err.strerror}") from err
    raise SystemError_(f"creating cgroup {leaf}: its parent keeps disappearing")


def remove_empty(dirs) -> None:
    """rmdir each of ``dirs`` that is (still) empty, deepest first; others stay."""
    for d in sorted(set(dirs), key=len, reverse=True):
        try:
            os.rmdir(d)
        except OSError:
            continue  # in use by another cgroup (EBUSY/ENOTEMPTY) or already gone
