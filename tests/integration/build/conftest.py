"""Fixtures for builder integration tests: a data root with a busybox image and a
helper that builds a context directory in-process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import require_root


@dataclass
class Built:
    result: object
    log: str


@pytest.fixture(scope="module")
def build_root(tmp_path_factory) -> Path:
    from dockyard.image.service import ImageService

    require_root()
    root = tmp_path_factory.mktemp("buildroot")
    svc = ImageService(root / "data")
    try:
        svc.bootstrap_busybox("busybox:latest")
    finally:
        svc.close()
    return root


@pytest.fixture
def build(build_root: Path) -> Callable[..., Built]:
    def run(ctx_dir: Path, **opts) -> Built:
        from dockyard.build.context import BuildContext
        from dockyard.build.executor import Builder, BuildOptions
        from dockyard.image.service import ImageService

        svc = ImageService(build_root / "data")
        log: list[str] = []
        builder = Builder(svc, build_root / "exec",
                          emit=lambda m: log.append(m.get("stream", "")))
        try:
            result = builder.build(BuildContext.from_dir(str(ctx_dir)), BuildOptions(**opts))
            return Built(result, "".join(log))
        finally:
            builder.close()
            svc.close()
    return run


def write(ctx: Path, files: dict[str, str]) -> Path:
    for rel, content in files.items():
        p = ctx / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content)
    return ctx


@pytest.fixture
def image_file(build_root: Path) -> Callable[[str, str], bytes | None]:
    """Read a file from a built image (a read-only view, unmounted after)."""
    def read(image: str, path: str) -> bytes | None:
        from dockyard.image.service import ImageService

        svc = ImageService(build_root / "data")
        try:
            with svc.mounted_view(image) as root:
                p = root / path.lstrip("/")
                return p.read_bytes() if p.exists() else None
        finally:
            svc.close()
    return read


@pytest.fixture
def image_config(build_root: Path) -> Callable[[str], dict]:
    def read(image: str) -> dict:
        import json

        from dockyard.image.service import ImageService

        svc = ImageService(build_root / "data")
        try:
            rec = svc.store.resolve(image)
            return json.loads(svc.store.content.read_bytes(rec.id))
        finally:
            svc.close()
    return read
