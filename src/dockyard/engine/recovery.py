"""Live restore at daemon start: pick up what the previous daemon left.

* Every container's image and rw snapshot are pinned in the image store (owner
  ``container:<id>``); records without pins (an older engine) get them.
* A running/paused container whose shim is alive is watched again
  (``ShimClient.wait`` reconnects); its network is re-applied by the network
  service's ``restore``.
* One whose shim vanished gets the exit path with exit.json's status (or 255,
  "shim died"), which also applies its restart policy.
* A remove interrupted half-way is finished; a ``restarting`` one is started.
* Stopped containers with ``always`` (or ``unless-stopped`` not stopped by the
  user) are started, as dockerd does at its start.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from dockyard.engine import netglue, restart, rootfs
from dockyard.engine.model import now_rfc3339
from dockyard.errors import DockyardError

if TYPE_CHECKING:
    from dockyard.engine.containers import ContainerService

log = logging.getLogger("dockyardd.engine")


async def recover(svc: ContainerService) -> None:
    from dockyard.shim import read_exit, shim_alive

    records = svc.store.list()
    backend = svc.backend

    def repin() -> None:
        """Pins made by an engine that predates them (idempotent for the others)."""
        images = backend.open_images()
        try:
            owners = images.store.pin_owners(rootfs.owner(""))
            for r in records:
                if rootfs.owner(r.id) not in owners:
                    rootfs.pin(images, r.id, r.image_id, r.snapshot_key)
        finally:
            images.close()

    await backend.run(repin)
    alive, dead, to_start, to_remove = [], [], [], []
    for rec in records:
        status = rec.state.status
        if status in ("running", "paused"):
            (alive if shim_alive(rec.bundle) else dead).append(rec)
        elif status == "restarting":
            to_start.append(rec)
        elif status == "removing":
            to_remove.append(rec)
        elif status in ("exited", "created") and rec.has_been_started and \
                restart.restart_at_daemon_start(rec.restart_policy, rec.state.exit_code,
                                                rec.restart_count, rec.manually_stopped):
            to_start.append(rec)
    try:
        await netglue.restore(svc, alive)
    except Exception as e:
        log.error("restoring container networks failed: %s", e)
    from dockyard.engine.health import health_monitor

    for rec in alive:
        log.info("container %s: reconnected to its shim", rec.id[:12])
        svc.watch(rec)
        health = health_monitor(backend).start(rec)
        if health is not None:
            svc.store.update_state(rec.id, health=health)
    for rec in dead:
        st = read_exit(rec.bundle)
        if st is None:
            code, finished, oom, err = 255, now_rfc3339(), False, "shim died"
        else:
            code, finished, oom, err = st.exit_code, st.finished_at, st.oom_killed, st.error
        log.info("container %s: exited while the daemon was away (%d)", rec.id[:12], code)
        await svc.handle_exit(rec.id, code, finished, oom, err, ran_for=restart.RESET_AFTER)
    for rec in to_remove:
        try:
            await svc.remove(rec.id, force=True)
        except DockyardError as e:
            log.error("container %s: finishing its removal failed: %s", rec.id[:12], e)
    for rec in to_start:
        asyncio.get_running_loop().create_task(_start(svc, rec.id))


async def _start(svc: ContainerService, cid: str) -> None:
    try:
        svc.store.update_state(cid, status="exited") if \
            svc.store.get(cid).state.status == "restarting" else None
        await svc.start(cid)
    except DockyardError as e:
        log.error("container %s: restart at daemon start failed: %s", cid[:12], e.message)
    except Exception:
        log.exception("container %s: restart at daemon start failed", cid[:12])


__all__ = ["recover"]
