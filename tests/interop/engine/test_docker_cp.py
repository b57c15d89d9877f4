"""The real docker CLI against dockyardd: docker cp both ways (file, directory,
``dir/.``, into a volume, stopped and running containers), docker export, docker diff."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from tests.interop.engine.test_docker_volume import NO_NET, TOKEN, daemon_env, docker, text

pytestmark = pytest.mark.interop


@pytest.fixture
def env(tmp_path_factory):
    yield from daemon_env(tmp_path_factory, "cp")


def _tree(root: Path) -> Path:
    (root / "dir" / "sub").mkdir(parents=True)
    (root / "dir" / "a.txt").write_text("alpha\n")
    (root / "dir" / "sub" / "b.txt").write_text("beta\n")
    os.symlink("a.txt", root / "dir" / "link")
    (root / "file.txt").write_text("single\n")
    return root


@pytest.mark.parametrize("running", [False, True])
def test_cp_both_ways(env, tmp_path, running):
    src = _tree(tmp_path / "src")
    cname = f"cp-{'run' if running else 'stop'}-{TOKEN}"
    vol = f"cpvol-{TOKEN}-{int(running)}"
    if running:
        docker(env, "run", *NO_NET, "-d", "--name", cname, "-v", f"{vol}:/data", "busybox:latest",
               "sleep", "300")
    else:
        docker(env, "create", *NO_NET, "--name", cname, "-v", f"{vol}:/data",
               "busybox:latest", "true")
    try:
        docker(env, "cp", str(src / "file.txt"), f"{cname}:/tmp/")
        docker(env, "cp", str(src / "dir"), f"{cname}:/tmp/copied")
        docker(env, "cp", str(src / "dir") + "/.", f"{cname}:/data")
        out = tmp_path / "out"
        out.mkdir()
        docker(env, "cp", f"{cname}:/tmp/file.txt", str(out / "back.txt"))
        assert (out / "back.txt").read_text() == "single\n"
        docker(env, "cp", f"{cname}:/tmp/copied", str(out / "copied"))
        assert (out / "copied" / "sub" / "b.txt").read_text() == "beta\n"
        assert os.readlink(out / "copied" / "link") == "a.txt"
        (out / "dot").mkdir()
        docker(env, "cp", f"{cname}:/data/.", str(out / "dot"))
        assert sorted(os.listdir(out / "dot")) == ["a.txt", "link", "sub"]
        # what went into /data is in the volume, seen from the host
        data = env[0].data_root / "volumes" / vol / "_data"
        assert (data / "sub" / "b.txt").read_text() == "beta\n"
        # the whole filesystem, volume included
        docker(env, "cp", f"{cname}:/", str(out / "root"))
        assert (out / "root" / "data" / "sub" / "b.txt").read_text() == "beta\n"
        assert (out / "root" / "bin" / "busybox").is_file()
        # tar on stdout
        tar = docker(env, "cp", f"{cname}:/etc/passwd", "-").stdout
        with tarfile.open(fileobj=io.BytesIO(tar)) as t:
            assert t.getnames() == ["passwd"]
        missing = docker(env, "cp", f"{cname}:/nope", str(out), check=False)
        assert missing.returncode != 0 and b"No such container:path" in missing.stderr
    finally:
        docker(env, "rm", "-f", "-v", cname, check=False)
        docker(env, "volume", "rm", vol, check=False)


def test_export_and_diff(env):
    cname = f"diff-{TOKEN}"
    docker(env, "run", *NO_NET, "--name", cname, "busybox:latest", "sh", "-c",
           "echo x >> /etc/passwd; rm /etc/group; mkdir -p /newd; touch /newd/f")
    try:
        changes = sorted(text(docker(env, "diff", cname)).splitlines())
        assert changes == sorted(["C /etc", "C /etc/passwd", "D /etc/group", "A /newd",
                                  "A /newd/f"])
        tar = docker(env, "export", cname).stdout
        with tarfile.open(fileobj=io.BytesIO(tar)) as t:
            names = set(t.getnames())
        assert {"bin/busybox", "etc/passwd", "newd/f"} <= names and "etc/group" not in names
    finally:
        docker(env, "rm", "-f", cname, check=False)


def test_docker_py_archive_diff_export(env):
    import docker as docker_py
    client = docker_py.DockerClient(base_url=env[0].host, version="1.41")
    cname = f"dpy-cp-{TOKEN}"
    try:
        c = client.containers.create("busybox:latest", "true", name=cname,
                                     network_mode="none")
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as t:
            info = tarfile.TarInfo("hello.txt")
            info.size = 5
            t.addfile(info, io.BytesIO(b"hello"))
        assert c.put_archive("/tmp", buf.getvalue()) is True
        stream, stat = c.get_archive("/tmp/hello.txt")
        assert stat["name"] == "hello.txt" and stat["size"] == 5
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as t:
            assert t.extractfile("hello.txt").read() == b"hello"
        assert {"Path": "/tmp/hello.txt", "Kind": 1} in c.diff()
        with tarfile.open(fileobj=io.BytesIO(b"".join(c.export()))) as t:
            assert "tmp/hello.txt" in t.getnames()
        with pytest.raises(docker_py.errors.NotFound):
            c.get_archive("/nope")
    finally:
        docker(env, "rm", "-f", cname, check=False)
        client.close()
