"""docker-py against ``dockyardd``: the high-level client's image calls."""

from __future__ import annotations

import os

import pytest

from tests.integration.daemon.harness import bootstrap_busybox, running_daemon, short_workdir

pytestmark = pytest.mark.interop


@pytest.fixture
def daemon(tmp_path_factory):
    try:
        import docker  # noqa: F401 - a declared test dependency: fail loudly if missing
    except ImportError:
        pytest.fail("docker-py is missing: pip install 'docker>=7,<8'")
    if os.geteuid() != 0:
        pytest.fail("interop tests need root")
    work = short_workdir(tmp_path_factory, "py")
    bootstrap_busybox(work / "root")
    with running_daemon(work) as d:
        yield d


@pytest.fixture
def client(daemon):
    import docker

    c = docker.DockerClient(base_url=daemon.host, version="auto")
    try:
        yield c
    finally:
        c.close()


def test_version_and_ping(client):
    assert client.ping() is True
    v = client.version()
    assert v["ApiVersion"] == "1.41" and v["Components"][0]["Name"] == "Engine"
    assert client.api.api_version == "1.41"   # negotiated down from docker-py's default


def test_a_client_without_a_version_negotiates_too(daemon):
    import docker

    c = docker.DockerClient(base_url=daemon.host)
    try:
        assert c.api.api_version == "1.41"
        assert c.info()["Images"] == 1
    finally:
        c.close()


def test_images_list_get_tag_remove(client):
    import docker

    images = client.images.list()
    assert [i.tags for i in images] == [["busybox:latest"]]
    img = client.images.get("busybox")
    assert img.id == images[0].id and img.attrs["Os"] == "linux"
    assert img.tag("team/app", "v2") is True
    assert sorted(client.images.get("team/app:v2").tags) == ["busybox:latest", "team/app:v2"]
    assert [i.id for i in client.images.list(name="team/app")] == [img.id]
    client.images.remove("team/app:v2")
    assert client.images.get("busybox").tags == ["busybox:latest"]
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get("team/app:v2")
    with pytest.raises(docker.errors.APIError) as err:
        client.images.remove("nosuch")
    assert err.value.status_code == 404


def test_save_and_load(client):
    img = client.images.get("busybox")
    data = b"".join(img.save(named=True))
    client.images.remove("busybox")
    assert client.images.list() == []
    loaded = client.images.load(data)
    assert [i.id for i in loaded] == [img.id]
    assert loaded[0].tags == ["busybox:latest"]


def test_history_and_prune(client):
    img = client.images.get("busybox")
    history = img.history()
    assert history[0]["Id"] == img.id
    report = client.images.prune(filters={"dangling": False})
    assert report["SpaceReclaimed"] > 0
    assert client.images.list() == []


def test_push_and_pull_with_auth_config(client, tmp_path):
    from tests.interop.registry.peers import dockyard_registry, make_htpasswd

    htpasswd = make_htpasswd(tmp_path / "htpasswd", "bob", "builder")
    with dockyard_registry(tmp_path, "--htpasswd", str(htpasswd)) as reg:
        repo = f"{reg.host}/py/bb"
        assert client.images.get("busybox").tag(repo, "v3")
        auth = {"username": "bob", "password": "builder"}
        lines = list(client.images.push(repo, "v3", auth_config=auth, stream=True,
                                        decode=True))
        assert not [x for x in lines if "error" in x], lines
        assert any(x.get("aux", {}).get("Tag") == "v3" for x in lines)
        client.images.remove(f"{repo}:v3")
        img = client.images.pull(repo, tag="v3", auth_config=auth)
        assert f"{repo}:v3" in img.tags
        import docker

        client.images.remove(f"{repo}:v3")
        with pytest.raises(docker.errors.APIError):
            client.images.pull(repo, tag="v3")   # no credentials: refused
