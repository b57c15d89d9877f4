"""Helpers for the exec/stats/top/health integration tests (no tests here).

Containers are started directly with ``dockyard-runtime --root <tmp>/runtime run
-d`` (the engine's shim is not needed to exercise exec, stats and top: they only
need the runtime's state and the container's cgroup). ``RuntimeContainer``
gives the :class:`ExecTarget` the services take, and a small aiohttp app serves
the exec/stats/top routes on a unix socket for HTTP-level tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dockyard.engine.exec import ExecService, ExecTarget
from tests.integration.runtime.core_support import Runtime, make_config, write_bundle


@dataclass
class RuntimeContainer:
    rt: Runtime
    id: str
    bundle: Path
    pid: int

    @property
    def runtime_root(self) -> str:
        return str(self.rt.root)

    def target(self, status: str = "running", name: str = "") -> ExecTarget:
        return ExecTarget(self.id, name or self.id, status, self.pid, self.bundle,
                          {"name": name or self.id, "image": "busybox:dytest"})


@contextlib.contextmanager
def runtime_container(runtime_cmd: list[str], rootfs: Path, container_id: str,
                      root: Path, args: list[str] | None = None,
                      **spec_changes) -> Iterator[RuntimeContainer]:
    """A running busybox container (``sleep 300`` unless told), deleted after."""
    rt = Runtime(runtime_cmd, root)
    spec = make_config(args or ["sleep", "300"], **spec_changes)
    spec["process"]["env"] = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "FROMIMAGE=yes"]
    spec["hostname"] = "exechost"
    bundle = write_bundle(rootfs, spec)
    (rootfs / "etc").mkdir(exist_ok=True)
    (rootfs / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000:Alice:/home/alice:/bin/sh\n")
    (rootfs / "etc" / "group").write_text(
        "root:x:0:\nalice:x:1000:\nstaff:x:50:alice\nwheel:x:10:bob\n")
    (rootfs / "home" / "alice").mkdir(parents=True, exist_ok=True)
    rt("run", "-d", "--bundle", str(bundle), container_id)
    try:
        pid = rt.state(container_id)["pid"]
        yield RuntimeContainer(rt, container_id, bundle, pid)
    finally:
        rt.cleanup(container_id)


def service_for(*containers: RuntimeContainer, events=None,
                status: str = "running") -> ExecService:
    by_ref = {c.id: c for c in containers}

    async def lookup(ref: str) -> ExecTarget:
        from dockyard.errors import NotFound

        c = by_ref.get(ref)
        if c is None:
            raise NotFound(f"No such container: {ref}")
        return c.target(status)

    root = containers[0].runtime_root if containers else "/nonexistent"
    return ExecService(lookup, root, events)


class Output:
    """A sink that keeps each stream's bytes."""

    def __init__(self) -> None:
        self.streams: dict[int, bytearray] = {1: bytearray(), 2: bytearray()}

    async def __call__(self, stream: int, data: bytes) -> None:
        self.streams[stream].extend(data)

    @property
    def stdout(self) -> str:
        return self.streams[1].decode()

    @property
    def stderr(self) -> str:
        return self.streams[2].decode()


class ApiServer:
    """The exec/stats/top routes on a unix socket, served from a thread's loop."""

    def __init__(self, service: ExecService, sock_path: Path) -> None:
        self.service = service
        self.sock_path = sock_path
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._runner = None

    def __enter__(self) -> ApiServer:
        from aiohttp import web

        from dockyard.api import exec as exec_api
        from dockyard.api import stats as stats_api
        from dockyard.api.app import make_app

        self._thread.start()

        async def up():
            app = make_app(None, routes=[*exec_api.ROUTES, *stats_api.ROUTES])  # type: ignore[arg-type]
            app[exec_api.EXEC_SERVICE] = self.service
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.UnixSite(runner, str(self.sock_path))
            await site.start()
            return runner

        self._runner = asyncio.run_coroutine_threadsafe(up(), self.loop).result(30)
        return self

    def call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def __exit__(self, *exc) -> None:
        async def down():
            await self.service.close()
            if self._runner is not None:
                await self._runner.cleanup()

        try:
            asyncio.run_coroutine_threadsafe(down(), self.loop).result(30)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.sock_path)

    @property
    def base_url(self) -> str:
        return f"unix://{self.sock_path}"

    def raw(self) -> socket.socket:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(str(self.sock_path))
        s.settimeout(30)
        return s
