"""Run the registry app in-process on a loopback port for one test."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from dockyard.registry.server import RegistryStorage, ServerConfig, make_app


class Harness:
    def __init__(self, root: Path) -> None:
        self.root = root

    def storage(self) -> RegistryStorage:
        return RegistryStorage(self.root)

    def run(self, fn: Callable[[TestClient], Awaitable[Any]], **config: Any) -> Any:
        async def main() -> Any:
            app = make_app(self.storage(), ServerConfig(**config))
            async with TestClient(TestServer(app, host="127.0.0.1")) as client:
                return await fn(client)
        return asyncio.run(main())


@pytest.fixture
def reg(tmp_path: Path) -> Harness:
    return Harness(tmp_path / "registry")
