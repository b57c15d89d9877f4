"""``docker stats``: one container's resource usage in Docker's exact JSON shape.

The numbers come from the runtime's cgroup readers (``runtime/cgroups/stats.py``,
v1 and v2 in one shape), ``/proc/stat`` for ``system_cpu_usage`` (nanoseconds
summed over the first seven fields, as dockerd computes it) and the container's
own ``/proc/<pid>/net/dev`` for ``networks``. The document is built by pure
functions from that input, so unit tests feed it fixture files of either cgroup
version; :class:`StatsSampler` does the I/O and keeps the previous sample, which
becomes the next document's ``precpu_stats`` (what the docker CLI needs to show a
CPU percentage). The cgroup is found from the init's ``/proc/<pid>/cgroup``
(``cgroupof.py``), so containers of any runc-compatible runtime are measured.

Docker's Go structs decide the shape: empty ``omitempty`` fields are left out
(``max_usage`` and ``failcnt`` on v2, ``percpu_usage`` when there is none, a pids
``limit`` when there is no limit, ``networks`` without a network namespace).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dockyard.runtime.cgroups.stats import BlkioEntry, CgroupStats

ZERO_TIME = "0001-01-01T00:00:00Z"
BLKIO_KEYS = ("io_service_bytes_recursive", "io_serviced_recursive", "io_queue_recursive",
              "io_service_time_recursive", "io_wait_time_recursive", "io_merged_recursive",
              "io_time_recursive", "sectors_recursive")
NET_KEYS = ("rx_bytes", "rx_packets", "rx_errors", "rx_dropped",
            "tx_bytes", "tx_packets", "tx_errors", "tx_dropped")
# /proc/net/dev columns: 8 receive counters then 8 transmit counters.
_NET_COLUMNS = {"rx_bytes": 0, "rx_packets": 1, "rx_errors": 2, "rx_dropped": 3,
                "tx_bytes": 8, "tx_packets": 9, "tx_errors": 10, "tx_dropped": 11}


def rfc3339nano(ns: int) -> str:
    """Go's RFC3339Nano in UTC: nanoseconds with the trailing zeros dropped."""
    secs, frac = divmod(ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    digits = f"{frac:09d}".rstrip("0")
    return f"{base}.{digits}Z" if digits else f"{base}Z"


def system_cpu_usage(proc_stat: str, clock_ticks: int = 100) -> int:
    """The host's CPU time in ns from ``/proc/stat``'s ``cpu`` line: user, nice,
    system, idle, iowait, irq and softirq (dockerd's sum), ticks -> ns."""
    for line in proc_stat.splitlines():
        parts = line.split()
        if parts and parts[0] == "cpu":
            ticks = sum(int(x) for x in parts[1:8])
            return ticks * 1_000_000_000 // clock_ticks
    raise ValueError("no cpu line in /proc/stat")


def parse_net_dev(text: str) -> dict[str, dict[str, int]]:
    """``/proc/<pid>/net/dev`` -> {interface: Docker's counters}, loopback left out."""
    out: dict[str, dict[str, int]] = {}
    for line in text.splitlines()[2:]:
        name, sep, rest = line.partition(":")
        name = name.strip()
        if not sep or not name or name == "lo":
            continue
        values = rest.split()
        if len(values) < 16:
            continue
        out[name] = {key: int(values[col]) for key, col in _NET_COLUMNS.items()}
    return out


def _blkio(entries: list[BlkioEntry], lower_ops: bool) -> list[dict[str, Any]]:
    return [{"major": e.major, "minor": e.minor,
             "op": e.op.lower() if lower_ops else e.op, "value": e.value} for e in entries]


@dataclass(frozen=True)
class Sample:
    """One reading: what a document needs from the kernel at one instant."""

    read_ns: int
    cgroup: CgroupStats
    cgroup_version: int
    system_ns: int
    online_cpus: int
    networks: dict[str, dict[str, int]] | None
    machine_memory: int = 0


def cpu_stats(sample: Sample | None) -> dict[str, Any]:
    """``cpu_stats`` (or ``precpu_stats``): zeros without a sample, like dockerd."""
    if sample is None:
        return {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0,
                              "usage_in_usermode": 0},
                "throttling_data": {"periods": 0, "throttled_periods": 0,
                                    "throttled_time": 0}}
    cpu = sample.cgroup.cpu
    usage: dict[str, Any] = {"total_usage": cpu.total_ns}
    if cpu.per_cpu_ns:
        usage["percpu_usage"] = list(cpu.per_cpu_ns)
    usage["usage_in_kernelmode"] = cpu.system_ns
    usage["usage_in_usermode"] = cpu.user_ns
    out: dict[str, Any] = {"cpu_usage": usage}
    if sample.system_ns:
        out["system_cpu_usage"] = sample.system_ns
    if sample.online_cpus:
        out["online_cpus"] = sample.online_cpus
    out["throttling_data"] = {"periods": cpu.periods,
                              "throttled_periods": cpu.throttled_periods,
                              "throttled_time": cpu.throttled_ns}
    return out


def memory_stats(sample: Sample) -> dict[str, Any]:
    mem = sample.cgroup.memory
    out: dict[str, Any] = {"usage": mem.usage}
    if sample.cgroup_version == 1 and mem.max_usage:
        out["max_usage"] = mem.max_usage
    out["stats"] = dict(mem.stats)
    if mem.failcnt and sample.cgroup_version == 1:
        out["failcnt"] = mem.failcnt
    limit = mem.limit
    # An unlimited cgroup reports the host's memory, as dockerd does.
    if sample.machine_memory and (limit < 0 or limit > sample.machine_memory):
        limit = sample.machine_memory
    out["limit"] = max(limit, 0)
    return out


def document(container_id: str, name: str, current: Sample | None,
             previous: Sample | None) -> dict[str, Any]:
    """Docker's stats JSON; ``current`` None gives dockerd's zero document (a
    container that is not running)."""
    if current is None:
        return {"read": ZERO_TIME, "preread": ZERO_TIME, "pids_stats": {},
                "blkio_stats": dict.fromkeys(BLKIO_KEYS), "num_procs": 0,
                "storage_stats": {}, "cpu_stats": cpu_stats(None),
                "precpu_stats": cpu_stats(None), "memory_stats": {},
                "name": "/" + name.lstrip("/"), "id": container_id}
    cg = current.cgroup
    pids: dict[str, int] = {}
    if cg.pids.current:
        pids["current"] = cg.pids.current
    if cg.pids.limit > 0:
        pids["limit"] = cg.pids.limit
    lower = current.cgroup_version == 2
    blkio: dict[str, Any] = {key: [] for key in BLKIO_KEYS}
    blkio["io_service_bytes_recursive"] = _blkio(cg.io_service_bytes, lower)
    blkio["io_serviced_recursive"] = _blkio(cg.io_serviced, lower)
    doc: dict[str, Any] = {
        "read": rfc3339nano(current.read_ns),
        "preread": rfc3339nano(previous.read_ns) if previous else ZERO_TIME,
        "pids_stats": pids,
        "blkio_stats": blkio,
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": cpu_stats(current),
        "precpu_stats": cpu_stats(previous),
        "memory_stats": memory_stats(current),
        "name": "/" + name.lstrip("/"),
        "id": container_id,
    }
    if current.networks:
        doc["networks"] = current.networks
    return doc


# --- what the docker CLI computes from a document (tests and `dockyard stats`) ---

def cpu_percent(doc: dict[str, Any]) -> float:
    """The docker CLI's CPU %: container delta over host delta, times online CPUs."""
    cpu, pre = doc.get("cpu_stats") or {}, doc.get("precpu_stats") or {}
    cpu_delta = (cpu.get("cpu_usage", {}).get("total_usage", 0)
                 - pre.get("cpu_usage", {}).get("total_usage", 0))
    system_delta = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    online = cpu.get("online_cpus") or len(cpu.get("cpu_usage", {}).get("percpu_usage")
                                          or [])
    if system_delta > 0 and cpu_delta > 0:
        return cpu_delta / system_delta * online * 100.0
    return 0.0


def memory_usage_no_cache(doc: dict[str, Any]) -> int:
    """The docker CLI's memory figure: usage minus inactive file pages (v1's
    ``total_inactive_file``, v2's ``inactive_file``)."""
    mem = doc.get("memory_stats") or {}
    usage = mem.get("usage", 0)
    stats = mem.get("stats") or {}
    for key in ("total_inactive_file", "inactive_file"):
        if key in stats:
            if stats[key] < usage:
                return usage - stats[key]
            return usage
    return usage


# --- reading the kernel ----------------------------------------------------------

def machine_memory() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _netns_differs(pid: int) -> bool:
    try:
        return os.readlink(f"/proc/{pid}/ns/net") != os.readlink("/proc/self/ns/net")
    except OSError:
        return False


def read_networks(pid: int) -> dict[str, dict[str, int]] | None:
    """The container's interfaces; None on the host's network (docker shows none)."""
    if pid <= 0 or not _netns_differs(pid):
        return None
    try:
        with open(f"/proc/{pid}/net/dev") as f:
            return parse_net_dev(f.read())
    except OSError:
        return None


class StatsSampler:
    """Samples one running container's cgroup; remembers the previous sample.

    ``version``/``dirs`` are its cgroup (``cgroupof.cgroup_of(pid)``: v1 controller
    -> directory, or v2 ``{"": directory}``); ``pid`` its init's host pid.
    """

    def __init__(self, container_id: str, name: str, pid: int, version: int,
                 dirs: dict[str, str]) -> None:
        self.container_id = container_id
        self.name = name
        self.pid = pid
        self.version = version
        self.dirs = dirs
        self.previous: Sample | None = None
        self._machine_memory = machine_memory()
        self._clock_ticks = os.sysconf("SC_CLK_TCK") or 100

    def read_cgroup(self) -> CgroupStats:
        from dockyard.runtime.cgroups.stats import read_v1, read_v2

        if self.version == 2:
            return read_v2(self.dirs[""])
        return read_v1(self.dirs)

    def sample(self) -> Sample:
        cg = self.read_cgroup()
        with open("/proc/stat") as f:
            system_ns = system_cpu_usage(f.read(), self._clock_ticks)
        return Sample(time.time_ns(), cg, self.version, system_ns,
                      len(os.sched_getaffinity(0)), read_networks(self.pid),
                      self._machine_memory)

    def next_document(self) -> dict[str, Any]:
        """A new sample as a document whose ``precpu_stats`` is the last one."""
        current = self.sample()
        doc = document(self.container_id, self.name, current, self.previous)
        self.previous = current
        return doc


def sampler_for(container_id: str, name: str, pid: int) -> StatsSampler:
    """A sampler for a running container whose init is ``pid`` (any runtime);
    Conflict when that process is gone."""
    from dockyard.engine.cgroupof import cgroup_of

    version, dirs = cgroup_of(pid)
    return StatsSampler(container_id, name, pid, version, dirs)


__all__ = ["BLKIO_KEYS", "NET_KEYS", "ZERO_TIME", "Sample", "StatsSampler", "cpu_percent",
           "cpu_stats", "document", "machine_memory", "memory_stats",
           "memory_usage_no_cache", "parse_net_dev", "read_networks", "rfc3339nano",
           "sampler_for", "system_cpu_usage"]
