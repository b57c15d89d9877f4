"""PARITY: each corpus Dockerfile built by docker's legacy builder and by dockyard.

docker (the private ``dockerd``, ``DOCKER_BUILDKIT=0``) and dockyard build the
same context FROM the same busybox image (dockyard loads docker's ``save`` of
it). The images' layers are flattened with the same extraction code and the
trees compared entry by entry: type, mode, owner, size, content, link target
(mtimes are not compared: they are build times). The config fields docker
records are compared too (Env, Cmd, Entrypoint, WorkingDir, User, ExposedPorts,
Volumes, Labels, StopSignal, Healthcheck, OnBuild, Shell) and the author.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.interop.build import parity


@pytest.fixture(scope="module")
def dockyard_root(dockerd, docker_busybox_image: str, tmp_path_factory) -> Path:
    """A dockyard data root holding docker's busybox image (loaded from its save)."""
    from dockyard.image.service import ImageService

    root = tmp_path_factory.mktemp("dyroot")
    saved = root / "busybox.tar"
    dockerd.cli("save", "-o", str(saved), docker_busybox_image)
    svc = ImageService(root / "data")
    try:
        svc.load(str(saved))
        svc.store.resolve(docker_busybox_image)
    finally:
        svc.close()
    saved.unlink()
    return root


def dockyard_build(root: Path, ctx_dir: Path, tag: str, meta: dict, no_cache: bool = False):
    from dockyard.build.context import BuildContext
    from dockyard.build.executor import Builder, BuildOptions
    from dockyard.image.service import ImageService

    svc = ImageService(root / "data")
    log: list[str] = []
    builder = Builder(svc, root / "exec", emit=lambda m: log.append(m.get("stream", "")))
    try:
        result = builder.build(BuildContext.from_dir(str(ctx_dir)), BuildOptions(
            tags=(tag,), build_args=meta.get("build_args", {}), target=meta.get("target"),
            no_cache=no_cache))
        return result, "".join(log)
    finally:
        builder.close()
        svc.close()


def dockyard_tree(root: Path, image: str, work: Path) -> tuple[dict, dict]:
    from dockyard.image.service import ImageService
    from dockyard.image.unpack import layer_specs

    svc = ImageService(root / "data")
    try:
        rec = svc.store.resolve(image)
        raw = json.loads(svc.store.content.read_bytes(rec.id))
        streams = [svc.store.content.open(s.blob) for s in layer_specs(svc.store, rec)]
        parity.flatten_layers(streams, work)
    finally:
        svc.close()
    return parity.tree(work), raw


def docker_tree(dockerd, image: str, work: Path) -> tuple[dict, dict]:
    saved = work.parent / (work.name + ".tar")
    dockerd.cli("save", "-o", str(saved), image)
    try:
        parity.flatten_layers(parity.docker_layers(saved), work)
        info = json.loads(dockerd.cli("image", "inspect", image).stdout)[0]
        info["_history"] = parity.saved_config(saved).get("history") or []
    finally:
        saved.unlink()
    return parity.tree(work), info


@pytest.mark.parametrize("case", parity.cases())
def test_build_matches_docker(dockerd, dockyard_root: Path, tmp_path: Path, case: str
                              ) -> None:
    meta = parity.meta(case)
    ctx_dir = parity.materialize(case, tmp_path / "ctx")
    tag = f"parity-{case}:{os.environ.get('DOCKYARD_TEST_TOKEN', 'x')}"
    args = []
    for k, v in meta.get("build_args", {}).items():
        args += ["--build-arg", f"{k}={v}"]
    if meta.get("target"):
        args += ["--target", meta["target"]]
    dockerd.cli("build", "-q", "-t", tag, *args, str(ctx_dir), timeout=300)
    dockyard_build(dockyard_root, ctx_dir, tag, meta)

    d_tree, d_info = docker_tree(dockerd, tag, tmp_path / "docker-fs")
    y_tree, y_raw = dockyard_tree(dockyard_root, tag, tmp_path / "dockyard-fs")
    dockerd.cli("rmi", tag, check=False)
    diff = parity.tree_diff(d_tree, y_tree)
    assert not diff, f"{case}: filesystems differ:\n" + "\n".join(diff)

    want = parity.config_fields(d_info["Config"])
    got = parity.config_fields(y_raw.get("config") or {})
    assert got == want, f"{case}: configs differ:\ndocker:   {want}\ndockyard: {got}"
    assert (y_raw.get("author") or "") == (d_info.get("Author") or "")
    # one history entry per step, empty_layer exactly where docker has no layer
    want_h = [bool(h.get("empty_layer")) for h in d_info["_history"]]
    got_h = [bool(h.get("empty_layer")) for h in y_raw.get("history") or []]
    assert got_h == want_h, f"{case}: history empty_layer flags differ:\n" + "\n".join(
        f"{a!s:5} {b!s:5} {h.get('created_by', '')[:70]}"
        for a, b, h in zip(want_h, got_h, d_info["_history"], strict=False))
