"""The only place the runtime forks: run a stage's body in a child, never return.

The child names itself (so ``ps`` shows which stage hung), runs ``body`` and
leaves with ``os._exit`` whatever happens: a forked Python must never fall back
into the parent's code path (atexit handlers, ``finally`` blocks of the caller).
A failure is reported over ``chan`` before exiting, so the parent can raise it.
"""

from __future__ import annotations

import os
import sys
from _collections_abc import Callable  # collections.abc without collections (~2 ms)

from dockyard.runtime import syscalls
from dockyard.runtime.process import wait_cgroup_warmup
from dockyard.runtime.process.channel import Channel


def fork_stage(name: str, chan: Channel | None, body: Callable[[], None]) -> int:
    """Fork; in the child run ``body`` as stage ``name``. Returns the child's pid."""
    wait_cgroup_warmup()  # fork with one thread only
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        syscalls.set_process_name(name)
        body()
        code = 0
    except BaseException as e:
        msg = getattr(e, "message", None) or str(e) or type(e).__name__
        if chan is not None:
            chan.error(msg)
        else:
            try:
                sys.stderr.write(f"{name}: {msg}\n")
                sys.stderr.flush()
            except Exception:
                pass
    finally:
        os._exit(code)
    return 0  # unreachable
