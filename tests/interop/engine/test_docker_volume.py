"""The real docker CLI and docker-py against dockyardd: volumes and -v mounts.

docker volume create/ls/inspect/rm/prune, ``docker run -v name:/data`` (data kept
across containers, docker's copy-up into a new volume), anonymous volumes removed by
``rm -v``, "volume is in use", and docker-py's volumes collection.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from tests.integration.daemon.harness import bootstrap_busybox, running_daemon, short_workdir

pytestmark = pytest.mark.interop

DOCKER = "/usr/bin/docker"
TOKEN = os.environ.get("DOCKYARD_TEST_TOKEN", "dyt")
NO_NET = ("--network", "none")   # these tests are about storage: no bridge needed


def daemon_env(tmp_path_factory, name: str):
    """A dockyardd with a busybox image and docker CLI settings; containers removed
    at the end (shared by the cp tests)."""
    if not shutil.which(DOCKER):
        pytest.fail(f"{DOCKER} is missing: apt-get install docker.io (the CLI is needed)")
    if os.geteuid() != 0:
        pytest.fail("interop tests need root")
    work = short_workdir(tmp_path_factory, name)
    bootstrap_busybox(work / "root")
    # a pool of our own: these tests need no bridge, and a busy host's predefined
    # pools may all be taken by other daemons' bridges
    octet = 64 + int.from_bytes(os.urandom(1), "big") % 128
    (work / "daemon.json").write_text(json.dumps(
        {"default-address-pools": [{"base": f"10.{octet}.0.0/16", "size": 24}]}))
    with running_daemon(work) as d:
        e = (d, {**os.environ, "DOCKER_HOST": d.host,
                 "DOCKER_CONFIG": str(work / "docker-config")})
        try:
            yield e
        finally:
            ids = docker(e, "ps", "-aq", check=False).stdout.split()
            if ids:
                docker(e, "rm", "-f", *[i.decode() for i in ids], check=False)


@pytest.fixture
def env(tmp_path_factory):
    yield from daemon_env(tmp_path_factory, "vol")


def docker(env, *args: str, check: bool = True, input: bytes | None = None
           ) -> subprocess.CompletedProcess:
    out = subprocess.run([DOCKER, *args], capture_output=True, env=env[1], timeout=120,
                         input=input)
    if check and out.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed ({out.returncode}):\n"
                             f"{out.stderr.decode()}\n{env[0].log_tail()}")
    return out


def text(out: subprocess.CompletedProcess) -> str:
    return out.stdout.decode()


def run_logged(env, name: str, *args: str) -> str:
    """``docker run`` detached, waited for, its logs read and the container removed
    (the output does not depend on attaching before the start)."""
    docker(env, "run", *NO_NET, "-d", "--name", name, *args)
    try:
        assert text(docker(env, "wait", name)).strip() == "0", text(docker(env, "logs", name))
        return text(docker(env, "logs", name))
    finally:
        docker(env, "rm", "-f", name, check=False)


def test_volume_verbs(env):
    d, _ = env
    name = f"dyv-{TOKEN}"
    assert text(docker(env, "volume", "create", "--label", "team=a", name)).strip() == name
    docker(env, "volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs",
           "-o", "o=size=1m", f"{name}-tmp")
    doc = json.loads(text(docker(env, "volume", "inspect", name)))[0]
    assert doc["Name"] == name and doc["Driver"] == "local" and doc["Scope"] == "local"
    assert doc["Labels"] == {"team": "a"}
    assert doc["Mountpoint"] == str(d.data_root / "volumes" / name / "_data")
    assert text(docker(env, "volume", "inspect", "-f", "{{.Options.type}}",
                       f"{name}-tmp")).strip() == "tmpfs"
    listed = text(docker(env, "volume", "ls", "-q")).split()
    assert sorted(listed) == sorted([name, f"{name}-tmp"])
    assert text(docker(env, "volume", "ls", "-q", "-f", "label=team=a")).split() == [name]
    table = text(docker(env, "volume", "ls"))
    assert table.splitlines()[0].split() == ["DRIVER", "VOLUME", "NAME"]
    bad = docker(env, "volume", "inspect", "nosuchvol", check=False)
    assert bad.returncode != 0 and b"no such volume" in bad.stderr.lower()
    docker(env, "volume", "rm", name)
    out = text(docker(env, "volume", "prune", "-f"))
    assert f"{name}-tmp" in out
    assert text(docker(env, "volume", "ls", "-q")).split() == []


def test_run_with_named_volume_keeps_data_and_copies_up(env):
    d, _ = env
    vol = f"dyrun-{TOKEN}"
    docker(env, "run", *NO_NET, "--rm", "-v", f"{vol}:/data", "busybox:latest", "sh", "-c",
           "echo persisted > /data/f")
    out = run_logged(env, f"reader-{TOKEN}", "-v", f"{vol}:/data", "busybox:latest",
                     "cat", "/data/f")
    assert out == "persisted\n"
    # a new, empty volume over the image's /etc gets the image's files (docker's copy-up)
    docker(env, "run", *NO_NET, "--rm", "-v", f"cu-{TOKEN}:/etc", "busybox:latest", "true")
    data = d.data_root / "volumes" / f"cu-{TOKEN}" / "_data"
    assert (data / "passwd").is_file()
    # a volume in use cannot be removed
    cname = f"holder-{TOKEN}"
    docker(env, "create", *NO_NET, "--name", cname, "-v", f"{vol}:/data", "busybox:latest", "true")
    dangling = text(docker(env, "volume", "ls", "-q", "-f", "dangling=true")).split()
    assert vol not in dangling and f"cu-{TOKEN}" in dangling
    busy = docker(env, "volume", "rm", vol, check=False)
    assert busy.returncode != 0 and b"volume is in use" in busy.stderr
    mounts = json.loads(text(docker(env, "inspect", "-f", "{{json .Mounts}}", cname)))
    assert mounts == [{"Type": "volume", "Name": vol, "Source": str(
        d.data_root / "volumes" / vol / "_data"), "Destination": "/data", "Driver": "local",
        "Mode": "z", "RW": True, "Propagation": ""}]
    docker(env, "rm", cname)
    docker(env, "volume", "rm", vol, f"cu-{TOKEN}")


def test_anonymous_volumes_go_with_rm_v(env):
    cname = f"anon-{TOKEN}"
    docker(env, "create", *NO_NET, "--name", cname, "-v", "/anon", "busybox:latest", "true")
    [anon] = text(docker(env, "volume", "ls", "-q")).split()
    assert len(anon) == 64
    docker(env, "rm", "-v", cname)
    assert text(docker(env, "volume", "ls", "-q")).split() == []


def test_bind_mount_and_tmpfs(env, tmp_path):
    host = tmp_path / "hostdir"
    host.mkdir()
    (host / "in.txt").write_text("from the host\n")
    out = run_logged(env, f"bind-{TOKEN}", "-v", f"{host}:/h:ro", "--tmpfs", "/scratch",
                     "busybox:latest", "sh", "-c",
                     "cat /h/in.txt; touch /h/x 2>/dev/null || echo ro; "
                     "grep -c ' /scratch tmpfs' /proc/mounts")
    assert out.split("\n")[:3] == ["from the host", "ro", "1"]


def test_docker_py_volumes(env):
    import docker as docker_py
    client = docker_py.DockerClient(base_url=env[0].host, version="1.41")
    try:
        name = f"dypy-{TOKEN}"
        v = client.volumes.create(name=name, driver="local", labels={"k": "v"})
        assert v.name == name and v.attrs["Labels"] == {"k": "v"}
        assert [x.name for x in client.volumes.list(filters={"label": "k=v"})] == [name]
        assert client.volumes.get(name).attrs["Mountpoint"].endswith(f"/{name}/_data")
        v.remove()
        with pytest.raises(docker_py.errors.NotFound):
            client.volumes.get(name)
    finally:
        client.close()


def test_inspect_mounts_and_volumes_from(env, tmp_path):
    first, second = f"vf1-{TOKEN}", f"vf2-{TOKEN}"
    docker(env, "create", *NO_NET, "--name", first, "-v", f"vfvol-{TOKEN}:/shared",
           "-v", f"{tmp_path}:/h:ro", "--tmpfs", "/scratch", "busybox:latest", "true")
    try:
        mounts = json.loads(text(docker(env, "inspect", "-f", "{{json .Mounts}}", first)))
        assert sorted(m["Destination"] for m in mounts) == ["/h", "/shared"]  # no --tmpfs
        out = run_logged(env, second, "--volumes-from", f"{first}:ro", "busybox:latest",
                         "sh", "-c", "ls -d /shared /h; touch /shared/x 2>/dev/null || echo ro")
        assert out.split() == ["/h", "/shared", "ro"]
    finally:
        docker(env, "rm", "-f", "-v", first, check=False)
        docker(env, "volume", "rm", f"vfvol-{TOKEN}", check=False)


def test_tmpfs_volume_is_mounted_while_a_container_holds_it(env):
    d, _ = env
    vol, cname = f"tmpv-{TOKEN}", f"tmpc-{TOKEN}"
    docker(env, "volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs",
           "-o", "o=size=2m", vol)
    data = str(d.data_root / "volumes" / vol / "_data")

    def mounted() -> bool:
        with open("/proc/self/mountinfo") as f:
            return any(line.split()[4] == data for line in f)

    assert not mounted()
    out = run_logged(env, cname, "-v", f"{vol}:/data", "busybox:latest", "sh", "-c",
                     "grep ' /data ' /proc/mounts | cut -d' ' -f3")
    assert out.strip() == "tmpfs"
    assert not mounted()   # the container is gone: so is the mount
    docker(env, "volume", "rm", vol)
