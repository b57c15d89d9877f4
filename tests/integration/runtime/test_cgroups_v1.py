"""The v1 manager on this host's real hierarchies (hybrid: v1 + cgroup2 for hugetlb)."""

from __future__ import annotations

import fcntl
import os
import subprocess
import time
from pathlib import Path

import pytest

from dockyard.errors import InvalidArgument, Unavailable
from dockyard.runtime.cgroups import create_manager, load_manager
from dockyard.runtime.cgroups.paths import detect
from tests.conftest import require_root

from .test_cgroups_helpers import HeldChild, kill_all_and_destroy, proc_cgroups

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _v1_host() -> None:
    require_root()
    if detect().mode not in ("v1", "hybrid"):
        pytest.fail(f"these tests need cgroup v1 (this host is {detect().mode})",
                    pytrace=False)


def read(directory: str, name: str) -> str:
    return Path(directory, name).read_text().strip()


def test_create_join_set_read_back_destroy(container_id: str, busybox_binary: Path) -> None:
    m = create_manager(f"/{container_id}-parent/{container_id}", container_id)
    child = HeldChild(busybox_binary, "exec sleep 60")
    try:
        m.apply(child.pid)
        m.set({
            "memory": {"limit": 32 << 20, "swap": 64 << 20, "reservation": 16 << 20,
                       "kernelTCP": 8 << 20, "swappiness": 20, "kernel": 1 << 20},
            "cpu": {"shares": 256, "quota": 20000, "period": 100000, "cpus": "0",
                    "mems": "0"},
            "pids": {"limit": 7},
        })
        p = m.paths
        assert read(p["memory"], "memory.limit_in_bytes") == str(32 << 20)
        assert read(p["memory"], "memory.memsw.limit_in_bytes") == str(64 << 20)
        assert read(p["memory"], "memory.soft_limit_in_bytes") == str(16 << 20)
        assert read(p["memory"], "memory.kmem.tcp.limit_in_bytes") == str(8 << 20)
        assert read(p["memory"], "memory.swappiness") == "20"
        assert read(p["cpu"], "cpu.shares") == "256"
        assert read(p["cpu"], "cpu.cfs_quota_us") == "20000"
        assert read(p["cpu"], "cpu.cfs_period_us") == "100000"
        assert read(p["cpuset"], "cpuset.cpus") == "0"
        assert read(p["pids"], "pids.max") == "7"
        where = proc_cgroups(child.pid)
        for name in ("memory", "cpu", "cpuset", "devices", "freezer", "pids", "blkio",
                     "name=systemd", ""):
            assert where[name] == f"/{container_id}-parent/{container_id}", name
        assert m.pids() == [child.pid]
        child.go()  # exec sleep inside the cgroup: memory and cpu get charged there
        time.sleep(0.3)
        s = load_manager(m.to_state()).stats()
        assert s.pids.current == 1 and s.pids.limit == 7
        assert s.memory.limit == 32 << 20 and s.memory.usage > 0
        assert s.cpu.total_ns > 0 and len(s.cpu.per_cpu_ns) == os.cpu_count()
        # update: a second set changes only what it names
        m.set({"pids": {"limit": -1}, "memory": {"limit": 48 << 20, "swap": 96 << 20}})
        assert read(p["pids"], "pids.max") == "max"
        assert read(p["memory"], "memory.limit_in_bytes") == str(48 << 20)
        assert read(p["cpu"], "cpu.shares") == "256"
    finally:
        child.close()
        kill_all_and_destroy(m)
    for d in m.paths.values():
        assert not os.path.exists(d)
        assert not os.path.exists(os.path.dirname(d)), "the parent it made must go too"


def test_pids_limit_is_enforced(container_id: str, busybox_binary: Path) -> None:
    m = create_manager(f"/{container_id}", container_id)
    child = HeldChild(busybox_binary,
                      "i=0; while [ $i -lt 10 ]; do sleep 30 </dev/null >/dev/null 2>&1 & "
                      "i=$((i+1)); done; exit 0")
    try:
        m.apply(child.pid)
        m.set({"pids": {"limit": 5}})
        child.go()
        _code, _out, err = child.finish()
        assert "fork" in err, err
        # the shell itself counted: 4 sleeps made it, the other 6 forks failed
        assert len(m.pids()) == 4
        assert read(m.paths["pids"], "pids.current") == "4"
    finally:
        child.close()
        kill_all_and_destroy(m)


def test_device_rules_follow_deny_all_in_spec_order(container_id: str,
                                                     busybox_binary: Path) -> None:
    m = create_manager(f"/{container_id}", container_id)
    child = HeldChild(busybox_binary,
                      "cat /dev/null; echo null=$?; head -c 3 /dev/zero | wc -c")
    try:
        m.apply(child.pid)
        m.set({"devices": [
            {"allow": False, "access": "rwm"},
            {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
            {"allow": True, "type": "c", "major": 136, "access": "rwm"},
            {"allow": True, "type": "b", "major": 8, "minor": 0, "access": "r"},
        ]})
        assert read(m.paths["devices"], "devices.list").splitlines() == [
            "c 1:5 rwm", "c 136:* rwm", "b 8:0 r"]
        child.go()
        _code, out, err = child.finish()
        assert "null=1" in out and "Operation not permitted" in err, (out, err)
        assert out.split()[-1] == "3", "reading /dev/zero stays allowed"
    finally:
        child.close()
        kill_all_and_destroy(m)


def test_freeze_and_thaw(container_id: str, busybox_binary: Path) -> None:
    m = create_manager(f"/{container_id}", container_id)
    child = HeldChild(busybox_binary, "while :; do echo x; sleep 0.02; done")
    assert child.proc.stdout is not None
    fd = child.proc.stdout.fileno()
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)

    def drain() -> bytes:
        try:
            return os.read(fd, 65536)
        except BlockingIOError:
            return b""

    try:
        m.apply(child.pid)
        child.go()
        time.sleep(0.2)
        assert drain(), "the child should be printing"
        m.freeze()
        assert read(m.paths["freezer"], "freezer.state") == "FROZEN"
        drain()
        time.sleep(0.3)
        assert drain() == b"", "a frozen child printed"
        m.thaw()
        assert read(m.paths["freezer"], "freezer.state") == "THAWED"
        time.sleep(0.3)
        assert drain(), "the thawed child should print again"
    finally:
        child.close()
        kill_all_and_destroy(m)


def test_relative_path_lands_under_own_cgroup(container_id: str) -> None:
    m = create_manager(f"{container_id}-rel/{container_id}", container_id)
    own = Path("/proc/self/cgroup").read_text()
    mem_own = next(line.split(":", 2)[2] for line in own.splitlines()
                   if line.split(":")[1] == "memory")
    try:
        m.apply(None)
        expected = os.path.normpath(
            f"/sys/fs/cgroup/memory/{mem_own}/{container_id}-rel/{container_id}")
        assert m.paths["memory"] == expected and os.path.isdir(expected)
    finally:
        m.destroy()
    assert not any(os.path.exists(d) for d in m.paths.values())
    assert not os.path.exists(os.path.dirname(m.paths["memory"]))


def test_systemd_form_and_pre_existing_parents_stay(container_id: str) -> None:
    slice_name = container_id.replace("-", "_")  # a '-' would nest slices
    keep = create_manager(f"/{slice_name}.slice/keep", container_id)
    keep.apply(None)
    m = create_manager(f"{slice_name}.slice:dockyard:{container_id}", container_id)
    try:
        m.apply(None)
        assert m.paths["pids"] == \
            f"/sys/fs/cgroup/pids/{slice_name}.slice/dockyard-{container_id}.scope"
        m.destroy()
        assert not os.path.exists(m.paths["pids"])
        assert os.path.isdir(keep.paths["pids"]), "a sibling's cgroup was removed"
    finally:
        m.destroy()
        keep.destroy()
    assert not os.path.exists(f"/sys/fs/cgroup/pids/{slice_name}.slice")


def test_destroy_waits_for_exiting_tasks(container_id: str, busybox_binary: Path) -> None:
    m = create_manager(f"/{container_id}", container_id)
    proc = subprocess.Popen([str(busybox_binary), "sleep", "60"])
    try:
        m.apply(proc.pid)
        proc.kill()
        m.destroy()  # no wait() yet: the task is still on its way out
        assert not any(os.path.exists(d) for d in m.paths.values())
    finally:
        proc.kill()
        proc.wait()
        m.destroy()


def test_missing_files_error_only_when_asked(container_id: str) -> None:
    m = create_manager(f"/{container_id}", container_id)
    try:
        m.apply(None)
        blkio = m.paths["blkio"]
        if os.path.exists(os.path.join(blkio, "blkio.weight")):
            pytest.fail("this test assumes the kernel lacks blkio.weight (RESULTS.md)")
        with pytest.raises(Unavailable, match=r"blkio\.weight"):
            m.set({"pids": {"limit": 9}, "blockIO": {"weight": 500}})
        assert read(m.paths["pids"], "pids.max") == "max", "nothing is written on error"
        dev = _a_block_device()
        m.set({"blockIO": {"throttleReadBpsDevice": [
            {"major": dev[0], "minor": dev[1], "rate": 1 << 20}]}})
        assert read(blkio, "blkio.throttle.read_bps_device") == f"{dev[0]}:{dev[1]} {1 << 20}"
        with pytest.raises(InvalidArgument, match="unified"):
            m.set({"unified": {"memory.high": "1G"}})
        with pytest.raises(Unavailable, match="net_cls"):
            m.set({"network": {"classID": 1}})
    finally:
        m.destroy()


def _a_block_device() -> tuple[int, int]:
    for name in sorted(os.listdir("/sys/block")):
        if name.startswith(("loop", "ram", "zram")):
            continue
        major, minor = Path(f"/sys/block/{name}/dev").read_text().strip().split(":")
        return int(major), int(minor)
    pytest.fail("no block device under /sys/block to throttle", pytrace=False)


def test_default_path_and_its_shared_parent(container_id: str) -> None:
    a = create_manager(None, container_id)
    b = create_manager(None, f"{container_id}-b")
    try:
        a.apply(None)
        b.apply(None)
        assert a.paths["pids"] == f"/sys/fs/cgroup/pids/dockyard/{container_id}"
        a.destroy()
        assert os.path.isdir("/sys/fs/cgroup/pids/dockyard"), "b still lives there"
    finally:
        a.destroy()
        b.destroy()
    for d in (*a.paths.values(), *b.paths.values()):
        assert not os.path.exists(d)
        parent = os.path.dirname(d)
        # gone, unless someone else's container (another test run) is in it right now
        assert not os.path.exists(parent) or any(
            os.path.isdir(os.path.join(parent, e)) for e in os.listdir(parent)), parent


def test_empty_cpuset_parent_made_elsewhere_is_filled(container_id: str,
                                                      busybox_binary: Path) -> None:
    foreign = f"/sys/fs/cgroup/cpuset/{container_id}-pre"
    os.mkdir(foreign)  # like a tool that made it without copying cpus/mems
    m = create_manager(f"/{container_id}-pre/{container_id}", container_id)
    child = HeldChild(busybox_binary, "exec sleep 60")
    try:
        assert read(foreign, "cpuset.cpus") == ""
        m.apply(child.pid)
        assert read(m.paths["cpuset"], "cpuset.cpus") == read("/sys/fs/cgroup/cpuset",
                                                              "cpuset.cpus")
    finally:
        child.close()
        kill_all_and_destroy(m)
        os.rmdir(foreign)  # not made by the manager, so it stays for its owner


def test_destroy_removes_sub_cgroups_the_container_made(container_id: str) -> None:
    m = create_manager(f"/{container_id}", container_id)
    try:
        m.apply(None)
        for d in set(m.paths.values()):
            os.makedirs(os.path.join(d, "inner", "deeper"))
        m.destroy()
        assert not any(os.path.exists(d) for d in m.paths.values())
    finally:
        m.destroy()


def test_hybrid_freeze_falls_back_to_cgroup_freeze(container_id: str,
                                                   busybox_binary: Path) -> None:
    from dockyard.runtime.cgroups.v1 import V1Manager

    full = create_manager(f"/{container_id}", container_id)
    if full.unified is None:
        pytest.fail("this host is meant to be hybrid (RESULTS.md)", pytrace=False)
    # the same cgroup, seen by a manager of a host without a v1 freezer
    m = V1Manager({k: v for k, v in full.dirs.items() if k != "freezer"},
                  unified=full.unified)
    child = HeldChild(busybox_binary, "exec sleep 60")
    try:
        full.apply(child.pid)
        m.freeze()
        assert "frozen 1" in Path(full.unified.dir, "cgroup.events").read_text()
        assert read(full.paths["freezer"], "freezer.state") == "THAWED"
        m.thaw()
        assert "frozen 0" in Path(full.unified.dir, "cgroup.events").read_text()
    finally:
        child.close()
        kill_all_and_destroy(full)
