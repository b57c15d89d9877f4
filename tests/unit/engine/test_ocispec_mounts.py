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


def table(*lines: str) -> list:
    from dockyard.runtime.rootfs.mountinfo import parse_line

    return [parse_line(line) for line in lines]


SHARED_ROOT = table("1 0 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw",
                    "2 1 0:5 / /private rw - tmpfs tmpfs rw",
                    "3 1 0:6 / /slave rw master:1 - tmpfs tmpfs rw")


def build_with_table(plans, mountinfo):
    from dockyard.engine.spec_mounts import build_mounts

    return build_mounts(plans=plans, host_config={}, files={}, shm_path=None,
                        init_path=None, mountinfo=mountinfo)


def test_shared_and_slave_binds_need_a_propagating_source():
    _ms, prop = build_with_table([Plan("bind", "/srv/x", "/c", propagation="rshared")],
                                 SHARED_ROOT)
    assert prop == "shared"
    _ms, prop = build_with_table([Plan("bind", "/slave/x", "/c", propagation="rslave")],
                                 SHARED_ROOT)
    assert prop == "rslave"
    with pytest.raises(InvalidArgument, match="path /private/x is mounted on /private but "
                                              "it is not a shared mount"):
        build_with_table([Plan("bind", "/private/x", "/c", propagation="shared")],
                         SHARED_ROOT)
    with pytest.raises(InvalidArgument, match="not a shared or slave mount"):
        build_with_table([Plan("bind", "/private/x", "/c", propagation="slave")],
                         SHARED_ROOT)
    with pytest.raises(InvalidArgument, match="not a shared mount"):
        build_with_table([Plan("bind", "/slave/x", "/c", propagation="rshared")],
                         SHARED_ROOT)


def test_user_mounts_sorted_by_depth_after_defaults(tmp_path):
    plans = [Plan("bind", "/host/a/b", "/mnt/a/b", propagation="rprivate"),
             Plan("volume", "/vol/_data", "/data", read_only=True),
             Plan("bind", "/host/x", "/x", propagation="private")]
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
    assert d["/x"]["options"] == ["rbind", "private"]
    assert d["/mnt/a/b"]["options"] == ["rbind", "rprivate"]
    assert d["/run"] == {"destination": "/run", "type": "tmpfs", "source": "tmpfs",
                         "options": ["noexec", "nosuid", "nodev", "rprivate", "size=1m"]}
    assert "rootfsPropagation" not in linux


def test_shared_bind_without_any_mount_table_entry():
    with pytest.raises(InvalidArgument, match="Can't find mount point of /srv/x"):
        build_with_table([Plan("bind", "/srv/x", "/c", propagation="shared")],
                         table("2 1 0:5 / /private rw - tmpfs tmpfs rw"))


def test_shared_bind_makes_the_root_shared():
    _ms, prop = build_with_table([Plan("bind", "/h", "/c", propagation="rshared"),
                                  Plan("bind", "/slave/y", "/d", propagation="rslave")],
                                 SHARED_ROOT)
    assert prop == "shared"
    _ms, prop = build_with_table([Plan("bind", "/h", "/c")], SHARED_ROOT)
    assert prop == ""


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


def test_volfs_mount_plans_convert_like_dockerd(tmp_path):
    """The real MountPlan (volfs's engine/mounts.py) through build_spec."""
    mounts_mod = pytest.importorskip(
        "dockyard.engine.mounts",
        reason="volfs's engine/mounts.py is not merged into this tree yet; the Plan "
               "stand-in covers the same fields")
    mp = mounts_mod.MountPlan
    plans = [mp(type="bind", source="/h", destination="/b", propagation="rprivate",
                options=("rbind",)),
             mp(type="bind", source="/h2", destination="/nr", read_only=True,
                propagation="rprivate", options=("bind",)),
             mp(type="volume", source="/v/_data", destination="/vol", name="v",
                driver="local"),
             mp(type="tmpfs", source="", destination="/t", options=("size=1m",)),
             mp(type="tmpfs", source="", destination="/run", read_only=True,
                options=("size=2m",), hidden=True)]
    ms, _ = mounts(tmp_path, {"Tmpfs": {"/run": "ro,size=2m"}}, plans)
    d = by_dest(ms)
    assert d["/b"]["options"] == ["rbind", "rprivate"]
    assert d["/nr"]["options"] == ["bind", "ro", "rprivate"]
    assert d["/vol"]["options"] == ["rbind"]
    assert d["/t"]["options"] == ["noexec", "nosuid", "nodev", "rprivate", "size=1m"]
    assert d["/run"]["options"] == ["noexec", "nosuid", "nodev", "rprivate", "ro", "size=2m"]


def test_shareable_shm_is_a_tmpfs_of_shm_size():
    from dockyard.engine.spec_mounts import shareable_shm

    assert shareable_shm({"IpcMode": "shareable", "ShmSize": 1024}) == (
        "tmpfs", 0x2 | 0x4 | 0x8, "mode=1777,size=1024")
    assert shareable_shm({"IpcMode": "private"}) is None
    assert shareable_shm({"IpcMode": "host"}) is None
