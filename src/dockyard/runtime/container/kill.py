"""``kill``: send a signal (name or number) to the init, or with ``--all`` to every
process in the container's cgroup."""

from __future__ import annotations

import os
import signal

from dockyard.errors import InvalidArgument
from dockyard.runtime import state as st


def parse_signal(text: str) -> int:
    """``9``, ``KILL``, ``SIGKILL``, ``sigkill``, ``SIGRTMIN+3`` -> the signal number."""
    raw = text.strip()
    if raw.isdigit():
        num = int(raw)
        if not 0 < num < signal.NSIG:
            raise InvalidArgument(f"invalid signal number {num}")
        return num
    name = raw.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    if name.startswith(("SIGRTMIN+", "SIGRTMAX-")):
        base, _, off = name.partition("+" if "+" in name else "-")
        if off.isdigit():
            num = (signal.SIGRTMIN + int(off)) if base == "SIGRTMIN" else \
                (signal.SIGRTMAX - int(off))
            if signal.SIGRTMIN <= num <= signal.SIGRTMAX:
                return int(num)
        raise InvalidArgument(f"invalid signal {text!r}")
    sig = getattr(signal.Signals, name, None) if name in signal.Signals.__members__ else None
    if sig is None:
        raise InvalidArgument(f"unknown signal {text!r}")
    return int(sig)


def kill(store: st.StateStore, container_id: str, sig: int, *, all_processes: bool = False
         ) -> None:
    lock = store.lock(container_id)
    try:
        c = store.load(container_id)
        st.can_kill(c.current_status())
        targets = [c.pid]
        if all_processes:
            from dockyard.runtime.container.delete import load_manager

            manager = load_manager(c)
            if manager is not None:
                targets = sorted(set(manager.pids()) | {c.pid})
        for pid in targets:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
    finally:
        os.close(lock)
