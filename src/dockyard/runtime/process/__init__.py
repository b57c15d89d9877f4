"""The stages that turn a spec into a running container (see docs/runtime-internals.md).

This package's own code is one start-up-time measure, :func:`warm_cgroup_migration`,
kept here (a module every create/run/exec loads anyway) so the CLI can start it
before importing anything else.
"""

from __future__ import annotations

import os

_warming = None  # a held _thread lock while the warm-up write is under way


def warm_cgroup_migration() -> None:
    """Start paying, in a background thread, the one-off cost of the next cgroup move.

    Moving a process between cgroups (writing ``cgroup.procs``, as ``apply`` does
    for every new container) takes the kernel's global cgroup_threadgroup_rwsem
    for writing; unless the hierarchy was mounted with ``favordynmods``, the first
    writer after a quiet spell waits for an RCU grace period: 6-22 ms on this
    machine, a third of a whole ``run``. Writers that come during that wait, or
    within about one grace period after the last writer left, take microseconds.
    So at the start of a command that will move a process, this thread moves
    *this* process into the cgroup it is already in (``0`` = the writer; same
    cgroup = no change at all), then repeats that cheap no-op every 2 ms, which
    keeps the fast path open until :func:`wait_cgroup_warmup` stops it right
    before the fork; the wait thus overlaps the command's imports and checks
    instead of delaying the container. Best effort: any failure (no permission,
    unusual mounts) ends the thread quietly, the real move then pays the wait.
    """
    global _warming, _stop
    if _warming is not None:
        return
    import _thread

    done = _thread.allocate_lock()
    done.acquire()
    _warming, _stop = done, False
    _thread.start_new_thread(_warm, (done,))


_stop = False
_KEEP_OPEN_S = 0.002  # well inside one grace period
_KEEP_OPEN_MAX = 1000  # give up after ~2 s (a command that never forks)


def _warm(done) -> None:
    from time import sleep

    try:
        for path in _own_procs_files():
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                os.write(fd, b"0")  # the slow one
                for _ in range(_KEEP_OPEN_MAX):
                    if _stop:
                        break
                    sleep(_KEEP_OPEN_S)
                    os.write(fd, b"0")
            except OSError:
                continue
            finally:
                os.close(fd)
            return
    except Exception:  # never let the warm-up disturb the command
        pass
    finally:
        done.release()


def _own_procs_files() -> list[str]:
    """``cgroup.procs`` of this process's own cgroup, in the usual mount places."""
    with open("/proc/self/cgroup") as f:
        lines = f.read().splitlines()
    out = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        path = path.rstrip("/")
        if not controllers:  # cgroup2: the unified tree of a hybrid host, or all of it
            out += [f"/sys/fs/cgroup/unified{path}/cgroup.procs",
                    f"/sys/fs/cgroup{path}/cgroup.procs"]
        else:
            name = controllers.removeprefix("name=")
            out.append(f"/sys/fs/cgroup/{name}{path}/cgroup.procs")
    return out


def wait_cgroup_warmup() -> None:
    """Stop and join :func:`warm_cgroup_migration`'s thread: no thread runs at a fork,
    and the move that follows the fork still finds the fast path open."""
    global _warming, _stop
    if _warming is not None:
        _stop = True
        _warming.acquire()
        _warming = None
