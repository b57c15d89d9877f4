"""Run the registry app in-process on a loopback port for one test."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.registry.server.helpers import Harness


@pytest.fixture
def reg(tmp_path: Path) -> Harness:
    return Harness(tmp_path / "registry")
