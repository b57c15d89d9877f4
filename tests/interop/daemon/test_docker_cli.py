"""The real docker CLI against ``dockyardd``: version, info, images, inspect,
tag, rmi, history, save | load, import, events, and pull/push through a
dockyard registry. The CLI negotiates its API version down from /_ping."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
import time

import pytest

from tests.integration.daemon.harness import bootstrap_busybox, running_daemon, short_workdir

pytestmark = pytest.mark.interop

DOCKER = "/usr/bin/docker"


@pytest.fixture
def env(tmp_path_factory):
    if not shutil.which(DOCKER):
        pytest.fail(f"{DOCKER} is missing: apt-get install docker.io (the CLI is needed)")
    if os.geteuid() != 0:
        pytest.fail("interop tests need root")
    work = short_workdir(tmp_path_factory, "cli")
    bootstrap_busybox(work / "root")
    with running_daemon(work) as d:
        yield d, {**os.environ, "DOCKER_HOST": d.host,
                  "DOCKER_CONFIG": str(work / "docker-config")}


def docker(env, *args: str, input: bytes | None = None, check: bool = True
           ) -> subprocess.CompletedProcess:
    out = subprocess.run([DOCKER, *args], input=input, capture_output=True, env=env[1],
                         timeout=120)
    if check and out.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed ({out.returncode}):\n"
                             f"{out.stderr.decode()}\n{env[0].log_tail()}")
    return out


def text(out: subprocess.CompletedProcess) -> str:
    return out.stdout.decode()


def test_version_and_info(env):
    v = json.loads(text(docker(env, "version", "--format", "{{json .Server}}")))
    assert v["ApiVersion"] == "1.41" and v["Os"] == "linux"
    info = json.loads(text(docker(env, "info", "--format", "{{json .}}")))
    assert info["Images"] == 1 and info["NCPU"] == os.cpu_count()
    assert info["DockerRootDir"] == str(env[0].data_root)
    plain = text(docker(env, "info"))
    assert "Server Version: 0.1.0" in plain and "Storage Driver:" in plain


def test_images_inspect_history(env):
    rows = text(docker(env, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"))
    assert rows.startswith("busybox:latest ")
    inspect = json.loads(text(docker(env, "image", "inspect", "busybox")))
    assert inspect[0]["RepoTags"] == ["busybox:latest"]
    assert text(docker(env, "image", "inspect", "--format", "{{.Os}}", "busybox")).strip() \
        == "linux"
    hist = text(docker(env, "history", "--no-trunc", "busybox"))
    assert inspect[0]["Id"] in hist
    missing = docker(env, "image", "inspect", "nosuch", check=False)
    assert missing.returncode == 1 and b"No such image: nosuch" in missing.stderr


def test_tag_and_rmi(env):
    docker(env, "tag", "busybox", "mine/app:2")
    rows = text(docker(env, "images", "--format", "{{.Repository}}:{{.Tag}}")).split()
    assert sorted(rows) == ["busybox:latest", "mine/app:2"]
    out = text(docker(env, "rmi", "mine/app:2"))
    assert out.strip() == "Untagged: mine/app:2"
    image_id = text(docker(env, "images", "-q", "--no-trunc")).strip()
    out = text(docker(env, "rmi", "busybox"))
    assert "Untagged: busybox:latest" in out and f"Deleted: {image_id}" in out
    assert text(docker(env, "images", "-q")).strip() == ""
    gone = docker(env, "rmi", "busybox", check=False)
    assert gone.returncode == 1 and b"No such image" in gone.stderr


def test_save_pipe_load_round_trip(env):
    saved = docker(env, "save", "busybox").stdout
    with tarfile.open(fileobj=io.BytesIO(saved)) as tar:
        assert "manifest.json" in tar.getnames()
    image_id = text(docker(env, "images", "-q", "--no-trunc")).strip()
    docker(env, "rmi", "busybox")
    out = text(docker(env, "load", input=saved))
    assert "Loaded image: busybox:latest" in out
    assert text(docker(env, "images", "-q", "--no-trunc")).strip() == image_id
    path = env[0].workdir / "bb.tar"
    docker(env, "save", "-o", str(path), "busybox")
    docker(env, "rmi", "busybox")
    assert "Loaded image: busybox:latest" in text(docker(env, "load", "-i", str(path)))


def test_import_with_change(env):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("greeting")
        data = b"hello\n"
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    out = text(docker(env, "import", "-c", "WORKDIR /srv", "-m", "imported here", "-",
                      "imp:1", input=buf.getvalue())).strip()
    assert out.startswith("sha256:")
    doc = json.loads(text(docker(env, "image", "inspect", "imp:1")))[0]
    assert doc["Id"] == out and doc["Config"]["WorkingDir"] == "/srv"
    assert doc["Comment"] == "imported here"


def test_events_since(env):
    docker(env, "tag", "busybox", "evt:1")
    time.sleep(1.1)   # the CLI sends whole seconds: `--until 0s` is this second's start
    out = text(docker(env, "events", "--since", "1m", "--until", "0s", "--format",
                      "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}"))
    assert "image tag evt:1" in out.splitlines()


def test_pull_and_push_through_a_dockyard_registry(env, tmp_path):
    from tests.interop.registry.peers import dockyard_registry

    with dockyard_registry(tmp_path) as reg:
        target = f"{reg.host}/team/bb:v1"
        docker(env, "tag", "busybox", target)
        out = text(docker(env, "push", target))
        assert "v1: digest: sha256:" in out
        docker(env, "rmi", target, "busybox")
        out = text(docker(env, "pull", target))
        assert f"Downloaded newer image for {target}" in out
        rows = text(docker(env, "images", "--digests", "--format",
                           "{{.Repository}}:{{.Tag}} {{.Digest}}"))
        assert rows.startswith(f"{reg.host}/team/bb:v1 sha256:")
        missing = docker(env, "pull", f"{reg.host}/team/nope:v1", check=False)
        assert missing.returncode == 1 and missing.stderr


def test_search_offline_is_a_clear_error(env):
    out = docker(env, "search", "busybox", check=False)
    if out.returncode == 0:
        pytest.skip("this machine reaches Docker Hub: the offline answer can't be tested")
    assert b"index is unreachable" in out.stderr


@pytest.mark.parametrize("mode", ["basic", "token"])
def test_login_then_push_and_pull_with_credentials(env, tmp_path, mode):
    """``docker login`` asks dockyardd's POST /auth; push/pull then carry the
    credentials in X-Registry-Auth, which the daemon hands to the registry."""
    from tests.interop.registry.peers import dockyard_registry, make_htpasswd

    htpasswd = make_htpasswd(tmp_path / "htpasswd", "alice", "wonderland")
    with dockyard_registry(tmp_path, "--htpasswd", str(htpasswd), "--auth", mode) as reg:
        bad = docker(env, "login", "-u", "alice", "--password-stdin", reg.host,
                     input=b"wrong\n", check=False)
        assert bad.returncode != 0
        assert b"unauthorized" in bad.stderr.lower() or b"401" in bad.stderr
        out = docker(env, "login", "-u", "alice", "--password-stdin", reg.host,
                     input=b"wonderland\n")
        assert b"Login Succeeded" in out.stdout
        target = f"{reg.host}/private/bb:1"
        docker(env, "tag", "busybox", target)
        assert "1: digest: sha256:" in text(docker(env, "push", target))
        docker(env, "rmi", target)
        pulled = text(docker(env, "pull", target))
        assert "Digest: sha256:" in pulled and target in pulled
        assert target in text(docker(env, "images", "--format", "{{.Repository}}:{{.Tag}}"))
        docker(env, "logout", reg.host)
        docker(env, "rmi", target)
        anon = docker(env, "pull", target, check=False)
        assert anon.returncode != 0
