"""The build cache: a fully cached rebuild runs no RUN step (also from a new
process), a content change rebuilds from the step that reads it, mtimes alone
change nothing, --no-cache runs everything, cache mounts persist."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.integration.build.conftest import write

DOCKERFILE = """FROM busybox:latest
ENV MODE=test
WORKDIR /app
COPY early/ /app/early/
RUN echo early-run > /app/early.out
COPY late.txt /app/late.txt
RUN cat /app/late.txt > /app/late.out
CMD ["cat", "/app/late.out"]
"""


def test_cached_rebuild_runs_nothing(build, tmp_path: Path, build_root: Path) -> None:
    ctx = write(tmp_path / "ctx", {"Dockerfile": DOCKERFILE, "early/a": "a\n",
                                   "late.txt": "v1\n"})
    first = build(ctx, tags=("cache-test:1",))
    assert first.result.runs == 2
    second = build(ctx, tags=("cache-test:1",))
    assert second.result.runs == 0, second.log
    assert "Running in" not in second.log
    assert second.log.count("Using cache") == 7
    assert second.result.image_id == first.result.image_id
    # a new process (the cache lives in SQLite under the data root)
    iid = tmp_path / "iid"
    out = subprocess.run([sys.executable, "-m", "dockyard.cli.main", "--data-root",
                          str(build_root / "data"), "build", "--progress", "plain",
                          "--iidfile", str(iid), str(ctx)],
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "DOCKYARD_EXEC_ROOT": str(build_root / "exec")})
    assert out.returncode == 0, out.stderr
    assert "Running in" not in out.stdout
    assert iid.read_text() == first.result.image_id


def test_one_changed_file_rebuilds_from_its_step(build, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"Dockerfile": DOCKERFILE, "early/a": "a\n",
                                   "late.txt": "v1\n"})
    build(ctx)
    (ctx / "late.txt").write_text("v2\n")
    again = build(ctx)
    assert again.result.runs == 1, again.log
    head, _, tail = again.log.partition("COPY late.txt")
    assert head.count("Using cache") == 4 and "Running in" not in head
    assert "Using cache" not in tail and "Running in" in tail
    # touching (mtime only) changes nothing
    later = time.time() + 5
    os.utime(ctx / "late.txt", (later, later))
    os.utime(ctx / "early" / "a", (later, later))
    touched = build(ctx)
    assert touched.result.runs == 0, touched.log
    assert touched.result.image_id == again.result.image_id


def test_no_cache_runs_every_step(build, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"Dockerfile": DOCKERFILE, "early/a": "a\n",
                                   "late.txt": "v1\n"})
    build(ctx)
    fresh = build(ctx, no_cache=True)
    assert fresh.result.runs == 2
    assert "Using cache" not in fresh.log


def test_build_args_are_in_the_key(build, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox:latest\nARG V=1\n"
                                   "RUN echo $V > /v\n"})
    build(ctx)
    assert build(ctx).result.runs == 0
    assert build(ctx, build_args={"V": "2"}).result.runs == 1
    assert build(ctx, build_args={"V": "2"}).result.runs == 0


def test_cache_mount_persists(build, image_file, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"Dockerfile": (
        "FROM busybox:latest\n"
        f"RUN --mount=type=cache,target=/cache,id=dytest-{tmp_path.name} "
        "echo x >> /cache/count && wc -l < /cache/count > /seen && ls -A /cache > /ls\n")})
    first = build(ctx, no_cache=True)
    second = build(ctx, no_cache=True)
    assert first.result.runs == 1 and second.result.runs == 1
    assert image_file(first.result.image_id, "/seen").strip() == b"1"
    assert image_file(second.result.image_id, "/seen").strip() == b"2"
    # the cache directory itself is not part of the image
    assert image_file(second.result.image_id, "/cache/count") is None
