"""System endpoints over the real socket: ping, version negotiation, info's numbers,
errors in Docker's shape, and the event stream's since/until."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.integration.daemon.harness import bootstrap_busybox, running_daemon, short_workdir

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.fail("integration tests need root (the image store unpacks as root)")
    work = short_workdir(tmp_path_factory, "sys")
    bootstrap_busybox(work / "root")
    with running_daemon(work) as d:
        yield d


def test_ping_answers_ok_with_dockers_headers(daemon):
    r = daemon.request("GET", "/_ping")
    assert r.status == 200 and r.body == b"OK"
    assert r.headers["api-version"] == "1.41"
    assert r.headers["ostype"] == "linux"
    assert r.headers["docker-experimental"] == "false"
    assert r.headers["builder-version"] == "1"
    head = daemon.request("HEAD", "/_ping")
    assert head.status == 200 and head.body == b""
    assert head.headers["api-version"] == "1.41"


def test_versioned_and_unversioned_paths_give_the_same_answer(daemon):
    a = daemon.request("GET", "/version").json()
    b = daemon.request("GET", "/v1.24/version").json()
    assert a == b
    assert a["ApiVersion"] == "1.41" and a["MinAPIVersion"] == "1.24"
    assert a["Os"] == "linux" and a["KernelVersion"] == os.uname().release


def test_too_new_and_too_old_versions_are_400_with_dockerds_words(daemon):
    r = daemon.request("GET", "/v1.99/version")
    assert r.status == 400
    assert r.json() == {"message": "client version 1.99 is too new. Maximum supported API "
                                   "version is 1.41"}
    r = daemon.request("GET", "/v1.12/info")
    assert r.status == 400 and "too old" in r.json()["message"]


def test_unknown_routes_and_unserved_operations_are_page_not_found(daemon):
    for method, path in [("GET", "/nope"), ("GET", "/v1.41/swarm"),
                         ("POST", "/plugins/pull"), ("DELETE", "/version")]:
        r = daemon.request(method, path)
        assert r.status == 404, (method, path)
        assert r.json() == {"message": "page not found"}
        assert r.headers["content-type"].startswith("application/json")


def test_info_reports_real_numbers(daemon):
    info = daemon.request("GET", "/info").json()
    assert info["Images"] == 1
    assert info["Containers"] == 0
    assert info["NCPU"] == os.cpu_count()
    meminfo = Path("/proc/meminfo").read_text().split("\n", 1)[0].split()
    assert info["MemTotal"] == int(meminfo[1]) * 1024
    assert info["DockerRootDir"] == str(daemon.data_root)
    assert info["KernelVersion"] == os.uname().release
    assert info["OSType"] == "linux"
    unified_only = Path("/sys/fs/cgroup/cgroup.controllers").exists()
    assert info["CgroupVersion"] == ("2" if unified_only else "1")
    assert info["Driver"] in ("overlay2", "copy")
    assert "dockyard" in info["Runtimes"]
    assert info["ID"] == (daemon.data_root / "engine-id").read_text().strip()


def test_system_df_counts_the_images(daemon):
    df = daemon.request("GET", "/system/df").json()
    assert len(df["Images"]) == 1
    assert df["Images"][0]["RepoTags"] == ["busybox:latest"]
    assert df["LayersSize"] > 0
    assert df["Containers"] == [] and df["Volumes"] == []


def test_bad_filters_are_a_400_not_a_500(daemon):
    r = daemon.request("GET", "/images/json?filters=%7Bnot-json")
    assert r.status == 400 and "invalid filter" in r.json()["message"]
    r = daemon.request("GET", "/images/json?filters=" + quote(json.dumps({"colour": ["red"]})))
    assert r.status == 400 and r.json()["message"] == "invalid filter 'colour'"
    r = daemon.request("GET", "/events?since=yesterday")
    assert r.status == 400


def test_events_replay_since_and_stop_at_until(daemon):
    start = time.time()
    assert daemon.request("POST", "/images/busybox/tag?repo=ev/one&tag=x").status == 201
    assert daemon.request("DELETE", "/images/ev/one:x").status == 200
    until = time.time()
    r = daemon.request("GET", f"/events?since={start:.9f}&until={until:.9f}")
    assert r.status == 200
    events = r.messages()
    assert [(e["Type"], e["Action"]) for e in events] == [("image", "tag"),
                                                         ("image", "untag")]
    tag, untag = events
    assert tag["Actor"]["Attributes"]["name"] == "ev/one:x"
    assert tag["Actor"]["ID"].startswith("sha256:") and tag["id"] == tag["Actor"]["ID"]
    assert untag["Actor"]["ID"] == tag["Actor"]["ID"]
    assert tag["time"] == tag["timeNano"] // 10**9 and tag["scope"] == "local"
    only_untag = daemon.request(
        "GET", f"/events?since={start:.9f}&until={until:.9f}&filters="
        + quote(json.dumps({"event": ["untag"]}))).messages()
    assert [e["Action"] for e in only_untag] == ["untag"]


def test_events_stream_live_until_a_future_time(daemon):
    got: dict[str, object] = {}

    def reader() -> None:
        r = daemon.request("GET", f"/events?until={time.time() + 3:.3f}", timeout=30)
        got["events"] = r.messages()

    t = threading.Thread(target=reader)
    t.start()
    time.sleep(1.0)
    assert daemon.request("POST", "/images/busybox/tag?repo=ev/live").status == 201
    assert daemon.request("DELETE", "/images/ev/live").status == 200
    t.join(30)
    assert not t.is_alive(), "the event stream did not end at `until`"
    actions = [e["Action"] for e in got["events"]]
    assert actions == ["tag", "untag"]
