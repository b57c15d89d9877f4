"""Resource usage of one cgroup, read from v1 or v2 files into one shape.

The fields are what Docker's stats JSON needs (memory usage/limit/cache, cpu
total/per-cpu/user/system/throttling, pids, block I/O bytes and ops), all in
bytes and nanoseconds whatever the hierarchy's own units are. ``to_dict()`` gives
plain JSON-ready data for the state file or the daemon.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field

from . import cgfs

__all__ = ["BlkioEntry", "CgroupStats", "CpuStats", "MemoryStats", "PidsStats",
           "read_v1", "read_v2"]


@dataclass(frozen=True)
class MemoryStats:
    usage: int = 0
    max_usage: int = 0
    limit: int = -1  # -1 = unlimited
    cache: int = 0
    swap_usage: int = 0
    failcnt: int = 0
    stats: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class CpuStats:
    total_ns: int = 0
    per_cpu_ns: list[int] = field(default_factory=list)
    user_ns: int = 0
    system_ns: int = 0
    periods: int = 0
    throttled_periods: int = 0
    throttled_ns: int = 0


@dataclass(frozen=True)
class PidsStats:
    current: int = 0
    limit: int = -1  # -1 = unlimited


@dataclass(frozen=True)
class BlkioEntry:
    major: int
    minor: int
    op: str  # Read, Write, Sync, Async, Discard, Total
    value: int


@dataclass(frozen=True)
class CgroupStats:
    memory: MemoryStats = field(default_factory=MemoryStats)
    cpu: CpuStats = field(default_factory=CpuStats)
    pids: PidsStats = field(default_factory=PidsStats)
    io_service_bytes: list[BlkioEntry] = field(default_factory=list)
    io_serviced: list[BlkioEntry] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


# v1 memory.limit_in_bytes reads as this (PAGE_COUNTER_MAX pages) when unlimited
_V1_UNLIMITED = 0x7FFFFFFFFFFFF000


def _limit(value: int | None) -> int:
    if value is None or value < 0 or value >= _V1_UNLIMITED:
        return -1
    return value


def _v1_blkio(directory: str, base: str) -> list[BlkioEntry]:
    for name in (f"blkio.throttle.{base}_recursive", f"blkio.throttle.{base}",
                 f"blkio.bfq.{base}_recursive", f"blkio.{base}_recursive"):
        try:
            text = cgfs.read(directory, name)
        except OSError:
            continue
        entries = []
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 3 and ":" in parts[0]:
                major, minor = parts[0].split(":", 1)
                entries.append(BlkioEntry(int(major), int(minor), parts[1], int(parts[2])))
        return entries
    return []


def read_v1(paths: dict[str, str]) -> CgroupStats:
    """Stats from v1 controller directories (controller name -> directory)."""
    mem_dir = paths.get("memory")
    memory = MemoryStats()
    if mem_dir and os.path.isdir(mem_dir):
        kv = cgfs.read_kv(mem_dir, "memory.stat")
        swap_total = cgfs.read_int(mem_dir, "memory.memsw.usage_in_bytes")
        usage = cgfs.read_int(mem_dir, "memory.usage_in_bytes", 0) or 0
        memory = MemoryStats(
            usage=usage,
            max_usage=cgfs.read_int(mem_dir, "memory.max_usage_in_bytes", 0) or 0,
            limit=_limit(cgfs.read_int(mem_dir, "memory.limit_in_bytes")),
            cache=kv.get("total_cache", kv.get("cache", 0)),
            swap_usage=max(0, swap_total - usage) if swap_total is not None else 0,
            failcnt=cgfs.read_int(mem_dir, "memory.failcnt", 0) or 0,
            stats=kv,
        )
    cpu = CpuStats()
    acct_dir = paths.get("cpuacct")
    cpu_dir = paths.get("cpu")
    if acct_dir and os.path.isdir(acct_dir):
        try:
            per_cpu = [int(x) for x in cgfs.read(acct_dir, "cpuacct.usage_percpu").split()]
        except (OSError, ValueError):
            per_cpu = []
        ticks = cgfs.read_kv(acct_dir, "cpuacct.stat")
        hz = os.sysconf("SC_CLK_TCK") or 100
        throttle = cgfs.read_kv(cpu_dir, "cpu.stat") if cpu_dir else {}
        cpu = CpuStats(
            total_ns=cgfs.read_int(acct_dir, "cpuacct.usage", 0) or 0,
            per_cpu_ns=per_cpu,
            user_ns=ticks.get("user", 0) * 1_000_000_000 // hz,
            system_ns=ticks.get("system", 0) * 1_000_000_000 // hz,
            periods=throttle.get("nr_periods", 0),
            throttled_periods=throttle.get("nr_throttled", 0),
            throttled_ns=throttle.get("throttled_time", 0),
        )
    pids = PidsStats()
    pids_dir = paths.get("pids")
    if pids_dir and os.path.isdir(pids_dir):
        pids = PidsStats(cgfs.read_int(pids_dir, "pids.current", 0) or 0,
                         _limit(cgfs.read_int(pids_dir, "pids.max")))
    blk_dir = paths.get("blkio")
    bytes_, ops = [], []
    if blk_dir and os.path.isdir(blk_dir):
        bytes_ = _v1_blkio(blk_dir, "io_service_bytes")
        ops = _v1_blkio(blk_dir, "io_serviced")
    return CgroupStats(memory, cpu, pids, bytes_, ops)


def _v2_io(directory: str) -> tuple[list[BlkioEntry], list[BlkioEntry]]:
    bytes_, ops = [], []
    try:
        text = cgfs.read(directory, "io.stat")
    except OSError:
        return bytes_, ops
    for line in text.splitlines():
        parts = line.split()
        if not parts or ":" not in parts[0]:
            continue
        major, minor = (int(x) for x in parts[0].split(":", 1))
        kv = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        for key, op, out in (("rbytes", "Read", bytes_), ("wbytes", "Write", bytes_),
                             ("rios", "Read", ops), ("wios", "Write", ops)):
            if key in kv:
                out.append(BlkioEntry(major, minor, op, int(kv[key])))
    return bytes_, ops


def read_v2(directory: str) -> CgroupStats:
    """Stats from one v2 cgroup directory (absent controllers read as zero)."""
    kv = cgfs.read_kv(directory, "memory.stat")
    memory = MemoryStats(
        usage=cgfs.read_int(directory, "memory.current", 0) or 0,
        max_usage=cgfs.read_int(directory, "memory.peak", 0) or 0,
        limit=_limit(cgfs.read_int(directory, "memory.max")),
        cache=kv.get("file", 0),
        swap_usage=cgfs.read_int(directory, "memory.swap.current", 0) or 0,
        failcnt=cgfs.read_kv(directory, "memory.events").get("max", 0),
        stats=kv,
    )
    cpu_kv = cgfs.read_kv(directory, "cpu.stat")
    cpu = CpuStats(
        total_ns=cpu_kv.get("usage_usec", 0) * 1000,
        user_ns=cpu_kv.get("user_usec", 0) * 1000,
        system_ns=cpu_kv.get("system_usec", 0) * 1000,
        periods=cpu_kv.get("nr_periods", 0),
        throttled_periods=cpu_kv.get("nr_throttled", 0),
        throttled_ns=cpu_kv.get("throttled_usec", 0) * 1000,
    )
    pids = PidsStats(cgfs.read_int(directory, "pids.current", 0) or 0,
                     _limit(cgfs.read_int(directory, "pids.max")))
    bytes_, ops = _v2_io(directory)
    return CgroupStats(memory, cpu, pids, bytes_, ops)
