"""Containers through a real dockyardd: Docker's shapes, status codes and words,
the lifecycle (create/start/wait/logs/stop/kill/restart/rm), pause, rename,
update, list filters, --rm, restart policies, prune and events."""

from __future__ import annotations

import json
import time

import pytest

from tests.integration.daemon.harness import short_workdir
from tests.integration.engine.engined import engine_daemon

pytestmark = pytest.mark.integration


@pytest.fixture
def eng(tmp_path_factory):
    with engine_daemon(short_workdir(tmp_path_factory, "eng")) as e:
        yield e


def test_run_wait_logs_inspect_remove(eng):
    cid = eng.create(["sh", "-c", "echo out; echo err >&2; exit 3"], name="first",
                     Labels={"tier": "x"})
    doc = eng.inspect("first")
    assert doc["Id"] == cid and doc["Name"] == "/first" and doc["State"]["Status"] == "created"
    assert doc["Path"] == "sh" and doc["Args"][0] == "-c"
    assert doc["Config"]["Image"] == "busybox" and doc["Config"]["Labels"] == {"tier": "x"}
    assert doc["GraphDriver"]["Name"] and doc["LogPath"].endswith(f"{cid}-json.log")
    eng.ok("POST", f"/containers/{cid}/start")
    assert eng.wait(cid) == {"StatusCode": 3, "Error": None}
    st = eng.inspect(cid)["State"]
    assert st["Status"] == "exited" and st["ExitCode"] == 3 and st["Pid"] == 0
    assert st["StartedAt"] < st["FinishedAt"]
    assert sorted(eng.logs(cid)) == [(1, b"out\n"), (2, b"err\n")]
    assert eng.logs(cid, stderr=False) == [(1, b"out\n")]
    stamped = eng.logs(cid, stderr=False, timestamps=True)[0][1]
    assert stamped.endswith(b" out\n") and stamped[:4].isdigit()
    assert eng.req("POST", f"/containers/{cid}/start").status == 204   # restartable
    eng.wait(cid)
    assert len(eng.logs(cid)) == 4
    assert sorted(eng.logs(cid, tail=2)) == [(1, b"out\n"), (2, b"err\n")]
    eng.ok("DELETE", f"/containers/{cid}")
    r = eng.req("GET", f"/containers/{cid}/json")
    assert r.status == 404 and r.json()["message"] == f"No such container: {cid}"


def test_dockers_errors(eng):
    eng.create(["true"], name="taken")
    r = eng.req("POST", "/containers/create", {"Image": "busybox"}, name="taken")
    assert r.status == 409 and 'The container name "/taken" is already in use' in \
        r.json()["message"]
    r = eng.req("POST", "/containers/create", {"Image": "nope"})
    assert r.status == 404 and r.json()["message"] == "No such image: nope:latest"
    r = eng.req("POST", "/containers/create", {"Image": "busybox"}, name="bad name!")
    assert r.status == 400 and "Invalid container name" in r.json()["message"]
    r = eng.req("POST", "/containers/create", b"{not json")
    assert r.status == 400
    r = eng.req("POST", "/containers/taken/kill")
    assert r.status == 409 and "is not running" in r.json()["message"]
    assert eng.req("POST", "/containers/taken/stop").status == 304
    assert eng.req("DELETE", "/containers/taken", link=True).status == 400
    r = eng.req("POST", "/containers/taken/wait", condition="sometimes")
    assert r.status == 400


def test_start_twice_stop_kill_timeout(eng):
    cid = eng.run(["sleep", "1000"])
    assert eng.req("POST", f"/containers/{cid}/start").status == 304
    st = eng.inspect(cid)["State"]
    assert st["Running"] and st["Pid"] > 0
    with open(f"/proc/{st['Pid']}/cmdline", "rb") as f:
        assert f.read().split(b"\0")[0].endswith(b"sleep")
    r = eng.req("DELETE", f"/containers/{cid}")
    assert r.status == 409 and "You cannot remove a running container" in r.json()["message"]
    t0 = time.monotonic()
    eng.ok("POST", f"/containers/{cid}/stop", t=1)   # PID 1 ignores SIGTERM: SIGKILL at 1 s
    assert 0.9 < time.monotonic() - t0 < 10
    assert eng.inspect(cid)["State"]["ExitCode"] == 137
    assert eng.req("POST", f"/containers/{cid}/stop").status == 304
    eng.ok("POST", f"/containers/{cid}/start")
    eng.ok("POST", f"/containers/{cid}/kill", signal="SIGKILL")
    assert eng.wait(cid)["StatusCode"] == 137
    r = eng.req("POST", f"/containers/{cid}/kill", signal="NOPE")
    assert r.status in (400, 409)


def test_stop_signal_trapped_exit_code(eng):
    cid = eng.run(["sh", "-c", "trap 'exit 7' TERM; while true; do sleep 0.1; done"])
    time.sleep(0.3)
    eng.ok("POST", f"/containers/{cid}/stop", t=10)
    assert eng.inspect(cid)["State"]["ExitCode"] == 7


def test_pause_unpause_rename_restart(eng):
    cid = eng.run(["sleep", "1000"], name="pz")
    eng.ok("POST", "/containers/pz/pause")
    assert eng.inspect(cid)["State"]["Status"] == "paused"
    assert eng.req("POST", "/containers/pz/pause").status == 409
    eng.ok("POST", "/containers/pz/unpause")
    assert eng.inspect(cid)["State"]["Status"] == "running"
    eng.ok("POST", "/containers/pz/rename", name="renamed")
    assert eng.inspect(cid)["Name"] == "/renamed"
    assert eng.req("GET", "/containers/pz/json").status == 404
    pid = eng.inspect(cid)["State"]["Pid"]
    eng.ok("POST", f"/containers/{cid}/restart", t=0)
    st = eng.inspect(cid)["State"]
    assert st["Running"] and st["Pid"] != pid


def test_list_filters_and_shapes(eng):
    a = eng.run(["sleep", "1000"], name="lister-a", Labels={"role": "web"})
    b = eng.create(["sh", "-c", "exit 4"], name="lister-b")
    eng.ok("POST", f"/containers/{b}/start")
    eng.wait(b)
    c = eng.create(["true"], name="lister-c")
    running = eng.ok("GET", "/containers/json").json()
    assert [x["Id"] for x in running] == [a]
    item = running[0]
    assert item["Names"] == ["/lister-a"] and item["State"] == "running"
    assert item["Status"].startswith("Up ") and item["Command"] == "sleep 1000"
    assert item["Image"] == "busybox" and item["ImageID"].startswith("sha256:")
    every = [x["Id"] for x in eng.ok("GET", "/containers/json", all=True).json()]
    assert every == [c, b, a]   # newest first

    def ids(**f):
        return [x["Id"] for x in eng.ok("GET", "/containers/json", all=True,
                                        filters=f).json()]

    assert ids(status=["exited"]) == [b]
    assert ids(exited=["4"]) == [b]
    assert ids(label=["role=web"]) == [a]
    assert ids(name=["lister-c"]) == [c]
    assert ids(id=[a[:10]]) == [a]
    assert ids(ancestor=["busybox"]) == [c, b, a]
    assert ids(before=["lister-b"]) == [a]
    assert ids(since=["lister-b"]) == [c]
    assert len(eng.ok("GET", "/containers/json", all=True, limit=2).json()) == 2
    assert eng.req("GET", "/containers/json", filters={"bogus": ["1"]}).status == 400
    sized = eng.ok("GET", "/containers/json", size=True).json()[0]
    assert "SizeRw" in sized and "SizeRootFs" in sized


def test_autoremove_and_wait_removed(eng):
    import threading

    cid = eng.create(["sh", "-c", "exit 5"], HostConfig={"AutoRemove": True,
                                                         "NetworkMode": "none"})
    result = {}
    waiter = threading.Thread(target=lambda: result.update(eng.wait(cid, "removed")))
    waiter.start()
    time.sleep(0.3)   # the wait is registered before the start, as docker run does
    eng.ok("POST", f"/containers/{cid}/start")
    waiter.join(30)
    assert result == {"StatusCode": 5, "Error": None}
    assert eng.req("GET", f"/containers/{cid}/json").status == 404


def test_restart_policy_on_failure_counts(eng):
    cid = eng.create(["sh", "-c", "exit 1"], HostConfig={
        "NetworkMode": "none", "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 2}})
    eng.ok("POST", f"/containers/{cid}/start")
    deadline = time.monotonic() + 20
    doc = eng.inspect(cid)
    while time.monotonic() < deadline:
        doc = eng.inspect(cid)
        if doc["RestartCount"] == 2 and doc["State"]["Status"] == "exited":
            break
        time.sleep(0.1)
    assert doc["RestartCount"] == 2 and doc["State"]["Status"] == "exited"
    assert doc["State"]["ExitCode"] == 1


def test_always_policy_not_after_stop(eng):
    cid = eng.create(["sh", "-c", "sleep 0.2; exit 0"], HostConfig={
        "NetworkMode": "none", "RestartPolicy": {"Name": "always"}})
    eng.ok("POST", f"/containers/{cid}/start")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and eng.inspect(cid)["RestartCount"] < 1:
        time.sleep(0.1)
    assert eng.inspect(cid)["RestartCount"] >= 1
    eng.ok("POST", f"/containers/{cid}/stop", t=1)
    count = eng.inspect(cid)["RestartCount"]
    time.sleep(1.0)
    doc = eng.inspect(cid)
    assert doc["State"]["Status"] == "exited" and doc["RestartCount"] == count


def test_update_restart_policy_and_memory(eng):
    cid = eng.run(["sleep", "1000"])
    r = eng.ok("POST", f"/containers/{cid}/update",
               {"RestartPolicy": {"Name": "unless-stopped"}, "Memory": 64 << 20})
    assert r.json() == {"Warnings": []}
    hc = eng.inspect(cid)["HostConfig"]
    assert hc["RestartPolicy"]["Name"] == "unless-stopped" and hc["Memory"] == 64 << 20


def test_prune_and_events(eng):
    since = time.time()
    keep = eng.run(["sleep", "1000"])
    gone = eng.create(["true"], Labels={"p": "1"})
    other = eng.create(["true"])
    r = eng.ok("POST", "/containers/prune", filters={"label": ["p=1"]}).json()
    assert r["ContainersDeleted"] == [gone]
    r = eng.ok("POST", "/containers/prune").json()
    assert r["ContainersDeleted"] == [other]
    assert eng.req("GET", f"/containers/{keep}/json").status == 200
    events = eng.ok("GET", "/events", since=str(since), until=str(time.time()),
                    filters={"type": ["container"]}).messages()
    actions = [(e["Action"], e["Actor"]["ID"]) for e in events]
    assert ("create", keep) in actions and ("start", keep) in actions
    assert ("destroy", gone) in actions
    ev = next(e for e in events if e["Action"] == "create" and e["Actor"]["ID"] == gone)
    assert ev["Actor"]["Attributes"]["image"] == "busybox" and ev["Actor"]["Attributes"]["p"] == "1"
    assert ev["status"] == "create" and ev["from"] == "busybox"


def test_image_in_use_cannot_be_removed(eng):
    cid = eng.create(["true"])
    r = eng.req("DELETE", "/images/busybox")
    assert r.status == 409, r.body
    assert r.json()["message"].startswith(
        'conflict: unable to remove repository reference "busybox" (must force) - '
        f"container {cid[:12]} is using its referenced image ")
    running = eng.run(["sleep", "1000"])
    r = eng.req("DELETE", "/images/busybox", force=True)
    assert r.status == 200   # forced untag: the image stays, nameless, for its users
    assert eng.inspect(running)["State"]["Running"]
    eng.ok("DELETE", f"/containers/{cid}")
    images = json.loads(eng.ok("GET", "/images/json", all=True).body)
    assert [i["Containers"] for i in images] == [1]


def test_ipc_shareable_and_joined(eng):
    owner = eng.run(["sh", "-c", "echo shared > /dev/shm/f; sleep 1000"], name="ipcown",
                    HostConfig={"NetworkMode": "none", "IpcMode": "shareable",
                                "ShmSize": 8 << 20})
    time.sleep(0.3)
    joiner = eng.create(["cat", "/dev/shm/f"], HostConfig={"NetworkMode": "none",
                                                           "IpcMode": "container:ipcown"})
    assert eng.inspect(joiner)["HostConfig"]["IpcMode"] == f"container:{owner}"
    eng.ok("POST", f"/containers/{joiner}/start")
    assert eng.wait(joiner)["StatusCode"] == 0
    assert eng.logs(joiner) == [(1, b"shared\n")]
    eng.ok("DELETE", f"/containers/{owner}", force=True)


def test_log_options(eng):
    r = eng.req("POST", "/containers/create", {"Image": "busybox", "HostConfig": {
        "LogConfig": {"Type": "json-file", "Config": {"max-size": "lots"}}}})
    assert r.status == 400
    r = eng.req("POST", "/containers/create", {"Image": "busybox", "HostConfig": {
        "LogConfig": {"Type": "syslog"}}})
    assert r.status == 400 and "no log driver named 'syslog'" in r.json()["message"]
    cid = eng.run(["sh", "-c", "i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done"],
                  HostConfig={"NetworkMode": "none", "LogConfig": {
                      "Type": "json-file", "Config": {"max-size": "2k", "max-file": "2"}}})
    eng.wait(cid)
    lines = [d for _, d in eng.logs(cid)]
    assert 0 < len(lines) < 300 and lines[-1] == b"line-299\n"   # rotated away
    nolog = eng.run(["echo", "x"], HostConfig={"NetworkMode": "none",
                                                "LogConfig": {"Type": "none"}})
    eng.wait(nolog)
    assert eng.req("GET", f"/containers/{nolog}/logs", stdout=True).status == 400
