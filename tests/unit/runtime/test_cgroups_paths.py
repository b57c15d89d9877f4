"""cgroupsPath parsing, host layout detection and per-hierarchy directories."""

from __future__ import annotations

import pytest

from dockyard.errors import InvalidArgument
from dockyard.runtime.cgroups import create_manager, load_manager
from dockyard.runtime.cgroups.paths import (
    CgroupPath,
    expand_slice,
    parse_cgroups_path,
    parse_layout,
)

HYBRID_MOUNTINFO = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset,clone_children,favordynmods
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
50 23 0:40 / /proc rw - proc proc rw
"""
HYBRID_CGROUP = """\
9:name=systemd:/
4:memory:/process_api/abc
3:cpuset:/
2:cpu,cpuacct:/
5:devices:/
0::/user
"""
V2_MOUNTINFO = "30 23 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n"


def test_none_path_is_dockyard_slash_id() -> None:
    assert parse_cgroups_path(None, "abc") == CgroupPath("/dockyard/abc")


def test_absolute_and_relative_paths_are_cleaned() -> None:
    assert parse_cgroups_path("/a//b/./c/", "x") == CgroupPath("/a/b/c")
    assert parse_cgroups_path("a/b", "x") == CgroupPath("a/b", relative=True)


@pytest.mark.parametrize("bad", ["/a/../b", "../x", "/", "a/..", "//"])
def test_paths_escaping_or_naming_the_root_are_refused(bad: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_cgroups_path(bad, "x")


def test_systemd_form_maps_to_nested_slices_and_scope() -> None:
    assert parse_cgroups_path("machine-app.slice:docker:abc", "x") == \
        CgroupPath("/machine.slice/machine-app.slice/docker-abc.scope")
    assert parse_cgroups_path(":dockyard:abc", "x") == \
        CgroupPath("/system.slice/dockyard-abc.scope")
    assert parse_cgroups_path("user.slice::abc", "x") == CgroupPath("/user.slice/abc.scope")


def test_expand_slice() -> None:
    assert expand_slice("-.slice") == "/"
    assert expand_slice("a-b-c.slice") == "/a.slice/a-b.slice/a-b-c.slice"
    for bad in ("a", "a--b.slice", "-a.slice", "a/b.slice"):
        with pytest.raises(InvalidArgument):
            expand_slice(bad)


def test_relative_path_hangs_under_own_cgroup() -> None:
    rel = CgroupPath("c/d", relative=True)
    assert rel.in_hierarchy("/process_api/abc") == "/process_api/abc/c/d"
    assert rel.in_hierarchy("/") == "/c/d"
    assert CgroupPath("/x").in_hierarchy("/anything") == "/x"


def test_parse_hybrid_layout() -> None:
    layout = parse_layout(HYBRID_MOUNTINFO, HYBRID_CGROUP)
    assert layout.mode == "hybrid"
    assert layout.unified == "/sys/fs/cgroup/unified"
    assert layout.v1["cpu"] is layout.v1["cpuacct"]
    assert layout.v1["cpu"].controllers == ("cpu", "cpuacct")
    assert "name=systemd" in layout.v1 and "xattr" not in layout.v1
    assert layout.v1["cpuset"].controllers == ("cpuset",)
    assert layout.own["memory"] == "/process_api/abc" and layout.own[""] == "/user"
    assert len(layout.hierarchies()) == 5


def test_parse_v2_and_v1_only_layouts() -> None:
    assert parse_layout(V2_MOUNTINFO, "0::/init.scope\n").mode == "v2"
    v1_only = "\n".join(line for line in HYBRID_MOUNTINFO.splitlines() if "cgroup2" not in line)
    assert parse_layout(v1_only, HYBRID_CGROUP).mode == "v1"


def test_mount_showing_a_subtree_maps_paths_inside_it() -> None:
    mi = "35 31 0:32 /docker/ctr /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
    layout = parse_layout(mi, "4:memory:/docker/ctr\n")
    assert layout.v1["memory"].dir_for("/docker/ctr/sub") == "/sys/fs/cgroup/memory/sub"


def test_v1_manager_places_the_path_in_every_hierarchy() -> None:
    layout = parse_layout(HYBRID_MOUNTINFO, HYBRID_CGROUP)
    m = create_manager("/dy/c1", "c1", layout=layout)
    assert m.version == 1
    assert m.paths == {
        "cpu": "/sys/fs/cgroup/cpu,cpuacct/dy/c1",
        "cpuacct": "/sys/fs/cgroup/cpu,cpuacct/dy/c1",
        "cpuset": "/sys/fs/cgroup/cpuset/dy/c1",
        "memory": "/sys/fs/cgroup/memory/dy/c1",
        "devices": "/sys/fs/cgroup/devices/dy/c1",
        "name=systemd": "/sys/fs/cgroup/systemd/dy/c1",
        "": "/sys/fs/cgroup/unified/dy/c1",
    }


def test_relative_v1_path_follows_each_controller_own_cgroup() -> None:
    layout = parse_layout(HYBRID_MOUNTINFO, HYBRID_CGROUP)
    m = create_manager("rel/c1", "c1", layout=layout)
    assert m.paths["memory"] == "/sys/fs/cgroup/memory/process_api/abc/rel/c1"
    assert m.paths["cpuset"] == "/sys/fs/cgroup/cpuset/rel/c1"
    assert m.paths[""] == "/sys/fs/cgroup/unified/user/rel/c1"


def test_default_path_on_v2_and_state_round_trip() -> None:
    layout = parse_layout(V2_MOUNTINFO, "0::/init.scope\n")
    m = create_manager(None, "abc", layout=layout)
    assert m.version == 2 and m.paths == {"": "/sys/fs/cgroup/dockyard/abc"}
    assert m.shared == ["/sys/fs/cgroup/dockyard"]
    again = load_manager(m.to_state())
    assert again.paths == m.paths and again.to_state() == m.to_state()


def test_only_the_default_parent_is_shared() -> None:
    layout = parse_layout(HYBRID_MOUNTINFO, HYBRID_CGROUP)
    m = create_manager(None, "c1", layout=layout)
    assert m.shared == sorted({
        "/sys/fs/cgroup/cpu,cpuacct/dockyard", "/sys/fs/cgroup/cpuset/dockyard",
        "/sys/fs/cgroup/memory/dockyard", "/sys/fs/cgroup/devices/dockyard",
        "/sys/fs/cgroup/systemd/dockyard"})
    assert m.unified.shared == ["/sys/fs/cgroup/unified/dockyard"]
    assert m.unified.enable_in_root is False, "a hybrid host's cgroup2 root is the admin's"
    assert create_manager("/dockyard/c1", "c1", layout=layout).shared == []


def test_v1_state_round_trip() -> None:
    m = create_manager("/dy/c1", "c1", layout=parse_layout(HYBRID_MOUNTINFO, HYBRID_CGROUP))
    again = load_manager(m.to_state())
    assert again.paths == m.paths and again.to_state() == m.to_state()


def test_load_manager_rejects_garbage() -> None:
    with pytest.raises(InvalidArgument):
        load_manager({"version": 7})
