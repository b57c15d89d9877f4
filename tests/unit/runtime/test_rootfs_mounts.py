"""The mount calls made for bind/fs mounts and masking, recorded instead of made.

``syscalls.mount`` is replaced by a recorder, so these run without root; paths
are real directories in tmp_path (RootDir needs them to resolve).
"""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from dockyard.runtime import syscalls as sc
from dockyard.runtime.rootfs import mounts, paths_masking
from dockyard.runtime.rootfs.mounts import MountContext, mount_entry
from dockyard.runtime.rootfs.paths import RootDir
from dockyard.runtime.rootfs.spec import parse

HOST = MountContext(in_userns=False, new_netns=True, new_ipcns=True, new_cgroupns=False)


class Recorder:
    def __init__(self, fail_first_remount_with: int | None = None) -> None:
        self.calls: list[tuple] = []
        self.fail = fail_first_remount_with

    def __call__(self, source, target, fstype, flags=0, data=None) -> None:
        self.calls.append((source, target, fstype, flags, data))
        if self.fail and flags & sc.MS_REMOUNT:
            err, self.fail = self.fail, None
            raise OSError(err, "recorded failure")


@pytest.fixture
def rec(monkeypatch) -> Recorder:
    r = Recorder()
    monkeypatch.setattr(mounts.sc, "mount", r)
    return r


def _one(spec_mount: dict):
    return parse({"mounts": [spec_mount]}).mounts[0]


def test_bind_then_remount_for_flags_then_propagation(rec, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    m = _one({"destination": "/data", "type": "bind", "source": str(src),
              "options": ["rbind", "ro", "nosuid", "rprivate"]})
    with RootDir(str(root)) as rd:
        mount_entry(rd, m, HOST)
    (s1, t1, f1, fl1, _), (s2, _, _, fl2, _), (s3, _, _, fl3, _) = rec.calls
    assert (s1, f1, fl1) == (str(src), None, sc.MS_BIND | sc.MS_REC)
    assert t1.startswith("/proc/self/fd/")
    assert s2 is None and fl2 == sc.MS_REMOUNT | sc.MS_BIND | sc.MS_RDONLY | sc.MS_NOSUID
    assert s3 is None and fl3 == sc.MS_PRIVATE | sc.MS_REC
    assert (root / "data").is_dir()


def test_bind_of_a_file_creates_a_file(rec, tmp_path: Path) -> None:
    src = tmp_path / "f"
    src.write_text("x")
    root = tmp_path / "root"
    root.mkdir()
    with RootDir(str(root)) as rd:
        mount_entry(rd, _one({"destination": "/etc/f", "type": "bind",
                              "source": str(src)}), HOST)
    assert (root / "etc" / "f").is_file()
    assert len(rec.calls) == 1  # no flags: no remount


def test_locked_flags_are_kept_on_eperm(monkeypatch, tmp_path: Path) -> None:
    r = Recorder(fail_first_remount_with=errno.EPERM)
    monkeypatch.setattr(mounts.sc, "mount", r)
    monkeypatch.setattr(mounts, "statvfs_mount_flags",
                        lambda p: sc.MS_NODEV | sc.MS_NOEXEC | sc.MS_RELATIME)
    mounts.remount_bind("/x", sc.MS_RDONLY)
    assert r.calls[1][3] == (sc.MS_REMOUNT | sc.MS_BIND | sc.MS_RDONLY | sc.MS_NODEV |
                             sc.MS_NOEXEC | sc.MS_RELATIME)


def test_fs_mount_passes_type_source_flags_data(rec, tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    m = _one({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
              "options": ["nosuid", "nodev", "mode=1777", "size=64k"]})
    with RootDir(str(root)) as rd:
        mount_entry(rd, m, HOST)
    ((source, _, fstype, flags, data),) = rec.calls
    assert (source, fstype, flags, data) == ("shm", "tmpfs", sc.MS_NOSUID | sc.MS_NODEV,
                                             "mode=1777,size=64k")


def test_enodev_is_an_unknown_type(monkeypatch, tmp_path: Path) -> None:
    def fail(*a, **k):
        raise OSError(errno.ENODEV, "no such device")
    monkeypatch.setattr(mounts.sc, "mount", fail)
    from dockyard.errors import InvalidArgument
    with RootDir(str(tmp_path)) as rd, pytest.raises(InvalidArgument,
                                                    match="unknown filesystem type"):
        mount_entry(rd, _one({"destination": "/x", "type": "nofs"}), HOST)


def test_masking_files_dirs_and_missing(monkeypatch, tmp_path: Path) -> None:
    r = Recorder()
    monkeypatch.setattr(paths_masking.sc, "mount", r)
    (tmp_path / "d").mkdir()
    (tmp_path / "f").write_text("secret")
    paths_masking.mask_paths([str(tmp_path / "d"), str(tmp_path / "f"),
                              str(tmp_path / "missing")])
    assert r.calls == [("tmpfs", str(tmp_path / "d"), "tmpfs", sc.MS_RDONLY, None),
                       ("/dev/null", str(tmp_path / "f"), None, sc.MS_BIND, None)]


def _v2_host(monkeypatch) -> None:
    from dockyard.runtime.rootfs import cgroupfs
    from dockyard.runtime.rootfs.mountinfo import parse_line

    monkeypatch.setattr(cgroupfs, "read_mountinfo", lambda: [
        parse_line("30 23 0:27 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw")])
    monkeypatch.setattr(cgroupfs, "own_cgroups", lambda: {"": "/dockyard/c1"})


CGROUP = {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
          "options": ["nosuid", "noexec", "nodev", "ro"]}


def test_cgroup_v2_host_binds_own_cgroup(rec, monkeypatch, tmp_path: Path) -> None:
    _v2_host(monkeypatch)
    with RootDir(str(tmp_path)) as rd:
        mount_entry(rd, _one(CGROUP), HOST)
    (src, _, fstype, flags, _), (_, _, _, flags2, _) = rec.calls
    assert (src, fstype, flags) == ("/sys/fs/cgroup/dockyard/c1", None,
                                    sc.MS_BIND | sc.MS_REC)
    assert flags2 == (sc.MS_REMOUNT | sc.MS_BIND | sc.MS_RDONLY | sc.MS_NOSUID |
                      sc.MS_NODEV | sc.MS_NOEXEC)


def test_cgroup_v2_in_cgroup_namespace_mounts_cgroup2(rec, monkeypatch,
                                                      tmp_path: Path) -> None:
    _v2_host(monkeypatch)
    ctx = HOST.replace(new_cgroupns=True)
    with RootDir(str(tmp_path)) as rd:
        mount_entry(rd, _one(CGROUP), ctx)
    ((src, _, fstype, flags, data),) = rec.calls
    assert (src, fstype, data) == ("cgroup", "cgroup2", None)
    assert flags == sc.MS_RDONLY | sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC
