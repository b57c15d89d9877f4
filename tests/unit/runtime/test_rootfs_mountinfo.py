"""mountinfo parsing and the cgroup mount plan, from canned kernel text."""

from __future__ import annotations

from pathlib import Path

from dockyard.runtime.rootfs.cgroupfs import host_hierarchies, plan_v1
from dockyard.runtime.rootfs.mountinfo import (
    find_mount_of,
    own_cgroups,
    parse_line,
    read_mountinfo,
)

HYBRID = """\
23 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 /outer /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
50 23 0:40 / /tmp/with\\040space rw master:3 unbindable - tmpfs tmpfs rw
"""

OWN = {"4": "/x", "cpu,cpuacct": "/ctr", "memory": "/ctr/mem", "pids": "/elsewhere",
       "name=systemd": "/sd", "": "/v2ctr"}


def _mounts():
    return [parse_line(line) for line in HYBRID.splitlines()]


def test_parse_line_fields_and_escapes() -> None:
    m = _mounts()[-1]
    assert m.mountpoint == "/tmp/with space"
    assert m.optional == ("master:3", "unbindable")
    assert m.fstype == "tmpfs" and m.source == "tmpfs"
    assert _mounts()[0].optional == ("shared:1",)
    assert _mounts()[2].super_options == ("rw", "cpu", "cpuacct")


def test_read_real_mountinfo_has_root() -> None:
    assert any(m.mountpoint == "/" for m in read_mountinfo())


def test_find_mount_of_longest_prefix() -> None:
    mounts = _mounts()
    assert find_mount_of("/sys/fs/cgroup/memory/a", mounts).mount_id == 35
    assert find_mount_of("/sys/fs/cgroupx", mounts).mount_id == 23
    assert find_mount_of("/tmp/with space/rootfs", mounts).mount_id == 50


def test_own_cgroups(tmp_path: Path) -> None:
    f = tmp_path / "cgroup"
    f.write_text("4:memory:/a/b\n1:name=systemd:/s\n0::/u:with:colons\n")
    assert own_cgroups(str(f)) == {"memory": "/a/b", "name=systemd": "/s",
                                   "": "/u:with:colons"}


def test_v1_plan_binds_own_cgroups_and_keeps_controllers() -> None:
    unified, below = host_hierarchies(_mounts())
    assert unified is None and len(below) == 5
    plans = {p.name: p for p in plan_v1(_mounts(), OWN, {"cpu", "cpuacct", "memory",
                                                          "pids"})}
    assert set(plans) == {"cpu,cpuacct", "memory", "pids", "systemd"}  # no cgroup2
    assert plans["cpu,cpuacct"].data == "cpu,cpuacct"
    assert plans["cpu,cpuacct"].bind_source == "/sys/fs/cgroup/cpu,cpuacct/ctr"
    assert plans["memory"].bind_source == "/sys/fs/cgroup/memory/ctr/mem"
    # our pids cgroup lies outside what the host mounted there: fall back to its root
    assert plans["pids"].bind_source == "/sys/fs/cgroup/pids"
    assert plans["systemd"].data == "name=systemd"
    assert plans["systemd"].bind_source == "/sys/fs/cgroup/systemd/sd"


def test_unified_host_is_detected() -> None:
    v2 = [parse_line("30 23 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw")]
    unified, below = host_hierarchies(v2)
    assert unified is not None and below == []
