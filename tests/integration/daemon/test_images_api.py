"""Image endpoints over the real socket: Docker's JSON shapes and status codes,
tag/rmi rules, save/load and import round trips, prune, push and pull through
a dockyard registry, and in-band stream errors."""

from __future__ import annotations

import base64
import io
import json
import os
import tarfile
import time
from urllib.parse import quote

import pytest

from tests.integration.daemon.harness import bootstrap_busybox, running_daemon, short_workdir

pytestmark = pytest.mark.integration


@pytest.fixture
def daemon(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.fail("integration tests need root (the image store unpacks as root)")
    work = short_workdir(tmp_path_factory, "img")
    bootstrap_busybox(work / "root")
    with running_daemon(work) as d:
        yield d


def tags(daemon) -> list[str]:
    return sorted(t for img in daemon.request("GET", "/images/json").json()
                  for t in img["RepoTags"])


def rootfs_tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_list_and_inspect_have_dockers_shape(daemon):
    images = daemon.request("GET", "/v1.41/images/json").json()
    assert len(images) == 1
    img = images[0]
    assert set(img) >= {"Id", "ParentId", "RepoTags", "RepoDigests", "Created", "Size",
                        "SharedSize", "VirtualSize", "Labels", "Containers"}
    assert img["RepoTags"] == ["busybox:latest"] and img["Id"].startswith("sha256:")
    doc = daemon.request("GET", "/images/busybox/json").json()
    assert doc["Id"] == img["Id"]
    assert doc["RootFS"]["Type"] == "layers" and len(doc["RootFS"]["Layers"]) == 1
    assert doc["Os"] == "linux" and "Config" in doc
    info = daemon.request("GET", "/info").json()
    assert doc["GraphDriver"]["Name"] == info["Driver"]
    # by id prefix too, and a miss is Docker's 404 message
    assert daemon.request("GET", f"/images/{img['Id'][7:19]}/json").json()["Id"] == img["Id"]
    miss = daemon.request("GET", "/images/nosuch:1/json")
    assert miss.status == 404 and miss.json() == {"message": "No such image: nosuch:1"}


def test_history_rows(daemon):
    rows = daemon.request("GET", "/images/busybox/history").json()
    assert rows and rows[0]["Id"].startswith("sha256:")
    assert rows[0]["Tags"] == ["busybox:latest"]
    assert set(rows[0]) == {"Id", "Created", "CreatedBy", "Tags", "Size", "Comment"}
    assert sum(r["Size"] for r in rows) > 0


def test_tag_then_remove_untags_before_deleting(daemon):
    r = daemon.request("POST", "/images/busybox:latest/tag?repo=example.com/team/app&tag=v1")
    assert r.status == 201
    assert tags(daemon) == ["busybox:latest", "example.com/team/app:v1"]
    r = daemon.request("DELETE", "/images/example.com/team/app:v1")
    assert r.status == 200 and r.json() == [{"Untagged": "example.com/team/app:v1"}]
    bad = daemon.request("POST", "/images/busybox/tag?repo=UPPER&tag=x")
    assert bad.status == 400
    assert daemon.request("POST", "/images/busybox/tag").status == 400
    assert daemon.request("POST", "/images/nosuch/tag?repo=a").status == 404


def test_rmi_by_id_in_two_repositories_needs_force(daemon):
    image_id = daemon.request("GET", "/images/busybox/json").json()["Id"]
    assert daemon.request("POST", "/images/busybox/tag?repo=other&tag=1").status == 201
    r = daemon.request("DELETE", f"/images/{image_id}")
    assert r.status == 409 and "must be forced" in r.json()["message"]
    r = daemon.request("DELETE", f"/images/{image_id}?force=1")
    assert r.status == 200
    body = r.json()
    assert {"Untagged": "busybox:latest"} in body and {"Untagged": "other:1"} in body
    assert {"Deleted": image_id} in body
    assert daemon.request("GET", "/images/json").json() == []
    assert daemon.request("DELETE", "/images/busybox").status == 404


def test_save_then_load_round_trip(daemon):
    saved = daemon.request("GET", "/images/busybox/get")
    assert saved.status == 200 and saved.headers["content-type"] == "application/x-tar"
    with tarfile.open(fileobj=io.BytesIO(saved.body)) as tar:
        names = tar.getnames()
    assert "manifest.json" in names and "index.json" in names
    many = daemon.request("GET", "/images/get?names=busybox")
    assert many.status == 200 and len(many.body) == len(saved.body)
    assert daemon.request("GET", "/images/nosuch/get").status == 404
    assert daemon.request("DELETE", "/images/busybox").status == 200
    r = daemon.request("POST", "/images/load?quiet=1", body=saved.body,
                       headers={"Content-Type": "application/x-tar"})
    assert r.status == 200
    assert {"stream": "Loaded image: busybox:latest\n"} in r.messages()
    assert tags(daemon) == ["busybox:latest"]


def test_load_of_garbage_is_a_clear_400(daemon):
    r = daemon.request("POST", "/images/load", body=b"this is not a tar" * 100)
    assert r.status == 400, r.body
    assert r.json()["message"]


def test_import_from_the_body_with_changes_and_message(daemon):
    body = rootfs_tar({"hello": b"#!/bin/sh\necho hi\n"})
    path = ("/images/create?fromSrc=-&repo=imported&tag=t1&message=from+test"
            "&changes=" + quote('CMD ["/hello"]') + "&changes=" + quote("ENV A=b"))
    r = daemon.request("POST", path, body=body)
    assert r.status == 200, r.body
    image_id = r.messages()[-1]["status"]
    assert image_id.startswith("sha256:")
    doc = daemon.request("GET", "/images/imported:t1/json").json()
    assert doc["Id"] == image_id
    assert doc["Config"]["Cmd"] == ["/hello"] and "A=b" in doc["Config"]["Env"]
    assert doc["Comment"] == "from test"


def test_import_refuses_a_path_on_the_daemons_host(daemon):
    r = daemon.request("POST", "/images/create?fromSrc=/etc/passwd&repo=x")
    assert r.status == 400 and "fromSrc" in r.json()["message"]


def test_prune_dangling_then_all(daemon):
    body = rootfs_tar({"f": b"x"})
    daemon.request("POST", "/images/create?fromSrc=-", body=body)   # untagged: dangling
    assert len(daemon.request("GET", "/images/json").json()) == 2
    r = daemon.request("POST", "/images/prune")
    assert r.status == 200
    report = r.json()
    assert any("Deleted" in e for e in report["ImagesDeleted"])
    assert tags(daemon) == ["busybox:latest"]
    r = daemon.request("POST", "/images/prune?filters=" + quote(json.dumps(
        {"dangling": ["false"]})))
    assert r.json()["SpaceReclaimed"] > 0
    assert daemon.request("GET", "/images/json").json() == []


def test_pull_of_an_unreachable_registry_is_an_http_error_not_a_200(daemon):
    r = daemon.request("POST", "/images/create?fromImage=127.0.0.1:9/nothing&tag=1")
    assert r.status >= 400 and r.status != 500, r.body
    assert "127.0.0.1:9" in r.json()["message"]
    r = daemon.request("POST", "/images/create")
    assert r.status == 400


def test_push_of_a_missing_image_is_404(daemon):
    r = daemon.request("POST", "/images/127.0.0.1:9/nothing/push?tag=1",
                       headers={"X-Registry-Auth": base64.urlsafe_b64encode(b"{}").decode()})
    assert r.status == 404


def test_bad_registry_auth_header_is_400(daemon):
    r = daemon.request("POST", "/images/busybox/push", headers={"X-Registry-Auth": "%%%"})
    assert r.status == 400


def test_push_then_pull_through_a_dockyard_registry(daemon, tmp_path):
    from tests.interop.registry.peers import dockyard_registry

    with dockyard_registry(tmp_path) as reg:
        target = f"{reg.host}/lib/bb"
        assert daemon.request("POST", f"/images/busybox/tag?repo={target}&tag=v1").status \
            == 201
        auth = base64.urlsafe_b64encode(b'{"username":"","password":""}').decode()
        r = daemon.request("POST", f"/images/{target}/push?tag=v1",
                           headers={"X-Registry-Auth": auth})
        assert r.status == 200, r.body
        msgs = r.messages()
        assert not [m for m in msgs if "error" in m], msgs
        aux = [m["aux"] for m in msgs if "aux" in m]
        assert aux and aux[0]["Tag"] == "v1" and aux[0]["Digest"].startswith("sha256:")
        image_id = daemon.request("GET", "/images/busybox/json").json()["Id"]
        assert daemon.request("DELETE", f"/images/{image_id}?force=1").status == 200
        since = time.time()
        r = daemon.request("POST", f"/images/create?fromImage={target}&tag=v1")
        assert r.status == 200, r.body
        msgs = r.messages()
        assert not [m for m in msgs if "error" in m], msgs
        statuses = [m.get("status", "") for m in msgs]
        assert f"Status: Downloaded newer image for {target}:v1" in statuses
        assert any(s.startswith("Digest: sha256:") for s in statuses)
        doc = daemon.request("GET", f"/images/{target}:v1/json").json()
        assert doc["Id"] == image_id
        assert doc["RepoDigests"] == [f"{target}@{aux[0]['Digest']}"]
        pulls = daemon.request("GET", f"/events?since={since:.9f}&until={time.time():.9f}"
                               ).messages()
        assert [(e["Action"], e["id"]) for e in pulls] == [("pull", f"{target}:v1")]
        again = daemon.request("POST", f"/images/create?fromImage={target}&tag=v1").messages()
        assert f"Status: Image is up to date for {target}:v1" in [m.get("status")
                                                                   for m in again]


def test_every_image_change_is_an_event(daemon):
    start = time.time()
    saved = daemon.request("GET", "/images/busybox/get").body
    assert daemon.request("DELETE", "/images/busybox").status == 200
    assert daemon.request("POST", "/images/load", body=saved).status == 200
    r = daemon.request("POST", "/images/create?fromSrc=-&repo=ev/imp",
                       body=rootfs_tar({"a": b"1"}))
    assert r.status == 200
    time.sleep(0.05)
    events = daemon.request("GET", f"/events?since={start:.9f}&until={time.time():.9f}"
                            "&filters=" + quote(json.dumps({"type": ["image"]}))).messages()
    actions = [(e["Action"], e["Actor"]["Attributes"].get("name")) for e in events]
    assert actions[0] == ("save", "busybox")
    assert ("untag", "busybox:latest") in actions
    assert ("load", "busybox:latest") in actions
    assert ("import", "ev/imp") in actions
    deletes = [e for e in events if e["Action"] == "delete"]
    assert len(deletes) == 1   # the image, not its layers


def test_import_from_a_url(daemon, tmp_path):
    import http.server
    import threading

    (tmp_path / "rootfs.tar").write_bytes(rootfs_tar({"from-url": b"yes"}))

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(tmp_path), **kw)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/rootfs.tar"
        r = daemon.request("POST", f"/images/create?fromSrc={quote(url)}&repo=fromurl&tag=1")
        assert r.status == 200, r.body
        image_id = r.messages()[-1]["status"]
        assert daemon.request("GET", "/images/fromurl:1/json").json()["Id"] == image_id
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_prune_until_keeps_newer_images(daemon):
    r = daemon.request("POST", "/images/create?fromSrc=-&repo=fresh&tag=1",
                       body=rootfs_tar({"n": b"new"}))
    assert r.status == 200
    created = {t: daemon.request("GET", f"/images/{t}/json").json()["Created"]
               for t in ("busybox:latest", "fresh:1")}
    assert created["busybox:latest"] < created["fresh:1"]   # bootstrap dates are old
    r = daemon.request("POST", "/images/prune?filters=" + quote(json.dumps(
        {"dangling": ["false"], "until": ["1h"]})))
    assert r.status == 200, r.body
    assert tags(daemon) == ["fresh:1"]
    bad = daemon.request("POST", "/images/prune?filters=" + quote(json.dumps(
        {"until": ["whenever"]})))
    assert bad.status == 400


def test_pull_without_a_tag_pulls_every_tag(daemon, tmp_path):
    from tests.interop.registry.peers import dockyard_registry

    with dockyard_registry(tmp_path) as reg:
        repo = f"{reg.host}/many/bb"
        for t in ("a", "b"):
            assert daemon.request("POST", f"/images/busybox/tag?repo={repo}&tag={t}").status \
                == 201
            r = daemon.request("POST", f"/images/{repo}/push?tag={t}")
            assert r.status == 200 and not [m for m in r.messages() if "error" in m]
        for t in ("a", "b"):
            assert daemon.request("DELETE", f"/images/{repo}:{t}").status == 200
        r = daemon.request("POST", f"/images/create?fromImage={repo}")
        assert r.status == 200, r.body
        assert not [m for m in r.messages() if "error" in m], r.messages()
        assert [t for t in tags(daemon) if t.startswith(repo)] == [f"{repo}:a", f"{repo}:b"]
