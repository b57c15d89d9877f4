"""Mounts in config.json: dockerd's defaults, user mounts, tmpfs options, their order."""

from __future__ import annotations

import pytest

from dockyard.engine.ocispec import SpecInputs, build_spec
from dockyard.engine.spec_mounts import merge_tmpfs_options, parse_tmpfs_data
from dockyard.errors import InvalidArgument
from tests.unit.engine.spec_helpers import CID, Plan, make_rootfs

FILES = {"/etc/hosts": "/d/hosts", "/etc/resolv.conf": "/d/resolv",
         "/etc/hostname": "/d/hostname"}


def mounts(tmp_path, hc=None, plans=(), **kw):
    rootfs = make_rootfs(tmp_path)
    spec = build_spec(SpecInputs(CID, str(rootfs), {"Cmd": ["sh"]},
                                 {"NetworkMode": "none", **(hc or {})}, mounts=list(plans),
                                 **kw), cgroup_v2=False)
    return spec["mounts"], spec["linux"]


def by_dest(ms):
    return {m["destination"]: m for m in ms}


def test_tmpfs_flag_gets_dockers_defaults_merged():
    assert parse_tmpfs_data("") == ["noexec", "nosuid", "nodev", "rprivate"]
    assert parse_tmpfs_data("size=10m,exec") == ["nosuid", "nodev", "rprivate", "size=10m",
                                                 "exec"]
    assert parse_tmpfs_data("rw,noexec,mode=1777,size=1g,size=2g") == [
        "nosuid", "nodev", "rprivate", "rw", "noexec", "mode=1777", "size=2g"]


def test_merge_tmpfs_options_last_of_a_kind_wins():
    assert merge_tmpfs_options(["ro", "rw", "defaults", "shared", "rslave"]) == ["rw",
                                                                                "rslave"]
    assert merge_tmpfs_options(["uid=1", "gid=2", "nr_inodes=5", "mpol=default"]) == [
        "uid=1", "gid=2", "nr_inodes=5", "mpol=default"]
    for bad in (["weird"], ["color=red"], ["size"]):
        with pytest.raises(InvalidArgument, match="Invalid tmpfs option"):
            merge_tmpfs_options(bad)


def test_user_mounts_sorted_by_depth_after_defaults(tmp_path):
    plans = [Plan("bind", "/host/a/b", "/mnt/a/b", propagation="rprivate"),
             Plan("volume", "/vol/_data", "/data", read_only=True),
             Plan("bind", "/host/x", "/x", propagation="rslave")]
    ms, linux = mounts(tmp_path, {"Tmpfs": {"/run": "size=1m", "/tmp": ""}}, plans,
                       files=FILES)
    dests = [m["destination"] for m in ms]
    assert dests[:7] == ["/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup",
                         "/dev/mqueue", "/dev/shm"]
    assert dests[7:] == ["/data", "/x", "/run", "/tmp", "/etc/resolv.conf", "/etc/hostname",
                         "/etc/hosts", "/mnt/a/b"]
    d = by_dest(ms)
    assert d["/data"] == {"destination": "/data", "type": "bind", "source": "/vol/_data",
                          "options": ["rbind", "ro"]}
    assert d["/x"]["options"] == ["rbind", "rslave"]
    assert d["/mnt/a/b"]["options"] == ["rbind", "rprivate"]
    assert d["/run"] == {"destination": "/run", "type": "tmpfs", "source": "tmpfs",
                         "options": ["noexec", "nosuid", "nodev", "rprivate", "size=1m"]}
    assert linux["rootfsPropagation"] == "rslave"


def test_shared_bind_makes_the_root_shared(tmp_path):
    _ms, linux = mounts(tmp_path, plans=[Plan("bind", "/h", "/c", propagation="rshared")])
    assert linux["rootfsPropagation"] == "shared"
    _ms, linux = mounts(tmp_path / "b", plans=[Plan("bind", "/h", "/c")])
    assert "rootfsPropagation" not in linux


def test_bad_propagation_in_a_plan(tmp_path):
    with pytest.raises(InvalidArgument, match="invalid propagation mode: sideways"):
        mounts(tmp_path, plans=[Plan("bind", "/h", "/c", propagation="sideways")])


def test_tmpfs_plan_with_options_and_read_only(tmp_path):
    ms, _ = mounts(tmp_path, plans=[Plan("tmpfs", "", "/cache", read_only=True,
                                         options=("size=64m", "mode=700"))])
    assert by_dest(ms)["/cache"]["options"] == ["noexec", "nosuid", "nodev", "rprivate",
                                                "ro", "size=64m", "mode=700"]


def test_user_mount_replaces_a_default(tmp_path):
    ms, _ = mounts(tmp_path, plans=[Plan("bind", "/hostproc", "/proc")])
    procs = [m for m in ms if m["destination"] == "/proc"]
    assert procs == [{"destination": "/proc", "type": "bind", "source": "/hostproc",
                      "options": ["rbind"]}]


def test_user_dev_mount_drops_every_default_below_dev(tmp_path):
    ms, _ = mounts(tmp_path, plans=[Plan("bind", "/dev", "/dev")])
    dests = [m["destination"] for m in ms]
    assert dests == ["/proc", "/sys", "/sys/fs/cgroup", "/dev"]


def test_user_mount_over_a_network_file_wins(tmp_path):
    ms, _ = mounts(tmp_path, plans=[Plan("bind", "/mine/hosts", "/etc/hosts", True)],
                   files=FILES)
    hosts = [m for m in ms if m["destination"] == "/etc/hosts"]
    assert hosts == [{"destination": "/etc/hosts", "type": "bind", "source": "/mine/hosts",
                      "options": ["rbind", "ro"]}]


def test_tmpfs_plan_and_flag_on_one_destination_keep_one(tmp_path):
    ms, _ = mounts(tmp_path, {"Tmpfs": {"/t": "size=1m"}},
                   plans=[Plan("tmpfs", "", "/t", options=("size=2m",))])
    ts = [m for m in ms if m["destination"] == "/t"]
    assert len(ts) == 1 and "size=2m" in ts[0]["options"]


def test_shm_size_and_ipc_modes(tmp_path):
    ms, _ = mounts(tmp_path, {"ShmSize": 128 * 1024 * 1024})
    assert by_dest(ms)["/dev/shm"]["options"][-1] == "size=134217728"
    ms, _ = mounts(tmp_path / "none", {"IpcMode": "none"})
    assert "/dev/shm" not in by_dest(ms)
    ms, _ = mounts(tmp_path / "host", {"IpcMode": "host"})
    assert by_dest(ms)["/dev/shm"] == {"destination": "/dev/shm", "type": "bind",
                                       "source": "/dev/shm", "options": ["rbind", "rprivate"]}
    ms, _ = mounts(tmp_path / "shareable", {"IpcMode": "shareable"},
                   shm_path="/data/c/mounts/shm")
    assert by_dest(ms)["/dev/shm"]["source"] == "/data/c/mounts/shm"
    assert [m["destination"] for m in ms].count("/dev/shm") == 1


def test_read_only_rootfs(tmp_path):
    ms, _ = mounts(tmp_path, {"ReadonlyRootfs": True, "Init": True},
                   plans=[Plan("bind", "/h", "/rw")], files=FILES)
    d = by_dest(ms)
    for dest in ("/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue"):
        assert "ro" not in d[dest]["options"], dest
    for dest in ("/sys", "/sys/fs/cgroup", "/sbin/docker-init"):
        assert d[dest]["options"].count("ro") == 1, dest
    for dest in ("/etc/hosts", "/etc/hostname", "/etc/resolv.conf"):
        assert d[dest]["options"] == ["rbind", "ro", "rprivate"]
    assert d["/rw"]["options"] == ["rbind"]   # a user mount keeps its own mode


def test_privileged_makes_sys_and_cgroup_writable(tmp_path):
    ms, _ = mounts(tmp_path, {"Privileged": True, "ReadonlyRootfs": True})
    d = by_dest(ms)
    assert "ro" not in d["/sys"]["options"]
    assert "ro" not in d["/sys/fs/cgroup"]["options"]


def test_non_recursive_bind(tmp_path):
    ms, _ = mounts(tmp_path, plans=[Plan("bind", "/h", "/c", options=("bind",),
                                         propagation="rprivate")])
    assert by_dest(ms)["/c"]["options"] == ["bind", "rprivate"]


def test_hidden_tmpfs_plan_yields_to_the_tmpfs_flag_text(tmp_path):
    ms, _ = mounts(tmp_path, {"Tmpfs": {"/run": "size=1m,ro"}},
                   plans=[Plan("tmpfs", "", "/run", read_only=True, options=("size=1m",),
                               hidden=True)])
    runs = [m for m in ms if m["destination"] == "/run"]
    assert runs == [{"destination": "/run", "type": "tmpfs", "source": "tmpfs",
                     "options": ["noexec", "nosuid", "nodev", "rprivate", "size=1m", "ro"]}]
