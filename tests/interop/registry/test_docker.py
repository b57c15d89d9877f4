"""docker (a private dockerd) pushes to and pulls from ``dockyard registry serve``
on 127.0.0.1 (plain HTTP: docker trusts loopback), anonymously, with Basic auth
and with the token auth docker's client expects; dockyard pulls what docker pushed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from dockyard.image.store import ImageStore
from tests.interop.registry.peers import (
    dockyard_cmd,
    dockyard_env,
    dockyard_registry,
    make_htpasswd,
    run,
)
from tests.support.dockerd import DOCKER_CLI


def docker(dockerd, *args: str, config: Path | None = None, input: str | None = None,
           check: bool = True) -> subprocess.CompletedProcess:
    env = dict(dockerd.env)
    if config is not None:
        env["DOCKER_CONFIG"] = str(config)
    return run([DOCKER_CLI, "-H", dockerd.host, *args], env=env, input=input, check=check)


def test_docker_push_and_pull_against_dockyard(tmp_path: Path, dockerd, docker_busybox_image):
    with dockyard_registry(tmp_path) as reg:
        name = f"{reg.host}/docker/busybox:v1"
        docker(dockerd, "tag", docker_busybox_image, name)
        out = docker(dockerd, "push", name).stdout
        assert "v1: digest: sha256:" in out
        pushed_digest = out.split("digest: ")[1].split()[0]
        docker(dockerd, "rmi", name)
        docker(dockerd, "pull", name)
        inspect = json.loads(docker(dockerd, "image", "inspect", name).stdout)[0]
        assert f"{reg.host}/docker/busybox@{pushed_digest}" in inspect["RepoDigests"]
        ran = docker(dockerd, "run", "--rm", "--network", "none", name, "echo", "pulled ok")
        assert ran.stdout.strip() == "pulled ok"
        # Pushing again: every layer already exists.
        assert "Layer already exists" in docker(dockerd, "push", name).stdout
        # And dockyard's client reads what docker wrote (Docker media types).
        root = tmp_path / "dy"
        run(dockyard_cmd("pull", "-q", name), env=dockyard_env(root))
        store = ImageStore(root)
        try:
            assert str(store.resolve(name).manifest_digest) == pushed_digest
        finally:
            store.close()
        docker(dockerd, "rmi", name)


@pytest.mark.parametrize("mode", ["token", "basic"])
def test_docker_login_and_auth(tmp_path: Path, dockerd, docker_busybox_image, mode: str):
    htpasswd = make_htpasswd(tmp_path / "htpasswd", "alice", "wonderland")
    cfg = tmp_path / "docker-config"
    with dockyard_registry(tmp_path, "--htpasswd", str(htpasswd), "--auth", mode) as reg:
        name = f"{reg.host}/sec/busybox:v1"
        docker(dockerd, "tag", docker_busybox_image, name)
        try:
            denied = docker(dockerd, "push", name, config=cfg, check=False)
            assert denied.returncode != 0
            said = (denied.stdout + denied.stderr).lower()
            assert any(m in said for m in ("unauthorized", "authentication required", "denied",
                                           "no basic auth credentials")), said
            bad = docker(dockerd, "login", reg.host, "-u", "alice", "--password-stdin",
                         config=cfg, input="nope", check=False)
            assert bad.returncode != 0
            docker(dockerd, "login", reg.host, "-u", "alice", "--password-stdin", config=cfg,
                   input="wonderland")
            assert "digest: sha256:" in docker(dockerd, "push", name, config=cfg).stdout
            docker(dockerd, "rmi", name)
            docker(dockerd, "pull", name, config=cfg)
            # dockyard reads docker's login from the same config.json.
            run(dockyard_cmd("pull", "-q", name), env=dockyard_env(tmp_path / "dy", cfg))
        finally:
            docker(dockerd, "rmi", name, check=False)
