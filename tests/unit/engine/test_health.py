"""The health state machine (dockerd's rules) and the monitor, with a fake prober."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dockyard.engine.exec import ExecTarget
from dockyard.engine.health import (
    HEALTHY,
    MAX_LOG_ENTRIES,
    STARTING,
    UNHEALTHY,
    HealthConfig,
    HealthMonitor,
    HealthState,
    ProbeResult,
    health_status,
)
from dockyard.errors import InvalidArgument

S = 1_000_000_000


def _r(code: int, out: str = "") -> ProbeResult:
    return ProbeResult("2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", code, out)


def test_config_forms_and_defaults():
    assert HealthConfig.from_config(None) is None
    assert HealthConfig.from_config({"Test": ["NONE"]}) is None
    assert HealthConfig.from_config({"Test": []}) is None
    c = HealthConfig.from_config({"Test": ["CMD-SHELL", "curl -f localhost || exit 1"]})
    assert c.command == ("/bin/sh", "-c", "curl -f localhost || exit 1")
    assert (c.interval, c.timeout, c.start_period, c.retries) == (30.0, 30.0, 0.0, 3)
    c = HealthConfig.from_config({"Test": ["CMD", "true", "x"], "Interval": 2 * S,
                                  "Timeout": S // 2, "StartPeriod": 5 * S, "Retries": 1})
    assert c.command == ("true", "x")
    assert (c.interval, c.timeout, c.start_period, c.retries) == (2.0, 0.5, 5.0, 1)
    for bad in ({"Test": ["WHAT", "x"]}, {"Test": "CMD true"},
                {"Test": ["CMD", "x"], "Interval": 10},
                {"Test": ["CMD", "x"], "Retries": -1}):
        with pytest.raises(InvalidArgument):
            HealthConfig.from_config(bad)


def test_state_machine_follows_dockerd():
    s = HealthState()
    assert s.status == STARTING
    assert not s.apply(_r(1), within_start_period=True, retries=2)   # grace: not counted
    assert s.failing_streak == 0 and s.status == STARTING
    assert s.apply(_r(0), within_start_period=True, retries=2)
    assert s.status == HEALTHY
    assert not s.apply(_r(1), within_start_period=True, retries=2)   # healthy: counted
    assert s.failing_streak == 1 and s.status == HEALTHY
    assert s.apply(_r(-1, "Health check exceeded timeout (1s)"), within_start_period=False,
                   retries=2)
    assert s.status == UNHEALTHY and s.failing_streak == 2
    assert not s.apply(_r(2), within_start_period=False, retries=2)
    assert s.failing_streak == 3
    assert s.apply(_r(0), within_start_period=False, retries=2)
    assert s.status == HEALTHY and s.failing_streak == 0
    assert len(s.log) == MAX_LOG_ENTRIES and s.log[-1].exit_code == 0
    doc = s.to_docker()
    assert set(doc) == {"Status", "FailingStreak", "Log"}
    assert set(doc["Log"][0]) == {"Start", "End", "ExitCode", "Output"}
    assert HealthState.from_docker(doc) == s


def test_starting_becomes_unhealthy_after_retries_outside_the_start_period():
    s = HealthState()
    for _ in range(2):
        s.apply(_r(1), within_start_period=False, retries=3)
    assert s.status == STARTING
    assert s.apply(_r(1), within_start_period=False, retries=3)
    assert s.status == UNHEALTHY


@dataclass
class FakeProber:
    codes: list[int]
    status: str = "running"
    calls: list[list[str]] = field(default_factory=list)
    events: list[str] = field(default_factory=list)

    async def target(self, container_id: str) -> ExecTarget:
        return ExecTarget(container_id, "web", self.status, 1, Path("/"))

    async def probe(self, target, cmd, timeout):
        self.calls.append(cmd)
        code = self.codes.pop(0) if self.codes else 0
        return code, f"probe {len(self.calls)}\n"

    def emit(self, target, action):
        self.events.append(action)


@dataclass
class Rec:
    id: str
    config: dict
    state: object = None


@dataclass
class St:
    health: dict | None = None


def _run(coro):
    return asyncio.run(coro)


def test_monitor_runs_probes_saves_and_emits_on_change():
    prober = FakeProber([0, 0, 1, 1, 0])
    saved: list[dict] = []

    async def save(cid, doc):
        saved.append(doc)

    async def main():
        mon = HealthMonitor(prober, save)
        rec = Rec("c1", {"Healthcheck": {"Test": ["CMD", "check"], "Interval": S // 50,
                                         "Retries": 2}}, St())
        first = mon.start(rec)
        assert first == {"Status": "starting", "FailingStreak": 0, "Log": []}
        assert mon.running("c1")
        for _ in range(200):
            await asyncio.sleep(0.01)
            if len(saved) >= 5:
                break
        mon.stop("c1")
        assert not mon.running("c1")
        await mon.close()

    _run(main())
    assert prober.calls[0] == ["check"]
    assert [d["Status"] for d in saved[:5]] == ["healthy", "healthy", "healthy", "unhealthy",
                                               "healthy"]
    assert prober.events[:3] == ["health_status: healthy", "health_status: unhealthy",
                                 "health_status: healthy"]
    assert saved[4]["Log"][-1]["Output"] == "probe 5\n"


def test_monitor_skips_paused_containers_and_ignores_no_healthcheck():
    prober = FakeProber([1, 1, 1], status="paused")
    saved: list[dict] = []

    async def save(cid, doc):
        saved.append(doc)

    async def main():
        mon = HealthMonitor(prober, save)
        assert mon.start(Rec("c0", {}, St())) is None
        assert mon.start(Rec("c0", {"Healthcheck": {"Test": ["NONE"]}}, St())) is None
        mon.start(Rec("c1", {"Healthcheck": {"Test": ["CMD", "x"], "Interval": S // 100}},
                      St()))
        await asyncio.sleep(0.1)
        await mon.close()

    _run(main())
    assert prober.calls == [] and saved == []


def test_restart_keeps_the_log_and_starts_over():
    async def main():
        async def save(cid, doc):
            pass

        mon = HealthMonitor(FakeProber([]), save)
        old = {"Status": "unhealthy", "FailingStreak": 4,
               "Log": [_r(1).to_docker()]}
        doc = mon.start(Rec("c1", {"Healthcheck": {"Test": ["CMD", "x"]}}, St(old)))
        await mon.close()
        return doc

    doc = _run(main())
    assert doc["Status"] == "starting" and doc["FailingStreak"] == 0
    assert len(doc["Log"]) == 1


def test_health_status_for_list_filters():
    assert health_status(Rec("c", {}, St())) == "none"
    assert health_status(Rec("c", {}, St({"Status": "healthy"}))) == "healthy"


def test_stop_marks_the_container_unhealthy_like_dockerd():
    async def main():
        async def save(cid, doc):
            pass

        mon = HealthMonitor(FakeProber([]), save)
        mon.start(Rec("c1", {"Healthcheck": {"Test": ["CMD", "x"]}}, St()))
        doc = mon.stop("c1")
        assert doc == {"Status": "unhealthy", "FailingStreak": 0, "Log": []}
        # no loop (e.g. after a daemon restart): from the stored value
        stored = {"Status": "healthy", "FailingStreak": 0, "Log": [_r(0).to_docker()]}
        assert mon.stop("c2", stored) == {**stored, "Status": "unhealthy"}
        assert mon.stop("c3") is None
        await mon.close()

    _run(main())
