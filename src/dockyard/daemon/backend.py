"""What the API handlers call: the daemon's rooms behind one object.

``Backend`` holds the settings, the event bus and the host facts, and runs
image work in worker threads. Each image call gets an :class:`ImageService` of
its own (its own SQLite connection): the store is safe across connections (WAL
plus a file lock) while one connection shared by threads is not, and opening
one costs well under a millisecond.

``containers``, ``volumes`` and ``networks`` are the engine's services, made on
first use (the seams are in /docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from dockyard.daemon.config import DaemonConfig
from dockyard.daemon.events import EventBus
from dockyard.daemon.hostinfo import HostInfo, probe
from dockyard.errors import DockyardError

if TYPE_CHECKING:
    from dockyard.engine.containers import ContainerService
    from dockyard.engine.volumes import VolumeService
    from dockyard.image.service import ImageService
    from dockyard.network.service import NetworkService
    from dockyard.registry.config import RegistryConfig

T = TypeVar("T")
log = logging.getLogger("dockyardd")
WORKERS = 8


@dataclass(frozen=True)
class Identity:
    id: str   # stable across restarts (the data root's engine-id file)


class Backend:
    def __init__(self, config: DaemonConfig) -> None:
        self.config = config
        self.data_root = Path(config.data_root)
        self.exec_root = Path(config.exec_root)
        self.events = EventBus()
        self.pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="dockyardd-worker")
        self.identity = Identity(_engine_id(self.data_root))
        self.host: HostInfo | None = None
        self._registry: RegistryConfig | None = None

    async def start(self) -> None:
        self.data_root.mkdir(parents=True, exist_ok=True, mode=0o711)
        self.exec_root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.host = await self.run(probe, self.data_root)
        # Open the store once now: a crash-left lease or ingest is cleaned before
        # the first request, and a broken data root fails the start, not a request.
        await self.images(lambda svc: svc.store.drop_dead_leases())
        if _network_service_available():
            try:
                await self.networks.start()
            except DockyardError as e:
                # The daemon still serves images and --network none/host containers;
                # bridged starts report the network error themselves.
                log.error("the network service did not start: %s", e.message)
        # Containers: the shim zygote, then live restore of what a previous daemon left
        # (running containers are watched again, vanished ones get their exit path).
        await self.containers.open()

    async def close(self) -> None:
        """End event streams and wait for the workers. The wait happens off the
        loop: a worker may still need the loop (a body read) to finish."""
        from dockyard.engine.health import close_services

        await close_services(self)   # health loops and execs (only those made)
        containers = self.__dict__.get("containers")
        if hasattr(containers, "close"):   # tests may put a fake service here
            await containers.close()
        if "networks" in self.__dict__:
            await self.networks.close()
        self.events.close()
        await asyncio.to_thread(self.pool.shutdown, wait=True, cancel_futures=True)
        if hasattr(containers, "store"):
            containers.store.close()

    @property
    def registry_config(self) -> RegistryConfig:
        if self._registry is None:
            from dockyard.registry.config import RegistryConfig

            self._registry = RegistryConfig.from_dict(self.config.registry_dict())
        return self._registry

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)`` in the worker pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, lambda: fn(*args))

    def open_images(self) -> ImageService:
        from dockyard.image.service import ImageService

        return ImageService(self.data_root, is_running=self.container_running)

    async def images(self, fn: Callable[[ImageService], T]) -> T:
        """``fn(service)`` in a worker thread, with a service opened and closed there."""
        def call() -> T:
            svc = self.open_images()
            try:
                return fn(svc)
            finally:
                svc.close()
        return await self.run(call)

    # The engine's services, made on first use so a daemon serving only images never
    # loads them. Their owners fill them in (see docs/architecture.md).
    @cached_property
    def containers(self) -> ContainerService:
        from dockyard.engine.containers import ContainerService

        return ContainerService(self)

    @cached_property
    def volumes(self) -> VolumeService:
        from dockyard.engine.volumes import VolumeService

        return VolumeService(self.data_root / "volumes")

    @cached_property
    def networks(self) -> NetworkService:
        from dockyard.network.service import NetworkService

        return NetworkService(self.data_root / "network", self.exec_root,
                              self.config.network_dict())

    def containers_using(self, image_id: object) -> int:
        """How many containers (any state) were created from ``image_id``."""
        return self.containers.count_using(str(image_id))

    def container_running(self, container_id: str) -> bool:
        """For the image room's rmi conflicts (its users come from the store's pins)."""
        if "containers" not in self.__dict__:
            return False
        return self.containers.is_running(container_id)


def _network_service_available() -> bool:
    try:
        import dockyard.network.service  # noqa: F401
    except ImportError:
        return False
    return True


def _engine_id(root: Path) -> str:
    """A stable id for this engine (dockerd keeps one in its data root too)."""
    path = root / "engine-id"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    root.mkdir(parents=True, exist_ok=True, mode=0o711)
    value = str(uuid.uuid4())
    tmp = path.with_name(f".engine-id.{os.getpid()}")
    tmp.write_text(value + "\n")
    os.replace(tmp, path)
    return value


__all__ = ["Backend", "Identity"]
