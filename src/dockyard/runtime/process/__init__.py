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
    writer after a quiet spell waits for an RCU grace period: 6-18 ms on this
    machine, a third of a whole ``run``. Writers that come during that wait, or
    shortly after it, share it and take microseconds. So at the start of a
    command that will move a process, this thread moves *this* process into the
    cgroup it is already in (``0`` = the writer; same cgroup = no change at all),
    and the wait overlaps the command's imports and checks instead of delaying
    the container. Best effort: any failure (no permission, unusual mounts) is
    ignored, the real move then simply pays the wait itself.
    :func:`wait_cgroup_warmup` (called before every fork) joins the thread.
    """
    global _warming
    if _warming is not None:
        return
    import _thread

    done = _thread.allocate_lock()
    done.acquire()
    _warming = done
    _thread.start_new_thread(_warm, (done,))


def _warm(done) -> None:
    try:
        for path in _own_procs_files():
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
            except OSError:
                continue
            try:
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
    """Wait for :func:`warm_cgroup_migration`'s thread, so no thread runs at a fork."""
    global _warming
    if _warming is not None:
        _warming.acquire()
        _warming = None
