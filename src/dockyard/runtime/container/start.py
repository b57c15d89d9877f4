"""``start``: run prestart hooks, release the init through exec.fifo, run poststart.

The exec.fifo protocol (see ``process/stage_init``): opening the read end
unblocks the init's open for writing; it writes ``0``, then either ``execve``
succeeds (the write end closes on exec: EOF) or it writes the error and exits.
Prestart hooks run here, after ``start`` was called and before the program
runs, with status ``created``; poststart hooks run after it with ``running``
(the validation suite's timing; runc runs both inside ``create``). A failing
prestart hook stops the container and deletes it (lifecycle step 9); a failing
poststart hook only warns.
"""

from __future__ import annotations

import os
import select  # at the top: `run` loads it while it waits before the fork anyway
import time

from dockyard.errors import SystemError_
from dockyard.runtime import hooks
from dockyard.runtime import state as st

FIFO_TIMEOUT = 30.0


def start(store: st.StateStore, container_id: str, *, warn=None) -> st.ContainerState:
    lock = store.lock(container_id)
    try:
        c = store.load(container_id)
        st.can_start(c.current_status())
        try:
            hooks.run_phase(c.config, "prestart", c.hook_state(st.CREATED))
        except hooks.HookFailed:
            from dockyard.runtime.container import delete

            delete.destroy(store, c, warn=warn)
            raise
        problem = _release(store.fifo(container_id), c)
        if problem:
            (warn or _stderr)(f"warning: container {container_id}: {problem}")
        c.status = st.RUNNING
        store.save(c)
        try:
            os.unlink(store.fifo(container_id))
        except FileNotFoundError:
            pass
        hooks.run_phase(c.config, "poststart", c.hook_state(st.RUNNING), warn_only=True,
                        warn=warn)
        return c
    finally:
        os.close(lock)


def _stderr(msg: str) -> None:
    import sys

    print(msg, file=sys.stderr)


def _release(fifo_path: str, c: st.ContainerState) -> str | None:
    """Let the init go; None when it exec'd, a message when its program could not run
    (the container still started and is now stopped: the suite's start and misc_props
    cases expect `start` to succeed then). A hard failure raises."""
    try:
        fd = os.open(fifo_path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise SystemError_(f"container {c.id!r} has no exec fifo: it was started "
                           "already") from None
    try:
        data = _read_until_closed(fd, c)
    finally:
        os.close(fd)
    if not data:
        raise SystemError_(f"container {c.id!r} init exited before starting the process")
    if data == b"0":
        return None
    kind, message = data[1:2], data[2:].decode(errors="replace")
    if kind == b"?":
        return message
    raise SystemError_(message or "container init failed")


def _read_until_closed(fd: int, c: st.ContainerState) -> bytes:
    """Everything the init writes to the fifo, until it closes its end.

    poll() wakes on data and on the writer's close (POLLHUP is only reported
    after a writer has been there), so this does not spin; the timeout only
    re-checks that the init is still alive.
    """
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    data = b""
    deadline = time.monotonic() + FIFO_TIMEOUT
    while True:
        poller.poll(50)
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:  # a writer is there, nothing written yet
            chunk = None
        if chunk:
            data += chunk
            continue
        if chunk == b"" and data:  # writer has closed: exec'd or failed
            return data
        # No writer yet (the init has not opened its end), or it died.
        if not c.init_alive():
            return data
        if time.monotonic() > deadline:
            raise SystemError_(f"container {c.id!r} init did not answer on exec.fifo")
        if chunk == b"":
            time.sleep(0.0005)
