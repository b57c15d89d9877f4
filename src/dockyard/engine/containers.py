"""ContainerService: the container state machine the API calls.

State lives in SQLite (engine/store.py) and every change is committed before it
is reported (an answer, an event). One asyncio lock per container serialises
start/stop/exit/remove; a *monitor* task per running container awaits the
shim's exit status (``ShimClient.wait``) and then runs the exit path: network
teardown, rootfs unmount, the record, the ``die`` event, then ``--rm`` or the
restart policy. Waiters (``POST /wait``) are futures resolved by that path.

The daemon never owns a container's processes: the shim does, so a daemon that
dies leaves containers running, and ``recovery.py`` reconnects a new daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal as _signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.engine import lifecycle, restart
from dockyard.engine.model import ContainerRecord, ContainerState, now_rfc3339, parse_rfc3339
from dockyard.engine.store import ContainerStore
from dockyard.errors import Conflict, DockyardError, InvalidArgument, NotFound, NotModified

if TYPE_CHECKING:
    from dockyard.daemon.backend import Backend

log = logging.getLogger("dockyardd.engine")
KILL_GRACE = 30.0   # after SIGKILL, how long to wait for the exit before giving up
ATTACH_DRAIN = 10.0  # --rm: how long attached clients may take to read the last output
ATTACH_CONNECT = 5.0  # a held start waits this long for pending attaches to connect


class ContainerService:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.store = ContainerStore(backend.data_root / "containers.db",
                                    str(backend.data_root), str(backend.exec_root))
        self.zygote: Any = None
        self._zygote_lock = asyncio.Lock()
        self._locks: dict[str, asyncio.Lock] = {}
        self._monitors: dict[str, asyncio.Task] = {}
        self._exit_waiters: dict[str, list[asyncio.Future]] = {}
        self._remove_waiters: dict[str, list[asyncio.Future]] = {}
        self._start_waiters: dict[str, list[asyncio.Future]] = {}
        self._restarts: dict[str, asyncio.Task] = {}
        self._backoff: dict[str, restart.Backoff] = {}
        self._attach_pending: dict[str, int] = {}
        self._attached: dict[str, int] = {}
        self._pending_zero: dict[str, asyncio.Event] = {}
        self._attach_changed = asyncio.Condition()
        self._closing = False

    # --- daemon life ----------------------------------------------------------------

    async def open(self) -> None:
        """Backend.start: the zygote, then live restore of what the last daemon left."""
        from dockyard.engine import ocispec, recovery

        warm = asyncio.ensure_future(self.backend.run(ocispec.preload))
        await self._ensure_zygote()
        with contextlib.suppress(Exception):
            await warm
        await recovery.recover(self)

    async def _ensure_zygote(self) -> Any:
        async with self._zygote_lock:
            if self.zygote is None:
                from dockyard.shim import Zygote

                self.zygote = await Zygote.spawn(self.backend.exec_root)
            return self.zygote

    async def close(self) -> None:
        """Daemon shutdown: stop watching; containers keep running (live restore)."""
        self._closing = True
        tasks = list(self._monitors.values()) + list(self._restarts.values())
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for waiters in (self._exit_waiters, self._remove_waiters, self._start_waiters):
            for futs in waiters.values():
                for f in futs:
                    if not f.done():
                        f.cancel()
        if self.zygote is not None:
            with contextlib.suppress(Exception):
                await self.zygote.close()
            self.zygote = None

    # --- lookups --------------------------------------------------------------------

    def get(self, ref: str) -> ContainerRecord:
        return self.store.resolve(ref)

    def list(self, all: bool = False, filters: dict | None = None, limit: int = -1,
             size: bool = False) -> list[ContainerRecord]:
        from dockyard.engine import listing

        records = self.store.list()
        return listing.select(records, listing.Query(all, limit, filters or {}),
                              ancestors=self._ancestors)

    def _ancestors(self, ref: str) -> set[str]:
        svc = self.backend.open_images()
        try:
            try:
                rec = svc.store.resolve(ref)
            except DockyardError:
                return set()
            return {str(rec.id)}
        finally:
            svc.close()

    def is_running(self, cid: str) -> bool:
        try:
            return self.store.get(cid).state.status in ("running", "paused", "restarting")
        except NotFound:
            return False

    def count_using(self, image_id: str) -> int:
        return self.store.count_using(image_id)

    def users_of(self, image_id: str) -> list[str]:
        return self.store.users_of(image_id)

    def update_state(self, cid: str, **fields: Any) -> ContainerRecord:
        return self.store.update_state(cid, **fields)

    def shim(self, ref: str) -> Any:
        rec = self.get(ref)
        if rec.state.status not in ("running", "paused"):
            raise Conflict(f"Container {rec.id} is not running")
        from dockyard.shim import ShimClient

        return ShimClient(rec.bundle)

    def upper_dir(self, ref: str) -> Path:
        from dockyard.engine import rootfs

        rec = self.get(ref)
        svc = self.backend.open_images()
        try:
            return rootfs.upper_dir(svc, rec.snapshot_key)
        finally:
            svc.close()

    @contextlib.contextmanager
    def fs_view(self, ref: str) -> Iterator[Any]:
        """The container's filesystem for cp/export: the live rootfs of a running
        container, or the rw snapshot mounted for the duration (stopped ones)."""
        from dockyard.engine import rootfs
        from dockyard.engine.mounts import FsView
        from dockyard.image.mount import is_mountpoint_under

        rec = self.get(ref)
        mounted_here = False
        if str(rec.rootfs) not in is_mountpoint_under(rec.bundle):
            svc = self.backend.open_images()
            try:
                rootfs.make_bundle(rec.bundle, rec.data_dir)
                rootfs.mount(svc, rec.snapshot_key, rec.rootfs)
                mounted_here = True
            finally:
                svc.close()
        try:
            yield FsView(rec.rootfs, lifecycle.mount_plans(rec))
        finally:
            if mounted_here:
                current = self.store.resolve(rec.id) if self.store.exists(rec.id) else None
                if current is None or current.state.status not in ("running", "paused"):
                    rootfs.unmount(rec.rootfs)

    def _lock(self, cid: str) -> asyncio.Lock:
        lock = self._locks.get(cid)
        if lock is None:
            lock = self._locks[cid] = asyncio.Lock()
        return lock

    def event(self, rec: ContainerRecord, action: str, **extra: str) -> None:
        attrs = {"image": rec.image_ref, "name": rec.name}
        attrs.update(rec.labels)
        attrs.update(extra)
        self.backend.events.emit("container", action, rec.id, sorted(attrs.items()))

    # --- create ---------------------------------------------------------------------

    async def create(self, body: dict[str, Any], name: str | None = None
                     ) -> tuple[ContainerRecord, list[str]]:
        from dockyard.engine.create import create

        created = await self.backend.run(create, self.backend, self.store, body, name)
        self.event(created.record, "create")
        return created.record, created.warnings

    # --- start ----------------------------------------------------------------------

    async def start(self, ref: str) -> None:
        rec = self.get(ref)
        async with self._lock(rec.id):
            rec = self.store.get(rec.id)
            if rec.state.status in ("running", "restarting") and rec.id in self._monitors:
                raise NotModified("container already started")
            if rec.state.status == "paused":
                raise Conflict("cannot start a paused container, try unpause instead")
            if rec.state.status in ("removing", "dead"):
                raise Conflict(f"container {rec.id} is marked for removal and cannot be "
                               "started")
            task = self._restarts.pop(rec.id, None)
            if task is not None:
                task.cancel()
            try:
                await self._start_locked(rec)
            except DockyardError:
                if rec.host_config.get("AutoRemove"):
                    # dockerd removes an --rm container whose start failed (the CLI
                    # waits for that removal)
                    with contextlib.suppress(DockyardError):
                        await self._remove_locked(self.store.get(rec.id), volumes=True)
                raise

    async def _start_locked(self, rec: ContainerRecord) -> None:
        from dockyard.shim import ShimRequest

        zygote = await self._ensure_zygote()
        net_up = False
        mounted = False
        try:
            await self.backend.run(lifecycle.mount_for_start, self.backend, rec)
            mounted = True
            netns, files, settings = await self._net_setup(rec)
            net_up = True
            ipc_ns, pid_ns = lifecycle.namespace_paths(self.get, rec)
            shm = await self.backend.run(lifecycle.shm_path, self.get, rec)
            await self.backend.run(lifecycle.write_spec, self.backend, rec, netns, files,
                                   ipc_ns, pid_ns, shm)
            for stale in ("exit.json",):
                with contextlib.suppress(FileNotFoundError):
                    (rec.bundle / stale).unlink()
            req_kwargs: dict[str, Any] = {}
            hold = bool(self._attach_pending.get(rec.id)) and _shim_has("hold")
            if hold:
                # docker run: create, let the waiting attaches connect, then run
                req_kwargs["hold"] = True
            req = ShimRequest(
                container_id=rec.id, bundle=str(rec.bundle),
                runtime=lifecycle.runtime_for(self.backend, rec),
                runtime_root=str(self.backend.exec_root / "runtime"),
                tty=rec.tty, open_stdin=bool(rec.config.get("OpenStdin")),
                stdin_once=bool(rec.config.get("StdinOnce")),
                log=lifecycle.log_config(rec), **req_kwargs)
            started = now_rfc3339()   # before: a fast container may finish before we return
            pid = await zygote.start(req)
            if hold:
                await self._release_attaches(rec.id)
                from dockyard.shim import ShimClient

                await ShimClient(rec.bundle).start()
        except BaseException as exc:
            await self._undo_start(rec, net_up, mounted)
            if isinstance(exc, DockyardError):
                exc.message = _go_words(exc.message)
                exc.args = (exc.message,)
                self._record_start_failure(rec, exc.message)
            raise
        rec = self.store.update_state(
            rec.id, status="running", pid=pid, started_at=started, error="", exit_code=0,
            oom_killed=False, has_been_started=True, manually_stopped=False,
            network_settings=settings if settings is not None else rec.network_settings)
        self.event(rec, "start")
        self.watch(rec)
        health = _health().health_monitor(self.backend).start(rec)
        if health is not None:
            rec = self.store.update_state(rec.id, health=health)
        for fut in self._start_waiters.pop(rec.id, []):
            if not fut.done():
                fut.set_result(None)

    async def _release_attaches(self, cid: str) -> None:
        """Wake the attaches waiting for this start and give them a moment to connect
        to the shim (each releases its pending mark once connected)."""
        for fut in self._start_waiters.pop(cid, []):
            if not fut.done():
                fut.set_result(None)
        if not self._attach_pending.get(cid):
            return
        event = self._pending_zero.setdefault(cid, asyncio.Event())
        event.clear()
        if not self._attach_pending.get(cid):
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), ATTACH_CONNECT)
        self._pending_zero.pop(cid, None)

    def _record_start_failure(self, rec: ContainerRecord, message: str) -> None:
        """docker's rule: the error and a 126/127/128 exit code, status unchanged."""
        low = message.lower()
        code = 128
        if "executable file not found" in low or "no such file or directory" in low:
            code = 127
        elif "permission denied" in low:
            code = 126
        with contextlib.suppress(NotFound):
            self.store.update_state(rec.id, error=message, exit_code=code)

    async def _undo_start(self, rec: ContainerRecord, net_up: bool, mounted: bool) -> None:
        if net_up:
            await self._net_teardown(rec)
        if mounted:
            with contextlib.suppress(Exception):
                await self.backend.run(lifecycle.unmount_after_exit, rec)

    def watch(self, rec: ContainerRecord) -> None:
        task = asyncio.get_running_loop().create_task(self._monitor(rec.id, time.monotonic()),
                                                      name=f"monitor-{rec.id[:12]}")
        self._monitors[rec.id] = task

    async def _monitor(self, cid: str, started: float) -> None:
        from dockyard.shim import ShimClient

        rec = self.store.get(cid)
        try:
            status = await ShimClient(rec.bundle).wait()
        except asyncio.CancelledError:
            raise
        except Exception as e:   # the shim is unreachable: treat like a vanished shim
            log.error("container %s: waiting for its exit failed: %s", cid[:12], e)
            from dockyard.shim import read_exit

            status = read_exit(rec.bundle) or _lost_status()
        if self._monitors.get(cid) is asyncio.current_task():
            del self._monitors[cid]
        await self.handle_exit(cid, status.exit_code, status.finished_at, status.oom_killed,
                               status.error, time.monotonic() - started)

    async def handle_exit(self, cid: str, exit_code: int, finished_at: str,
                          oom_killed: bool = False, error: str = "",
                          ran_for: float = 0.0) -> None:
        """The exit path (also used by recovery for containers that died meanwhile)."""
        async with self._lock(cid):
            try:
                rec = self.store.get(cid)
            except NotFound:
                return
            await self._net_teardown(rec)
            with contextlib.suppress(Exception):
                await self.backend.run(lifecycle.unmount_after_exit, rec)
            health = _health().health_monitor(self.backend).stop(cid, rec.state.health)
            rec = self.store.update_state(
                cid, status="exited", pid=0, exit_code=exit_code,
                finished_at=finished_at or now_rfc3339(), oom_killed=oom_killed,
                error=error, health=health if health is not None else rec.state.health,
                network_settings=_stopped_settings(rec.network_settings))
            if oom_killed:
                self.event(rec, "oom")
            self.event(rec, "die", exitCode=str(exit_code))
            for fut in self._exit_waiters.pop(cid, []):
                if not fut.done():
                    fut.set_result((exit_code, error))
            if self._closing:
                return
            if rec.host_config.get("AutoRemove"):
                await self._attaches_done(cid, ATTACH_DRAIN)
                await self._remove_locked(rec, volumes=True)
                return
            if restart.should_restart(rec.restart_policy, exit_code, rec.restart_count,
                                      rec.manually_stopped):
                delay = self._backoff.setdefault(cid, restart.Backoff()).next(ran_for)
                self.store.update_state(cid, status="restarting")
                self._restarts[cid] = asyncio.get_running_loop().create_task(
                    self._restart_later(cid, delay))

    async def _restart_later(self, cid: str, delay: float) -> None:
        await asyncio.sleep(delay)
        async with self._lock(cid):
            if self._restarts.get(cid) is asyncio.current_task():
                del self._restarts[cid]
            try:
                rec = self.store.get(cid)
            except NotFound:
                return
            if rec.state.status != "restarting" or rec.manually_stopped:
                return
            rec = self.store.update_state(cid, restart_count=rec.restart_count + 1)
            try:
                await self._start_locked(rec)
                self.event(rec, "restart")
            except DockyardError as e:
                log.error("container %s: restart failed: %s", cid[:12], e.message)
                self.store.update_state(cid, status="exited", error=e.message)

    # --- network --------------------------------------------------------------------

    async def _net_setup(self, rec: ContainerRecord
                         ) -> tuple[str | None, dict[str, str], dict | None]:
        from dockyard.engine import netglue

        return await netglue.setup(self, rec)

    async def _net_teardown(self, rec: ContainerRecord) -> None:
        from dockyard.engine import netglue

        try:
            await netglue.teardown(self, rec)
        except Exception as e:   # teardown must not block the exit path
            log.error("container %s: network teardown failed: %s", rec.id[:12], e)

    # --- stop / kill / restart ------------------------------------------------------

    def _exit_future(self, cid: str) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        waiters = self._exit_waiters.setdefault(cid, [])
        waiters[:] = [f for f in waiters if not f.done()]   # drop abandoned ones
        waiters.append(fut)
        return fut

    async def stop(self, ref: str, timeout: int | None = None,
                   signal: str | None = None) -> None:
        rec = self.get(ref)
        if rec.state.status == "restarting":
            # between two runs, or in the middle of a restart's start: no next run
            self.store.update_state(rec.id, manually_stopped=True)
            task = self._restarts.pop(rec.id, None)
            if task is not None:
                task.cancel()
            async with self._lock(rec.id):
                rec = self.store.get(rec.id)
                if rec.state.status == "restarting":
                    rec = self.store.update_state(rec.id, status="exited")
                    self.event(rec, "stop")
                    return
        if rec.state.status not in ("running", "paused"):
            raise NotModified("container already stopped")
        rec = self.store.update_state(rec.id, manually_stopped=True)
        sig = lifecycle.parse_signal(signal, lifecycle.stop_signal(rec)) if signal \
            else lifecycle.stop_signal(rec)
        wait_s = lifecycle.stop_timeout(rec, timeout)
        done = self._exit_future(rec.id)
        client = self.shim(rec.id)
        try:
            await client.kill(sig)
            if rec.state.status == "paused":
                with contextlib.suppress(DockyardError):
                    await client.resume()
        except DockyardError:
            pass
        if wait_s < 0:
            await asyncio.shield(done)
        else:
            try:
                await asyncio.wait_for(asyncio.shield(done), wait_s)
            except TimeoutError:
                with contextlib.suppress(DockyardError):
                    await client.kill(_signal.SIGKILL, True)
                    self.event(rec, "kill", signal=str(int(_signal.SIGKILL)))
                try:
                    await asyncio.wait_for(asyncio.shield(done), KILL_GRACE)
                except TimeoutError:
                    raise DockyardError(f"container {rec.id[:12]} did not exit after "
                                        "SIGKILL") from None
        self.event(self.store.get(rec.id), "stop")

    async def kill(self, ref: str, signal: str | int | None = None) -> None:
        rec = self.get(ref)
        sig = lifecycle.parse_signal(signal, _signal.SIGKILL)
        if rec.state.status not in ("running", "paused"):
            raise Conflict(f"Cannot kill container: {ref}: Container {rec.id} is not running")
        rec = self.store.update_state(rec.id, manually_stopped=True)
        done = self._exit_future(rec.id) if sig == _signal.SIGKILL else None
        await self.shim(rec.id).kill(sig)
        self.event(rec, "kill", signal=str(sig))
        if done is not None:
            # docker returns after SIGKILL once the container is gone
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(done), KILL_GRACE)

    async def restart(self, ref: str, timeout: int | None = None,
                      signal: str | None = None) -> None:
        rec = self.get(ref)
        if rec.state.status in ("running", "paused", "restarting"):
            with contextlib.suppress(NotModified):
                await self.stop(rec.id, timeout, signal)
        await self.start(rec.id)
        self.event(self.store.get(rec.id), "restart")

    # --- wait -----------------------------------------------------------------------

    def wait_future(self, ref: str, condition: str = "not-running") -> asyncio.Future:
        """Registered now (before the HTTP headers go out), resolved later with
        (StatusCode, error message)."""
        if condition not in ("", "not-running", "next-exit", "removed"):
            raise InvalidArgument(f"invalid condition: \"{condition}\"")
        rec = self.get(ref)
        loop = asyncio.get_running_loop()
        if condition == "removed":
            fut = loop.create_future()
            self._remove_waiters.setdefault(rec.id, []).append(fut)
            if rec.state.status not in ("running", "paused", "restarting") and \
                    not rec.host_config.get("AutoRemove") and rec.id not in self._monitors:
                pass   # docker: waits until someone removes it
            return fut
        if condition == "next-exit" or rec.state.status in ("running", "paused",
                                                            "restarting"):
            return self._exit_future(rec.id)
        fut = loop.create_future()
        fut.set_result((rec.state.exit_code, rec.state.error))
        return fut

    async def wait(self, ref: str, condition: str = "not-running") -> tuple[int, str]:
        return await self.wait_future(ref, condition)

    def started_future(self, cid: str) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        self._start_waiters.setdefault(cid, []).append(fut)
        return fut

    def attach_pending(self, cid: str) -> _Pending:
        """An attach waits for this container's start; ``release()`` once it started."""
        self._attach_pending[cid] = self._attach_pending.get(cid, 0) + 1
        return _Pending(self._attach_pending, cid, self._pending_zero)

    @contextlib.asynccontextmanager
    async def attached(self, cid: str):
        """An attach stream is open: an --rm removal waits for it to finish reading
        (its output may come from the log file the removal deletes)."""
        self._attached[cid] = self._attached.get(cid, 0) + 1
        try:
            yield
        finally:
            n = self._attached.get(cid, 1) - 1
            if n <= 0:
                self._attached.pop(cid, None)
            else:
                self._attached[cid] = n
            async with self._attach_changed:
                self._attach_changed.notify_all()

    async def _attaches_done(self, cid: str, timeout: float) -> None:
        async def drained() -> None:
            async with self._attach_changed:
                await self._attach_changed.wait_for(lambda: cid not in self._attached)

        if cid in self._attached:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(drained(), timeout)

    # --- remove / rename ------------------------------------------------------------

    async def remove(self, ref: str, force: bool = False, volumes: bool = False,
                     link: bool = False) -> None:
        if link:
            raise InvalidArgument("Conflict, cannot remove the default link name of the "
                                  "container (links are not supported)")
        rec = self.get(ref)
        if rec.state.status in ("running", "paused", "restarting") and not force:
            if rec.state.status == "paused":
                raise Conflict(f"You cannot remove a paused container {rec.id}. Unpause and "
                               "then stop the container before attempting removal or force "
                               "remove")
            raise Conflict(f"You cannot remove a running container {rec.id}. Stop the "
                           "container before attempting removal or force remove")
        task = self._restarts.pop(rec.id, None)
        if task is not None:
            task.cancel()
        if rec.state.status in ("running", "paused"):
            self.store.update_state(rec.id, manually_stopped=True)
            done = self._exit_future(rec.id)
            with contextlib.suppress(DockyardError):
                await self.shim(rec.id).kill(_signal.SIGKILL, True)
            try:
                await asyncio.wait_for(asyncio.shield(done), KILL_GRACE)
            except TimeoutError:
                raise DockyardError(f"could not kill running container {rec.id}, cannot "
                                    "remove") from None
        async with self._lock(rec.id):
            try:
                rec = self.store.get(rec.id)
            except NotFound:
                return   # --rm got there first
            await self._remove_locked(rec, volumes)

    async def _remove_locked(self, rec: ContainerRecord, volumes: bool) -> None:
        rec = self.store.update_state(rec.id, status="removing")
        _health().health_monitor(self.backend).stop(rec.id)
        with contextlib.suppress(Exception):
            from dockyard.engine.exec import exec_service

            exec_service(self.backend).forget_container(rec.id)
        await self.backend.run(self._remove_files, rec, volumes)
        if netglue_available():
            with contextlib.suppress(Exception):
                await self.backend.run(self.backend.networks.forget, rec.id)
        self.store.remove(rec.id)
        self._locks.pop(rec.id, None)
        self._backoff.pop(rec.id, None)
        self.event(rec, "destroy")
        for fut in self._remove_waiters.pop(rec.id, []):
            if not fut.done():
                fut.set_result((rec.state.exit_code, rec.state.error))
        for fut in self._exit_waiters.pop(rec.id, []):
            if not fut.done():
                fut.set_result((rec.state.exit_code, rec.state.error))

    def _remove_files(self, rec: ContainerRecord, volumes: bool) -> None:
        from dockyard.engine import rootfs

        svc = self.backend.open_images()
        try:
            rootfs.remove(svc, rec.id, rec.snapshot_key, rec.rootfs)
        finally:
            svc.close()
        if rec.mounts:
            try:
                from dockyard.engine.mounts import release_mounts

                release_mounts(lifecycle.mount_plans(rec), self.backend.volumes,
                               remove_anonymous=volumes)
            except (ImportError, DockyardError) as e:
                log.warning("container %s: releasing mounts: %s", rec.id[:12], e)
        lifecycle.remove_files(rec)

    async def rename(self, ref: str, new_name: str) -> None:
        from dockyard.engine.create import check_name

        if not new_name:
            raise InvalidArgument("Neither old nor new names may be empty")
        name = check_name(new_name)
        rec = self.get(ref)
        if rec.name == name:
            raise InvalidArgument("Renaming a container with the same name as its current "
                                  "name")
        old = self.store.rename(rec.id, name)
        rec = self.store.get(rec.id)
        self.event(rec, "rename", oldName="/" + old)

    # --- pause / resize / update ----------------------------------------------------

    async def pause(self, ref: str) -> None:
        rec = self.get(ref)
        async with self._lock(rec.id):
            rec = self.store.get(rec.id)
            if rec.state.status == "paused":
                raise Conflict(f"Container {rec.id} is already paused")
            if rec.state.status != "running":
                raise Conflict(f"Container {rec.id} is not running")
            await self.shim(rec.id).pause()
            rec = self.store.update_state(rec.id, status="paused")
            self.event(rec, "pause")

    async def unpause(self, ref: str) -> None:
        rec = self.get(ref)
        async with self._lock(rec.id):
            rec = self.store.get(rec.id)
            if rec.state.status != "paused":
                raise Conflict(f"Container {rec.id} is not paused")
            await self.shim(rec.id).resume()
            rec = self.store.update_state(rec.id, status="running")
            self.event(rec, "unpause")

    async def resize(self, ref: str, height: int, width: int) -> None:
        client = self.shim(ref)
        await client.resize(height, width)

    async def update(self, ref: str, body: dict[str, Any]) -> list[str]:
        from dockyard.engine import update as upd

        rec = self.get(ref)
        async with self._lock(rec.id):
            rec = self.store.get(rec.id)
            return await upd.apply(self, rec, body)

    # --- prune ----------------------------------------------------------------------

    async def prune(self, filters: dict[str, list[str]]) -> dict[str, Any]:
        from dockyard.daemon.timefilter import parse_until

        for key in filters:
            if key not in ("until", "label", "label!"):
                raise InvalidArgument(f"invalid filter '{key}'")
        until = [parse_until(v) for v in filters.get("until", [])]
        deleted: list[str] = []
        reclaimed = 0
        for rec in self.store.list():
            if rec.state.status not in ("exited", "created", "dead"):
                continue
            if until and not all(parse_rfc3339(rec.created) < u for u in until):
                continue
            labels = rec.labels
            if not all(_label_ok(labels, v) for v in filters.get("label", [])):
                continue
            if any(_label_ok(labels, v) for v in filters.get("label!", [])):
                continue
            try:
                size = await self.backend.run(self.size_rw, rec)
                await self.remove(rec.id, force=False)
            except DockyardError:
                continue
            deleted.append(rec.id)
            reclaimed += size
        return {"ContainersDeleted": deleted or None, "SpaceReclaimed": reclaimed}

    def size_rw(self, rec: ContainerRecord) -> int:
        svc = self.backend.open_images()
        try:
            return svc.snapshotter.usage(rec.snapshot_key).size
        except DockyardError:
            return 0
        finally:
            svc.close()

    def size_rootfs(self, rec: ContainerRecord) -> int:
        svc = self.backend.open_images()
        try:
            from dockyard.image.digest import Digest

            try:
                image = svc.store.get(Digest.parse(rec.image_id))
                base = image.size
            except DockyardError:
                base = 0
        finally:
            svc.close()
        return base + self.size_rw(rec)


def _stopped_settings(settings: dict[str, Any]) -> dict[str, Any]:
    from dockyard.engine.netglue import stopped_settings

    return stopped_settings(settings)


def _health() -> Any:
    from dockyard.engine import health

    return health


def netglue_available() -> bool:
    from dockyard.engine.netglue import _service_available

    return _service_available()


def _go_words(message: str) -> str:
    """Kernel error strings as Go (and so dockerd) spells them: lower case. The docker
    CLI picks run's exit code 126/127 by "permission denied" / "no such file or
    directory" in the message."""
    for text in ("Permission denied", "No such file or directory", "Exec format error"):
        message = message.replace(text, text.lower())
    return message


class _Pending:
    def __init__(self, counts: dict[str, int], cid: str,
                 zero: dict[str, asyncio.Event]) -> None:
        self._counts = counts
        self._cid = cid
        self._zero = zero
        self._done = False

    def release(self) -> None:
        if self._done:
            return
        self._done = True
        n = self._counts.get(self._cid, 1) - 1
        if n <= 0:
            self._counts.pop(self._cid, None)
            event = self._zero.get(self._cid)
            if event is not None:
                event.set()
        else:
            self._counts[self._cid] = n


def _label_ok(labels: dict[str, str], wanted: str) -> bool:
    key, eq, value = wanted.partition("=")
    return key in labels and (not eq or labels[key] == value)


def _lost_status() -> Any:
    from dockyard.shim import ExitStatus

    return ExitStatus(255, now_rfc3339(), error="shim died")


def _shim_has(field_name: str) -> bool:
    from dataclasses import fields

    from dockyard.shim import ShimRequest

    return any(f.name == field_name for f in fields(ShimRequest))


__all__ = ["ContainerService", "ContainerState"]
