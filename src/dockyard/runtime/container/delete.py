"""``delete``: remove a stopped container (``--force``: kill it first).

A created or running container is refused without ``--force`` (the spec says
delete MUST error and have no effect; runc deletes a created one anyway). The
teardown order: kill every process (thawing a paused cgroup so SIGKILL lands),
wait until they are gone, remove the cgroup, run poststop hooks (warn only),
remove the state directory.
"""

from __future__ import annotations

import _signal as signal  # the C module: `signal` imports enum (~2 ms)
import os
import time

from dockyard.runtime import hooks
from dockyard.runtime import state as st
from dockyard.runtime.process import modules


def delete(store: st.StateStore, container_id: str, *, force: bool = False,
           warn=None) -> None:
    lock = store.lock(container_id)
    try:
        try:
            c = store.load(container_id)
        except Exception:
            if not force:
                raise
            store.remove(container_id)
            return
        st.can_delete(c.current_status(), force)
        destroy(store, c, warn=warn)
    finally:
        os.close(lock)


def destroy(store: st.StateStore, c: st.ContainerState, *, warn=None) -> None:
    """Kill, clean up and forget ``c`` whatever its status (the caller holds the lock)."""
    manager = load_manager(c)
    kill_everything(c, manager)
    unmount_shared_rootfs(c.config, c.rootfs)
    if manager is not None:
        manager.destroy()
    hooks.run_phase(c.config, "poststop", c.hook_state(st.STOPPED), warn_only=True,
                    warn=warn)
    store.remove(c.id)


def unmount_shared_rootfs(spec: dict, rootfs: str) -> None:
    """Without its own mount namespace a container's mounts were made in ours
    (under its rootfs) and outlive it: take them down."""
    types = {ns.get("type") for ns in (spec.get("linux") or {}).get("namespaces") or []}
    if "mount" not in types:
        modules.rootfs().unmount_rootfs(rootfs)


def load_manager(c: st.ContainerState):
    if not c.cgroup:
        return None
    return modules.cgroups().load_manager(c.cgroup)


def kill_everything(c: st.ContainerState, manager, timeout: float = 10.0) -> None:
    pids = set()
    if c.init_alive():
        pids.add(c.pid)
    if manager is not None:
        try:
            pids.update(manager.pids())
        except OSError:
            pass
    if not pids:
        return
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if manager is not None:
        try:
            manager.thaw()
        except (OSError, KeyError):
            pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap_children()
        alive = [p for p in pids if st.process_start_time(p) is not None]
        if manager is not None:
            try:
                alive += [p for p in manager.pids()
                          if st.process_start_time(p) is not None]
            except OSError:
                pass
        if not alive:
            return
        for pid in alive:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.005)


def _reap_children() -> None:
    """Reap any child we are subreaper for (``run`` in the foreground)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
