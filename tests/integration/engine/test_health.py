"""Health checks probing a real container through exec: starting -> healthy, then
unhealthy once the probe starts failing; events and the saved State.Health."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from dockyard.daemon.events import EventBus
from dockyard.engine.health import ExecProber, HealthMonitor
from tests.conftest import require_root
from tests.integration.engine.test_exec_harness import runtime_container, service_for

MS = 1_000_000


@dataclass
class _State:
    health: dict | None = None


@dataclass
class _Record:
    id: str
    config: dict
    state: _State


@pytest.fixture
def container(runtime_cmd, busybox_rootfs, container_id, tmp_path):
    require_root()
    with runtime_container(runtime_cmd, busybox_rootfs, container_id,
                           tmp_path / "runtime") as c:
        yield c


def test_starting_healthy_unhealthy(container):
    events = EventBus()
    svc = service_for(container, events=events)
    saved: list[dict] = []

    async def save(cid: str, doc: dict) -> None:
        assert cid == container.id
        saved.append(doc)

    async def until(pred, timeout=20.0):
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not pred():
            assert loop.time() < end, f"timed out; saved={saved[-1:] or None}"
            await asyncio.sleep(0.05)

    async def main():
        mon = HealthMonitor(ExecProber(svc), save)
        # healthy while /tmp/ok exists; the probe's output lands in the log
        check = {"Test": ["CMD-SHELL", "echo probing; test -e /tmp/ok"],
                 "Interval": 200 * MS, "Timeout": 5000 * MS, "Retries": 2}
        rec = _Record(container.id, {"Healthcheck": check}, _State())
        (container.bundle / "rootfs" / "tmp").mkdir(exist_ok=True)
        (container.bundle / "rootfs" / "tmp" / "ok").write_text("")
        first = mon.start(rec)
        assert first["Status"] == "starting"
        await until(lambda: saved and saved[-1]["Status"] == "healthy")
        log = saved[-1]["Log"][-1]
        assert log["ExitCode"] == 0 and log["Output"] == "probing\n"
        assert log["Start"] <= log["End"]
        (container.bundle / "rootfs" / "tmp" / "ok").unlink()
        await until(lambda: saved[-1]["Status"] == "unhealthy")
        assert saved[-1]["FailingStreak"] >= 2
        assert saved[-1]["Log"][-1]["ExitCode"] == 1
        mon.stop(container.id)
        count = len(saved)
        await asyncio.sleep(0.5)
        assert len(saved) == count         # stopped: no more probes
        # a probe slower than its timeout fails with dockerd's words
        slow = {"Test": ["CMD", "sleep", "5"], "Interval": 100 * MS, "Timeout": 300 * MS,
                "Retries": 1}
        saved.clear()
        mon.start(_Record(container.id, {"Healthcheck": slow}, _State()))
        await until(lambda: saved and saved[-1]["Status"] == "unhealthy")
        assert saved[-1]["Log"][-1] | {"Start": "", "End": ""} == {
            "Start": "", "End": "", "ExitCode": -1,
            "Output": "Health check exceeded timeout (300ms)"}
        await mon.close()
        await svc.close()

    asyncio.run(main())
    actions = [e.action for e in events.history(None, None)]
    health = [a for a in actions if a.startswith("health_status")]
    assert health[:3] == ["health_status: healthy", "health_status: unhealthy",
                          "health_status: unhealthy"]
    assert "exec_start: /bin/sh -c echo probing; test -e /tmp/ok" in actions
    assert "exec_die" in actions
