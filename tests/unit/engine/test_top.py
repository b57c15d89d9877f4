"""``docker top``: ps output narrowed to a container's pids, docker's rules."""

from __future__ import annotations

import pytest

from dockyard.engine import top
from dockyard.errors import InvalidArgument

PS_EF = """UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 10:00 ?        00:00:01 /sbin/init
root         200       1  0 10:01 ?        00:00:00 sleep 300
root         201     200  0 10:01 pts/0    00:00:00 sh -c while :; do :; done
"""

PS_M = """  PID TTY      STAT   TIME COMMAND
  200 ?        -      0:00 sleep 300
    - -        Ss     0:00 -
  300 ?        -      0:00 other
    - -        S      0:00 -
"""


def test_keeps_only_the_containers_pids_and_joins_the_command():
    got = top.parse_ps_output(PS_EF, [200, 201])
    assert got["Titles"] == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    assert got["Processes"] == [
        ["root", "200", "1", "0", "10:01", "?", "00:00:00", "sleep 300"],
        ["root", "201", "200", "0", "10:01", "pts/0", "00:00:00", "sh -c while :; do :; done"]]


def test_thread_lines_follow_their_process():
    got = top.parse_ps_output(PS_M, [200])
    assert [row[0] for row in got["Processes"]] == ["200", "-"]


def test_no_pid_column_is_an_error():
    with pytest.raises(InvalidArgument, match="PID"):
        top.parse_ps_output("USER COMMAND\nroot x\n", [1])


def test_renaming_a_column_to_pid_is_refused():
    with pytest.raises(InvalidArgument, match='specifying "pid,user=PID" is not allowed'):
        top.validate_ps_args("-o pid,user=PID")
    top.validate_ps_args("-o pid=PID")
    top.validate_ps_args("aux")


def test_cgroup_pids_walks_sub_cgroups(tmp_path):
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / "cgroup.procs").write_text("10\n11\n")
    (tmp_path / "sub" / "cgroup.procs").write_text("12\n")
    (tmp_path / "sub" / "deeper" / "cgroup.procs").write_text("11\n13\n")
    assert top.cgroup_pids(str(tmp_path)) == [10, 11, 12, 13]


def test_manager_dir_prefers_pids():
    assert top.manager_dir({"memory": "/m", "pids": "/p"}) == "/p"
    assert top.manager_dir({"": "/unified"}) == "/unified"
    assert top.manager_dir({"name=systemd": "/s"}) == "/s"


def test_cgroup_of_a_process_from_proc_cgroup():
    from dockyard.engine.cgroupof import parse_proc_cgroup
    from dockyard.errors import Conflict
    from dockyard.runtime.cgroups.paths import parse_layout

    mountinfo = (
        "30 1 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"
        "31 30 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
        "32 30 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
        "33 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
        "34 30 0:30 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n")
    own = "4:pids:/\n3:cpu,cpuacct:/\n2:memory:/\n0::/\n"
    layout = parse_layout(mountinfo, own)
    version, dirs = parse_proc_cgroup(
        "4:pids:/dockyard/abc\n3:cpu,cpuacct:/dockyard/abc\n2:memory:/dockyard/abc\n"
        "0::/dockyard/abc\n", layout)
    assert version == 1
    assert dirs == {"pids": "/sys/fs/cgroup/pids/dockyard/abc",
                    "cpu": "/sys/fs/cgroup/cpu,cpuacct/dockyard/abc",
                    "cpuacct": "/sys/fs/cgroup/cpu,cpuacct/dockyard/abc",
                    "memory": "/sys/fs/cgroup/memory/dockyard/abc"}
    v2 = parse_layout("40 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", "0::/\n")
    assert parse_proc_cgroup("0::/system.slice/x.scope\n", v2) == (
        2, {"": "/sys/fs/cgroup/system.slice/x.scope"})
    with pytest.raises(Conflict):
        parse_proc_cgroup("", v2)
