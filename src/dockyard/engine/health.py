"""HEALTHCHECK: one probe loop per running container with a health check.

``HealthState`` is dockerd's state machine, pure: a probe exiting 0 makes the
container ``healthy`` and clears the failing streak; any other result (a
non-zero exit, a timeout, a probe that could not run) adds to the streak, except
while the container is still ``starting`` inside its start period, and at
``Retries`` failures in a row it is ``unhealthy``. The log keeps the last five
results (Start, End, ExitCode, Output truncated to 4096 bytes).

``HealthMonitor`` is what the engine calls (on the event loop): ``start(record)``
after the container started (returns the ``starting`` State.Health to store),
``stop(id, stored_health)`` when it stops or is removed (returns the
``unhealthy`` State.Health dockerd shows for a stopped container), ``close()`` at
daemon shutdown. Each loop sleeps ``Interval``, skips while the container is
paused, probes through exec (``ExecService.probe``: ``CMD`` runs as given,
``CMD-SHELL`` through ``/bin/sh -c``), saves ``State.Health`` through the
engine (``ContainerService.update_state(id, health=...)``) and emits
``health_status: healthy|unhealthy`` when the status changes. Defaults are
dockerd's: 30s interval, 30s timeout, no start period, 3 retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dockyard.errors import DockyardError, InvalidArgument

if TYPE_CHECKING:
    from dockyard.engine.exec import ExecService, ExecTarget

log = logging.getLogger("dockyardd.health")

STARTING, HEALTHY, UNHEALTHY, NONE = "starting", "healthy", "unhealthy", "none"
DEFAULT_INTERVAL = 30.0
DEFAULT_TIMEOUT = 30.0
DEFAULT_START_PERIOD = 0.0
DEFAULT_RETRIES = 3
MAX_LOG_ENTRIES = 5
MAX_OUTPUT = 4096
MIN_DURATION_NS = 1_000_000   # dockerd refuses anything below 1ms


@dataclass(frozen=True)
class HealthConfig:
    """Config.Healthcheck, checked, with dockerd's defaults for zero values."""

    command: tuple[str, ...]
    interval: float = DEFAULT_INTERVAL
    timeout: float = DEFAULT_TIMEOUT
    start_period: float = DEFAULT_START_PERIOD
    retries: int = DEFAULT_RETRIES

    @classmethod
    def from_config(cls, check: Any) -> HealthConfig | None:
        """None when there is nothing to run (no check, ``NONE``, empty test)."""
        if not check or not isinstance(check, dict):
            return None
        test = check.get("Test") or []
        if not isinstance(test, list) or not all(isinstance(x, str) for x in test):
            raise InvalidArgument("Healthcheck.Test must be an array of strings")
        if not test or test[0] == "NONE":
            return None
        if test[0] == "CMD":
            command = tuple(test[1:])
        elif test[0] == "CMD-SHELL":
            command = ("/bin/sh", "-c", " ".join(test[1:]))
        else:
            raise InvalidArgument(f"unknown Healthcheck.Test type {test[0]!r} "
                                  "(CMD, CMD-SHELL or NONE)")
        if not command or not command[0]:
            return None

        def seconds(key: str, default: float) -> float:
            value = check.get(key) or 0
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InvalidArgument(f"Healthcheck.{key} must be a non-negative "
                                      "number of nanoseconds")
            if 0 < value < MIN_DURATION_NS:
                raise InvalidArgument(f"Healthcheck.{key} in {key} cannot be less than 1ms")
            return value / 1e9 if value else default

        retries = check.get("Retries") or 0
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            raise InvalidArgument("Healthcheck.Retries must be a non-negative integer")
        return cls(command, seconds("Interval", DEFAULT_INTERVAL),
                   seconds("Timeout", DEFAULT_TIMEOUT),
                   seconds("StartPeriod", DEFAULT_START_PERIOD),
                   retries or DEFAULT_RETRIES)


@dataclass(frozen=True)
class ProbeResult:
    start: str          # RFC3339Nano
    end: str
    exit_code: int
    output: str

    def to_docker(self) -> dict[str, Any]:
        return {"Start": self.start, "End": self.end, "ExitCode": self.exit_code,
                "Output": self.output}


@dataclass
class HealthState:
    status: str = STARTING
    failing_streak: int = 0
    log: list[ProbeResult] = field(default_factory=list)

    def apply(self, result: ProbeResult, *, within_start_period: bool, retries: int) -> bool:
        """Record one probe; True when the status changed."""
        before = self.status
        if result.exit_code == 0:
            self.failing_streak = 0
            self.status = HEALTHY
        elif not (self.status == STARTING and within_start_period):
            self.failing_streak += 1
            if self.failing_streak >= retries:
                self.status = UNHEALTHY
        self.log.append(result)
        del self.log[:-MAX_LOG_ENTRIES]
        return self.status != before

    def to_docker(self) -> dict[str, Any]:
        return {"Status": self.status, "FailingStreak": self.failing_streak,
                "Log": [r.to_docker() for r in self.log]}

    @classmethod
    def from_docker(cls, doc: Any) -> HealthState:
        if not isinstance(doc, dict):
            return cls()
        entries = []
        for e in doc.get("Log") or []:
            with contextlib.suppress(KeyError, TypeError, ValueError):
                entries.append(ProbeResult(str(e["Start"]), str(e["End"]),
                                           int(e["ExitCode"]), str(e.get("Output", ""))))
        return cls(str(doc.get("Status") or STARTING), int(doc.get("FailingStreak") or 0),
                   entries[-MAX_LOG_ENTRIES:])


def stopped_health(health: dict | None) -> dict | None:
    """State.Health of a container that stopped: ``unhealthy``, the rest kept."""
    if not isinstance(health, dict) or not health:
        return None
    return {**health, "Status": UNHEALTHY}


def health_status(record: Any) -> str:
    """For ``ps --filter health=``: starting|healthy|unhealthy, or none."""
    health = getattr(getattr(record, "state", None), "health", None)
    if isinstance(health, dict) and health.get("Status"):
        return str(health["Status"])
    return NONE


def _now() -> str:
    from dockyard.engine.stats import rfc3339nano

    return rfc3339nano(time.time_ns())


class Prober:
    """What a health loop needs: run the probe, know the container's state."""

    async def target(self, container_id: str) -> ExecTarget: ...
    async def probe(self, target: ExecTarget, cmd: list[str],
                    timeout: float) -> tuple[int, str]: ...
    def emit(self, target: ExecTarget, action: str) -> None: ...


class ExecProber(Prober):
    def __init__(self, execs: ExecService) -> None:
        self.execs = execs

    async def target(self, container_id: str) -> ExecTarget:
        return await self.execs.target(container_id)

    async def probe(self, target: ExecTarget, cmd: list[str],
                    timeout: float) -> tuple[int, str]:
        return await self.execs.probe(target, cmd, timeout, limit=MAX_OUTPUT)

    def emit(self, target: ExecTarget, action: str) -> None:
        self.execs.emit(target, action)


Save = Callable[[str, dict], Awaitable[None]]


class HealthMonitor:
    """Every health loop of one daemon (the engine starts and stops them)."""

    def __init__(self, prober: Prober, save: Save, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.prober = prober
        self.save = save
        self.clock = clock
        self._tasks: dict[str, asyncio.Task] = {}
        self._states: dict[str, HealthState] = {}

    def start(self, record: Any) -> dict | None:
        """The container just started: (re)start its loop. Returns the initial
        State.Health to store (status ``starting``), None without a health check.
        Raises InvalidArgument for a malformed Healthcheck (create should refuse
        those first)."""
        config = HealthConfig.from_config((record.config or {}).get("Healthcheck"))
        self.stop(record.id)
        if config is None:
            return None
        previous = HealthState.from_docker(getattr(record.state, "health", None))
        state = HealthState(STARTING, 0, previous.log)
        self._states[record.id] = state
        self._tasks[record.id] = asyncio.ensure_future(
            self._loop(record.id, config, state))
        return state.to_docker()

    def stop(self, container_id: str, health: dict | None = None) -> dict | None:
        """The container stopped or went away: end its loop. Returns the State.Health
        to store (dockerd marks a stopped container ``unhealthy``, streak and log
        kept): from the loop's state, else from ``health`` (the stored one); None
        when the container has no health state."""
        task = self._tasks.pop(container_id, None)
        if task is not None and not task.done():
            task.cancel()
        state = self._states.pop(container_id, None)
        return stopped_health(state.to_docker() if state else health)

    def state(self, container_id: str) -> dict | None:
        state = self._states.get(container_id)
        return state.to_docker() if state else None

    def running(self, container_id: str) -> bool:
        task = self._tasks.get(container_id)
        return task is not None and not task.done()

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _loop(self, container_id: str, config: HealthConfig, state: HealthState) -> None:
        started = self.clock()
        while True:
            await asyncio.sleep(config.interval)
            try:
                await self.probe_once(container_id, config, state, started)
            except asyncio.CancelledError:
                raise
            except Exception:   # a loop must not die of one bad probe
                log.exception("health probe of %s failed", container_id)

    async def probe_once(self, container_id: str, config: HealthConfig, state: HealthState,
                         started: float) -> bool:
        """One probe: apply, save, emit. False when skipped (paused / not running)."""
        try:
            target = await self.prober.target(container_id)
        except DockyardError:
            return False
        if target.status != "running":
            return False
        begin = self.clock()
        start = _now()
        code, output = await self.prober.probe(target, list(config.command), config.timeout)
        result = ProbeResult(start, _now(), code, output[:MAX_OUTPUT])
        changed = state.apply(result, within_start_period=begin - started < config.start_period,
                              retries=config.retries)
        if self._states.get(container_id) is not state:
            return False   # stopped while probing: the result belongs to no one
        await self.save(container_id, state.to_docker())
        if changed and state.status in (HEALTHY, UNHEALTHY):
            self.prober.emit(target, f"health_status: {state.status}")
        return True


_MONITORS: dict[int, tuple[Any, HealthMonitor]] = {}


def health_monitor(backend: Any) -> HealthMonitor:
    """The daemon's HealthMonitor (made on first use, keyed by the backend)."""
    found = _MONITORS.get(id(backend))
    if found is not None and found[0] is backend:
        return found[1]
    from dockyard.engine.exec import exec_service

    async def save(container_id: str, health: dict) -> None:
        with contextlib.suppress(DockyardError):
            await backend.run(lambda: backend.containers.update_state(container_id,
                                                                       health=health))

    monitor = HealthMonitor(ExecProber(exec_service(backend)), save)
    _MONITORS[id(backend)] = (backend, monitor)
    return monitor




async def close_services(backend: Any) -> None:
    """Daemon shutdown: end the health loops and running execs of ``backend``
    (only those made; nothing is created here)."""
    from dockyard.engine import exec as execmod

    found = _MONITORS.pop(id(backend), None)
    if found is not None and found[0] is backend:
        await found[1].close()
    svc = execmod._SERVICES.pop(id(backend), None)
    if svc is not None and svc[0] is backend:
        await svc[1].close()


__all__ = ["DEFAULT_INTERVAL", "DEFAULT_RETRIES", "DEFAULT_START_PERIOD", "DEFAULT_TIMEOUT",
           "HEALTHY", "MAX_LOG_ENTRIES", "NONE", "STARTING", "UNHEALTHY", "ExecProber",
           "HealthConfig", "HealthMonitor", "HealthState", "ProbeResult", "Prober",
           "close_services", "health_monitor", "health_status", "stopped_health"]
