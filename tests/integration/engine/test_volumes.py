"""Volumes on disk with real mounts: the local driver's tmpfs and bind options, held
and released by mount plans, and docker's copy-up into a new empty volume."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from dockyard.engine.mounts import activate_mounts, copy_up, plan_mounts, release_mounts
from dockyard.engine.volumes import VolumeService
from dockyard.image.mount import is_mountpoint_under


def _fstype(path: Path) -> str | None:
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split()
            if parts[4] == str(path):
                return parts[parts.index("-") + 1]
    return None


@pytest.fixture
def vols(tmp_path: Path):
    svc = VolumeService(tmp_path / "volumes")
    yield svc
    for point in sorted(is_mountpoint_under(svc.root), key=len, reverse=True):
        os.system(f"umount -l {point}")   # only on a failed test; the leak check says so


def test_tmpfs_volume_mounts_on_first_hold_and_unmounts_on_last(vols: VolumeService):
    vols.create({"Name": "tv", "DriverOpts": {"type": "tmpfs", "device": "tmpfs",
                                               "o": "size=1m,mode=1777"}})
    data = vols.data_dir("tv")
    assert _fstype(data) is None   # created, not mounted
    vols.acquire("tv")
    assert _fstype(data) == "tmpfs"
    assert stat.S_IMODE(os.stat(data).st_mode) == 0o1777
    (data / "f").write_text("in memory")
    vols.acquire("tv")
    vols.release("tv")
    assert _fstype(data) == "tmpfs" and (data / "f").exists()
    vols.release("tv")
    assert _fstype(data) is None and not (data / "f").exists()
    vols.remove("tv")
    assert not (vols.root / "tv").exists()


def test_bind_volume_shows_the_device_and_removal_never_touches_it(vols, tmp_path):
    device = tmp_path / "device"
    device.mkdir()
    (device / "keep").write_text("host data")
    vols.create({"Name": "bv", "DriverOpts": {"type": "none", "o": "bind",
                                               "device": str(device)}})
    plans = plan_mounts({}, {"Binds": ["bv:/data"]}, None, vols)
    try:
        assert (vols.data_dir("bv") / "keep").read_text() == "host data"
        (vols.data_dir("bv") / "new").write_text("through the volume")
        # after a reboot the mount is gone while the hold remains: activate remounts
        os.system(f"umount {vols.data_dir('bv')}")
        assert not (vols.data_dir("bv") / "keep").exists()
        activate_mounts(plans, vols)
        assert (vols.data_dir("bv") / "keep").exists()
    finally:
        release_mounts(plans, vols, remove_anonymous=True)
    assert _fstype(vols.data_dir("bv")) is None
    vols.remove("bv")
    assert (device / "keep").read_text() == "host data"
    assert (device / "new").read_text() == "through the volume"


def test_mount_api_driver_options_create_and_mount(vols: VolumeService):
    hc = {"Mounts": [{"Type": "volume", "Source": "mtv", "Target": "/scratch",
                      "VolumeOptions": {"DriverConfig": {"Name": "local", "Options": {
                          "type": "tmpfs", "device": "tmpfs", "o": "size=2m"}}}}]}
    plans = plan_mounts({}, hc, None, vols)
    try:
        assert vols.inspect("mtv")["Options"] == {"type": "tmpfs", "device": "tmpfs",
                                                  "o": "size=2m"}
        assert _fstype(Path(plans[0].source)) == "tmpfs"
    finally:
        release_mounts(plans, vols, remove_anonymous=True)
    assert _fstype(vols.data_dir("mtv")) is None


def test_failed_driver_mount_leaves_no_hold(vols: VolumeService):
    vols.create({"Name": "broken", "DriverOpts": {"type": "nosuchfs", "device": "x"}})
    with pytest.raises(Exception, match="error while mounting volume"):
        plan_mounts({}, {"Binds": ["broken:/x"]}, None, vols)
    assert vols.refs("broken") == 0
    vols.remove("broken")


def _populate(rootfs: Path) -> Path:
    data = rootfs / "data"
    data.mkdir()
    os.chown(data, 1000, 1000)
    os.chmod(data, 0o2770)
    (data / "sub").mkdir()
    f = data / "sub" / "file"
    f.write_text("image content")
    os.chown(f, 1000, 100)
    os.chmod(f, 0o4750)
    os.utime(f, ns=(1_600_000_000_000_000_000, 1_600_000_000_123_456_789))
    os.link(f, data / "hard")
    os.symlink("sub/file", data / "link")
    os.mkfifo(data / "fifo")
    try:
        os.setxattr(f, "user.dockyard", b"xattr-value")
    except OSError:
        pass
    return data


def test_copy_up_keeps_owner_mode_times_links_and_xattrs(vols, busybox_rootfs: Path):
    src = _populate(busybox_rootfs)
    plans = plan_mounts({}, {"Binds": ["cv:/data"]}, None, vols)
    try:
        copy_up(plans, busybox_rootfs)
        vol = vols.data_dir("cv")
        top = os.stat(vol)
        assert (top.st_uid, top.st_gid, stat.S_IMODE(top.st_mode)) == (1000, 1000, 0o2770)
        st = os.lstat(vol / "sub" / "file")
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1000, 100, 0o4750)
        assert (vol / "sub" / "file").read_text() == "image content"
        assert st.st_mtime_ns // 1_000_000_000 == 1_600_000_000
        assert os.stat(vol / "hard").st_ino == st.st_ino
        assert os.readlink(vol / "link") == "sub/file"
        assert stat.S_ISFIFO(os.lstat(vol / "fifo").st_mode)
        try:
            want = os.getxattr(src / "sub" / "file", "user.dockyard")
        except OSError:
            want = None
        if want is not None:
            assert os.getxattr(vol / "sub" / "file", "user.dockyard") == want
        # a second container on the same (now full) volume copies nothing over it
        (vol / "sub" / "file").write_text("changed in the volume")
        plans2 = plan_mounts({}, {"Binds": ["cv:/data"]}, None, vols)
        copy_up(plans2, busybox_rootfs)
        assert (vol / "sub" / "file").read_text() == "changed in the volume"
        release_mounts(plans2, vols, remove_anonymous=True)
    finally:
        release_mounts(plans, vols, remove_anonymous=True)


def test_copy_up_respects_nocopy_and_follows_image_symlinks_in_root(vols, busybox_rootfs):
    _populate(busybox_rootfs)
    os.symlink("/data", busybox_rootfs / "alias")
    os.symlink("../../../../etc", busybox_rootfs / "hostetc")
    plans = plan_mounts({}, {"Binds": ["nc:/data:nocopy", "al:/alias", "he:/hostetc"]},
                        None, vols)
    try:
        copy_up(plans, busybox_rootfs)
        assert os.listdir(vols.data_dir("nc")) == []
        assert (vols.data_dir("al") / "sub" / "file").exists()   # /alias is /data
        # "../../../../etc" from the rootfs is the container's /etc, not the host's
        assert sorted(os.listdir(vols.data_dir("he"))) == sorted(
            os.listdir(busybox_rootfs / "etc"))
    finally:
        release_mounts(plans, vols, remove_anonymous=True)


def test_copy_up_into_a_tmpfs_volume_and_anonymous_removal(vols, busybox_rootfs):
    _populate(busybox_rootfs)
    hc = {"Mounts": [{"Type": "volume", "Target": "/data", "VolumeOptions": {
        "DriverConfig": {"Options": {"type": "tmpfs", "device": "tmpfs", "o": "size=4m"}}}}]}
    plans = plan_mounts({}, hc, None, vols)
    name = plans[0].name
    try:
        copy_up(plans, busybox_rootfs)
        assert (Path(plans[0].source) / "sub" / "file").read_text() == "image content"
        assert _fstype(Path(plans[0].source)) == "tmpfs"
    finally:
        release_mounts(plans, vols, remove_anonymous=True)
    assert not vols.exists(name)
