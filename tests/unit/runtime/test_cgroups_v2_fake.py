"""The v2 manager against a fake cgroupfs tree: exactly which files get what.

The fake holds the files of controllers this host's cgroup2 mount lacks (memory,
cpu, io, pids, hugetlb), so the mapping is checked end to end without a v2 host.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from dockyard.errors import Unavailable
from dockyard.runtime.cgroups import cgfs, stats
from dockyard.runtime.cgroups.v2 import V2Manager

LEAF_FILES = ["cgroup.procs", "cgroup.freeze", "cgroup.events", "cgroup.controllers",
              "cgroup.subtree_control", "memory.max", "memory.low", "memory.swap.max",
              "cpu.weight", "cpu.max", "cpu.idle", "cpuset.cpus", "cpuset.mems", "pids.max",
              "io.weight", "io.max", "hugetlb.2MB.max", "memory.high"]


def make_tree(root: Path, offered: str = "cpuset cpu io memory hugetlb pids") -> Path:
    root.mkdir()
    (root / "cgroup.procs").write_text("")
    (root / "cgroup.controllers").write_text(offered + "\n")
    (root / "cgroup.subtree_control").write_text("")
    parent = root / "dockyard"
    parent.mkdir()
    (parent / "cgroup.procs").write_text("")
    (parent / "cgroup.controllers").write_text(offered + "\n")
    (parent / "cgroup.subtree_control").write_text("")
    leaf = parent / "c1"
    leaf.mkdir()
    for name in LEAF_FILES:
        (leaf / name).write_text("")
    return leaf


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    """Every cgfs.write as (dir, file, value), still performed."""
    calls: list[tuple[str, str, str]] = []
    real = cgfs.write

    def spy(directory: str, name: str, value: str | int, *, what: str = "") -> None:
        calls.append((directory, name, str(value)))
        real(directory, name, value, what=what)

    monkeypatch.setattr(cgfs, "write", spy)
    return calls


def test_set_writes_exactly_the_v2_files(tmp_path: Path, recorded: list) -> None:
    root = tmp_path / "cg"
    leaf = make_tree(root)
    m = V2Manager(str(root), "/dockyard/c1", controllers=())
    m.apply(4242)
    m.set({
        "memory": {"limit": 1 << 28, "swap": 1 << 29, "reservation": 1 << 27},
        "cpu": {"shares": 1024, "quota": 25000, "period": 100000, "cpus": "0", "mems": "0"},
        "pids": {"limit": 20},
        "blockIO": {"weight": 100,
                    "throttleWriteBpsDevice": [{"major": 8, "minor": 16, "rate": 4096}]},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 2097152}],
        "unified": {"memory.high": "200M"},
    })
    r, d, lf = str(root), str(root / "dockyard"), str(leaf)
    assert recorded == [
        (lf, "cgroup.procs", "4242"),
        # set() enables the controllers it needs, top down, in the known order
        (r, "cgroup.subtree_control", "+cpuset"), (r, "cgroup.subtree_control", "+cpu"),
        (r, "cgroup.subtree_control", "+io"), (r, "cgroup.subtree_control", "+memory"),
        (r, "cgroup.subtree_control", "+hugetlb"), (r, "cgroup.subtree_control", "+pids"),
        (d, "cgroup.subtree_control", "+cpuset"), (d, "cgroup.subtree_control", "+cpu"),
        (d, "cgroup.subtree_control", "+io"), (d, "cgroup.subtree_control", "+memory"),
        (d, "cgroup.subtree_control", "+hugetlb"), (d, "cgroup.subtree_control", "+pids"),
        (lf, "memory.swap.max", str(1 << 28)),
        (lf, "memory.max", str(1 << 28)),
        (lf, "memory.low", str(1 << 27)),
        (lf, "cpu.weight", "39"),
        (lf, "cpu.max", "25000 100000"),
        (lf, "cpuset.cpus", "0"),
        (lf, "cpuset.mems", "0"),
        (lf, "pids.max", "20"),
        (lf, "io.weight", "default 910"),
        (lf, "io.max", "8:16 wbps=4096"),
        (lf, "hugetlb.2MB.max", "2097152"),
        (lf, "memory.high", "200M"),
    ]
    assert (leaf / "memory.max").read_text() == str(1 << 28)
    assert (leaf / "cpu.max").read_text() == "25000 100000"
    assert m.created == [], "pre-existing dirs are not ours to remove"


def test_apply_enables_the_requested_controllers_and_creates_parents(
        tmp_path: Path, recorded: list) -> None:
    root = tmp_path / "cg"
    make_tree(root)
    m = V2Manager(str(root), "/c2", controllers=["memory", "pids", "nonsense"])
    m.create()
    assert m.created == [str(root / "c2")]
    assert [(d, v) for d, n, v in recorded if n == "cgroup.subtree_control"] == [
        (str(root), "+memory"), (str(root), "+pids")]
    assert m.to_state()["created"] == m.created
    with pytest.raises(Exception, match="not a cgroup directory"):
        V2Manager(str(tmp_path / "elsewhere" / "cg"), "/x").create()
    assert not (tmp_path / "elsewhere").exists()
    m.destroy()  # the fake leaf is an empty dir, so rmdir works as on cgroupfs
    assert not (root / "c2").exists() and m.created == []


def test_controller_not_offered_is_a_clear_error(tmp_path: Path) -> None:
    root = tmp_path / "cg"
    make_tree(root, offered="hugetlb")
    m = V2Manager(str(root), "/dockyard/c1", controllers=())
    with pytest.raises(Unavailable, match="'pids' is not available"):
        m.set({"pids": {"limit": 3}})


def test_freeze_writes_cgroup_freeze_and_waits_for_events(tmp_path: Path) -> None:
    leaf = make_tree(tmp_path / "cg")
    m = V2Manager(str(tmp_path / "cg"), "/dockyard/c1", controllers=())
    (leaf / "cgroup.events").write_text("populated 1\nfrozen 1\n")
    m.freeze(timeout=0.2)
    assert (leaf / "cgroup.freeze").read_text() == "1"
    with pytest.raises(Exception, match="did not become thawed"):
        m.thaw(timeout=0.05)  # the fake's events never change


def test_v2_stats_parse(tmp_path: Path) -> None:
    leaf = make_tree(tmp_path / "cg")
    (leaf / "memory.current").write_text("1000\n")
    (leaf / "memory.max").write_text("max\n")
    (leaf / "memory.stat").write_text("anon 600\nfile 400\n")
    (leaf / "cpu.stat").write_text("usage_usec 7\nuser_usec 5\nsystem_usec 2\n"
                                   "nr_periods 3\nnr_throttled 1\nthrottled_usec 9\n")
    (leaf / "pids.current").write_text("2\n")
    (leaf / "pids.max").write_text("10\n")
    (leaf / "io.stat").write_text("8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n")
    s = V2Manager(str(tmp_path / "cg"), "/dockyard/c1").stats()
    assert (s.memory.usage, s.memory.limit, s.memory.cache) == (1000, -1, 400)
    assert (s.cpu.total_ns, s.cpu.user_ns, s.cpu.throttled_ns) == (7000, 5000, 9000)
    assert (s.pids.current, s.pids.limit) == (2, 10)
    assert s.io_service_bytes == [stats.BlkioEntry(8, 0, "Read", 10),
                                  stats.BlkioEntry(8, 0, "Write", 20)]
    assert [e.value for e in s.io_serviced] == [1, 2]
    assert s.to_dict()["memory"]["usage"] == 1000


def test_v1_stats_parse(tmp_path: Path) -> None:
    mem, acct, pids, blk = (tmp_path / n for n in ("memory", "cpuacct", "pids", "blkio"))
    for d in (mem, acct, pids, blk):
        d.mkdir()
    (mem / "memory.usage_in_bytes").write_text("5000\n")
    (mem / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    (mem / "memory.stat").write_text("cache 100\ntotal_cache 300\n")
    (acct / "cpuacct.usage").write_text("123456\n")
    (acct / "cpuacct.usage_percpu").write_text("100000 23456 \n")
    (pids / "pids.current").write_text("3\n")
    (pids / "pids.max").write_text("max\n")
    (blk / "blkio.throttle.io_service_bytes_recursive").write_text(
        "8:0 Read 4096\n8:0 Write 0\nTotal 4096\n")
    s = stats.read_v1({"memory": str(mem), "cpuacct": str(acct), "pids": str(pids),
                       "blkio": str(blk)})
    assert (s.memory.usage, s.memory.limit, s.memory.cache) == (5000, -1, 300)
    assert (s.cpu.total_ns, s.cpu.per_cpu_ns) == (123456, [100000, 23456])
    assert (s.pids.current, s.pids.limit) == (3, -1)
    assert s.io_service_bytes[0] == stats.BlkioEntry(8, 0, "Read", 4096)


def test_hybrid_v1_sends_hugepage_limits_to_the_unified_side(tmp_path: Path,
                                                            recorded: list) -> None:
    from dockyard.runtime.cgroups.v1 import V1Manager

    pids_dir = tmp_path / "pids" / "c1"
    pids_dir.mkdir(parents=True)
    (pids_dir / "pids.max").write_text("")
    leaf = make_tree(tmp_path / "unified", offered="hugetlb")
    unified = tmp_path / "unified"
    m = V1Manager({"pids": str(pids_dir)},
                  unified=V2Manager(str(unified), "/dockyard/c1", controllers=(),
                                    enable_in_root=False))
    limits = {"hugepageLimits": [{"pageSize": "2MB", "limit": 2 << 20}]}
    # the root's subtree_control is the host's: not enabled there -> a clear refusal
    with pytest.raises(Unavailable, match=r"echo \+hugetlb"):
        m.set({"pids": {"limit": 9}, **limits})
    assert (unified / "cgroup.subtree_control").read_text() == ""
    assert (pids_dir / "pids.max").read_text() == "", "nothing written on refusal"
    (unified / "cgroup.subtree_control").write_text("hugetlb\n")  # the admin enabled it
    m.set({"pids": {"limit": 9}, **limits})
    assert (leaf / "hugetlb.2MB.max").read_text() == str(2 << 20)
    assert (pids_dir / "pids.max").read_text() == "9"
    assert (unified / "dockyard" / "cgroup.subtree_control").read_text() == "+hugetlb"
    with pytest.raises(Unavailable, match="memory cgroup controller is not mounted"):
        m.set({"memory": {"limit": 1 << 20}})


def test_shared_parent_goes_with_the_last_user(tmp_path: Path) -> None:
    root = tmp_path / "cg"
    make_tree(root)
    parent = str(root / "dockyard")
    a = V2Manager(str(root), "/dockyard/a", controllers=(), shared=[parent])
    b = V2Manager(str(root), "/dockyard/b", controllers=(), shared=[parent])
    for m in (a, b):
        m.create()
    # the fake's leftover files stand in for a kernel's pre-existing parent content
    for f in (root / "dockyard").iterdir():
        if f.is_file():
            f.unlink()
    shutil.rmtree(root / "dockyard" / "c1")
    a.destroy()
    assert os.path.isdir(parent), "b still lives there"
    b.destroy()
    assert not os.path.exists(parent)


def test_a_missing_file_fails_before_anything_is_written(tmp_path: Path) -> None:
    leaf = make_tree(tmp_path / "cg")
    (leaf / "memory.swap.max").unlink()  # a kernel without swap accounting
    m = V2Manager(str(tmp_path / "cg"), "/dockyard/c1", controllers=())
    with pytest.raises(Unavailable, match="no swap accounting"):
        m.set({"pids": {"limit": 4}, "memory": {"limit": 1 << 20, "swap": 2 << 20}})
    assert (leaf / "pids.max").read_text() == ""
    assert (leaf / "memory.max").read_text() == ""


def test_hybrid_v1_goes_on_without_a_usable_cgroup2_side(tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    from dockyard.runtime.cgroups.v1 import V1Manager

    pids_root = tmp_path / "pids"
    pids_root.mkdir()
    (pids_root / "cgroup.procs").write_text("")
    broken = V2Manager(str(tmp_path / "not-a-cgroup"), "/c1", controllers=())
    m = V1Manager({"pids": str(pids_root / "c1")}, unified=broken)
    m.create()
    assert (pids_root / "c1").is_dir()
    assert m.unified is None and "" not in m.paths and m.to_state()["unified"] is None
    assert "not using the cgroup2 hierarchy" in caplog.text
    assert not (tmp_path / "not-a-cgroup").exists()
    with pytest.raises(Unavailable, match="hugetlb"):
        m.set({"hugepageLimits": [{"pageSize": "2MB", "limit": 0}]})
