"""``pause``/``resume``: freeze and thaw the container's cgroup (freezer)."""

from __future__ import annotations

import os

from dockyard.errors import Unavailable
from dockyard.runtime import state as st
from dockyard.runtime.container.delete import load_manager


def pause(store: st.StateStore, container_id: str) -> None:
    _switch(store, container_id, freeze=True)


def resume(store: st.StateStore, container_id: str) -> None:
    _switch(store, container_id, freeze=False)


def _switch(store: st.StateStore, container_id: str, *, freeze: bool) -> None:
    lock = store.lock(container_id)
    try:
        c = store.load(container_id)
        status = c.current_status()
        if freeze:
            st.can_pause(status)
        else:
            st.can_resume(status)
        manager = load_manager(c)
        if manager is None:
            raise Unavailable(f"container {container_id!r} has no cgroup to freeze")
        if freeze:
            manager.freeze()
            c.status = st.PAUSED
        else:
            manager.thaw()
            # Still holding its exec.fifo means it was paused before `start`.
            c.status = st.CREATED if os.path.exists(store.fifo(container_id)) else st.RUNNING
        store.save(c)
    finally:
        os.close(lock)
