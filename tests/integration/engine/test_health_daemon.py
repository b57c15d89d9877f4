"""Health checks through dockyardd: State.Health goes starting -> healthy ->
unhealthy, the list filter sees it, events are dockerd's, a stop leaves it
unhealthy (as dockerd does) and a start begins again at starting."""

from __future__ import annotations

import json
import time

import pytest

from tests.integration.daemon.harness import short_workdir
from tests.integration.engine.engined import Engine, engine_daemon

MS = 1_000_000


@pytest.fixture
def eng(tmp_path_factory):
    with engine_daemon(short_workdir(tmp_path_factory, "hl")) as e:
        yield e


def _health(eng: Engine, cid: str) -> dict:
    return eng.inspect(cid)["State"].get("Health") or {}


def _until(eng: Engine, cid: str, status: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        h = _health(eng, cid)
        if h.get("Status") == status:
            return h
        assert time.monotonic() < deadline, f"health stayed {h}\n{eng.d.log_tail()}"
        time.sleep(0.1)


def test_health_lifecycle_through_the_daemon(eng):
    check = {"Test": ["CMD-SHELL", "cat /tmp/ok"], "Interval": 300 * MS,
             "Timeout": 3000 * MS, "Retries": 2}
    cid = eng.run(["sh", "-c", "echo fine > /tmp/ok; sleep 300"], Healthcheck=check)
    plain = eng.run(["sleep", "300"])
    assert _health(eng, cid)["Status"] in ("starting", "healthy")
    h = _until(eng, cid, "healthy")
    assert h["Log"][-1]["ExitCode"] == 0 and h["Log"][-1]["Output"] == "fine\n"
    assert "Health" not in eng.inspect(plain)["State"]
    ids = [c["Id"] for c in eng.ok("GET", "/containers/json",
                                   filters={"health": ["healthy"]}).json()]
    assert ids == [cid]
    ids = [c["Id"] for c in eng.ok("GET", "/containers/json",
                                   filters={"health": ["none"]}).json()]
    assert ids == [plain]
    rows = eng.ok("GET", "/containers/json").json()
    assert any(r["Id"] == cid and r["Status"].endswith("(healthy)") for r in rows)
    # break it: unhealthy after Retries failures
    ex = eng.ok("POST", f"/containers/{cid}/exec", {"Cmd": ["rm", "/tmp/ok"]}).json()["Id"]
    eng.ok("POST", f"/exec/{ex}/start", {"Detach": True})
    h = _until(eng, cid, "unhealthy")
    assert h["FailingStreak"] >= 2 and h["Log"][-1]["ExitCode"] == 1
    events = eng.req("GET", "/events", since="0", until=str(int(time.time()) + 1),
                     filters=json.dumps({"container": [cid]})).messages()
    actions = [e["Action"] for e in events]
    assert "health_status: healthy" in actions and "health_status: unhealthy" in actions
    assert "exec_start: /bin/sh -c cat /tmp/ok" in actions
    # stop: stays unhealthy; start: starting again
    eng.ok("POST", f"/containers/{cid}/stop", t=1)
    assert _health(eng, cid)["Status"] == "unhealthy"
    eng.ok("POST", f"/containers/{cid}/start")
    assert _health(eng, cid)["Status"] in ("starting", "healthy")
    _until(eng, cid, "healthy")
