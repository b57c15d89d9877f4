"""``docker build`` (the 20.10 CLI, legacy builder) and docker-py's ``images.build``
against ``dockyardd``: the legacy build protocol end to end."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.integration.build.daemon import build_daemon
from tests.integration.daemon.harness import bootstrap_busybox, short_workdir

DOCKER = "/usr/bin/docker"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    from tests.conftest import require_root

    require_root()
    work = short_workdir(tmp_path_factory, "bd")
    bootstrap_busybox(work / "root", "busybox:latest")
    with build_daemon(work) as d:
        yield d


def docker(d, *args: str, check: bool = True, input: bytes | None = None):
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    env.pop("DOCKER_HOST", None)
    r = subprocess.run([DOCKER, "-H", d.host, *args], capture_output=True, env=env,
                       timeout=180, input=input)
    if check and r.returncode != 0:
        raise AssertionError(f"docker {args} failed ({r.returncode}): {r.stdout!r} "
                             f"{r.stderr!r}\n{d.log_tail()}")
    return r


def make_ctx(root: Path) -> Path:
    root.mkdir()
    (root / "app.txt").write_text("app\n")
    (root / "ignored.log").write_text("nope\n")
    (root / ".dockerignore").write_text("*.log\n")
    (root / "Dockerfile").write_text(
        "FROM busybox:latest AS base\nARG WHO=nobody\nCOPY . /ctx/\n"
        "RUN echo \"hello $WHO\" > /greeting && ls /ctx > /listing\n"
        "FROM base AS final\nLABEL stage=final\nCMD [\"cat\", \"/greeting\"]\n")
    return root


def test_docker_cli_build(daemon, tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path / "ctx")
    r = docker(daemon, "build", "-t", "dy-cli:1", "-t", "dy-cli:2", "--build-arg",
               "WHO=docker", "--label", "from=cli", str(ctx))
    out = r.stdout.decode()
    assert "Step 4/7 : RUN" in out and "Successfully tagged dy-cli:2" in out
    info = json.loads(docker(daemon, "image", "inspect", "dy-cli:1").stdout)[0]
    assert info["Config"]["Labels"] == {"stage": "final", "from": "cli"}
    assert info["Config"]["Cmd"] == ["cat", "/greeting"]
    assert set(info["RepoTags"]) == {"dy-cli:1", "dy-cli:2"}
    # -q prints only the id; a cached rebuild gives the same image
    q = docker(daemon, "build", "-q", "--build-arg", "WHO=docker", "--label", "from=cli",
               str(ctx)).stdout.decode().strip()
    assert q == info["Id"]
    # --target and -f with a Dockerfile outside the context
    other = tmp_path / "Other.dockerfile"
    other.write_text("FROM busybox:latest\nCOPY app.txt /\nENV X=1\n")
    t = docker(daemon, "build", "-q", "-f", str(other), str(ctx)).stdout.decode().strip()
    assert t.startswith("sha256:")
    other_info = json.loads(docker(daemon, "image", "inspect", t).stdout)[0]
    assert "X=1" in other_info["Config"]["Env"]
    docker(daemon, "build", "-q", "--target", "base", "-t", "dy-cli:base", str(ctx))
    base = json.loads(docker(daemon, "image", "inspect", "dy-cli:base").stdout)[0]
    assert "Labels" not in base["Config"] or not base["Config"]["Labels"]


def test_docker_cli_build_failure(daemon, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox:latest\nRUN echo before-fail; exit 7\n")
    r = docker(daemon, "build", str(ctx), check=False)
    assert r.returncode != 0
    text = (r.stdout + r.stderr).decode()
    assert "returned a non-zero code: 7" in text and "before-fail" in text
    (ctx / "Dockerfile").write_text("FROM busybox:latest\nBOGUS thing\n")
    r = docker(daemon, "build", str(ctx), check=False)
    assert r.returncode != 0
    assert "unknown instruction: BOGUS" in (r.stdout + r.stderr).decode()


def test_docker_cli_build_from_stdin(daemon) -> None:
    r = docker(daemon, "build", "-q", "-", input=b"FROM busybox:latest\nENV FROM_STDIN=1\n")
    assert r.stdout.decode().strip().startswith("sha256:")


def test_docker_py_images_build(daemon, tmp_path: Path) -> None:
    import docker as dockerpy

    ctx = make_ctx(tmp_path / "ctx")
    client = dockerpy.DockerClient(base_url=daemon.host, version="1.41")
    try:
        image, logs = client.images.build(path=str(ctx), tag="dy-py:1",
                                          buildargs={"WHO": "py"}, labels={"via": "py"},
                                          rm=True)
        assert "dy-py:1" in image.tags
        assert image.labels.get("via") == "py"
        assert any("Successfully built" in (c.get("stream") or "") for c in logs)
        # a gzip-compressed custom context (docker-py's encoding="gzip")
        import gzip
        import io
        import tarfile

        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w") as tar:
            data = b"FROM busybox:latest\nENV GZ=1\n"
            info = tarfile.TarInfo("Dockerfile")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        stream = client.api.build(fileobj=io.BytesIO(gzip.compress(raw.getvalue())),
                                  custom_context=True, encoding="gzip", tag="dy-py:gz",
                                  decode=True)
        assert any("aux" in m for m in stream)
        assert "GZ=1" in client.images.get("dy-py:gz").attrs["Config"]["Env"]
        (ctx / "Dockerfile").write_text("FROM busybox:latest\nRUN exit 4\n")
        with pytest.raises(dockerpy.errors.BuildError, match="non-zero code: 4"):
            client.images.build(path=str(ctx))
    finally:
        client.close()


def test_cache_survives_daemon_restart(tmp_path_factory, tmp_path: Path) -> None:
    work = short_workdir(tmp_path_factory, "br")
    bootstrap_busybox(work / "root", "busybox:latest")
    ctx = make_ctx(tmp_path / "ctx")
    with build_daemon(work) as d:
        first = docker(d, "build", "-t", "restart:1", str(ctx)).stdout.decode()
        assert "Running in" in first
    with build_daemon(work) as d:
        second = docker(d, "build", "-t", "restart:1", str(ctx)).stdout.decode()
        assert "Running in" not in second and "Using cache" in second
        ids = {line.split()[-1] for line in (first + second).splitlines()
               if line.startswith("Successfully built")}
        assert len(ids) == 1


def test_concurrent_builds_and_iidfile(daemon, tmp_path: Path) -> None:
    import threading

    ctxs = []
    for k in range(3):
        ctx = tmp_path / f"ctx{k}"
        ctx.mkdir()
        (ctx / "f").write_text(f"{k}\n")
        (ctx / "Dockerfile").write_text(
            f"FROM busybox:latest\nCOPY f /f\nRUN cat /f > /g && sleep 0.{k + 2}\n"
            f"ENV K={k}\n")
        ctxs.append(ctx)
    results: dict[int, subprocess.CompletedProcess] = {}

    def one(k: int) -> None:
        results[k] = docker(daemon, "build", "--iidfile", str(tmp_path / f"iid{k}"),
                            "-t", f"conc:{k}", str(ctxs[k]), check=False)

    threads = [threading.Thread(target=one, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(3):
        assert results[k].returncode == 0, results[k].stderr
        iid = (tmp_path / f"iid{k}").read_text().strip()
        info = json.loads(docker(daemon, "image", "inspect", f"conc:{k}").stdout)[0]
        assert info["Id"] == iid and f"K={k}" in info["Config"]["Env"]


def test_builder_prune_empties_the_cache(daemon, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox:latest\nRUN echo prune-me > /p\n")
    docker(daemon, "build", str(ctx))
    assert "Running in" not in docker(daemon, "build", str(ctx)).stdout.decode()
    out = docker(daemon, "builder", "prune", "-f").stdout.decode()
    assert "Total reclaimed space" in out
    assert "Running in" in docker(daemon, "build", str(ctx)).stdout.decode()
