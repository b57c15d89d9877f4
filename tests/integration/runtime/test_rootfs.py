"""rootfs.setup() for real: mounts, flags, /dev, masking, pivot, sysctl, errors.

Each test runs setup() in a throwaway mount + pid namespace (see
test_rootfs_support) and inspects the container's view with busybox.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.conftest import require_root
from tests.integration.runtime.test_rootfs_support import (
    MOUNTINFO,
    base_spec,
    run_in_container,
)

pytestmark = pytest.mark.integration

CGROUP_MOUNT = {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}


@pytest.fixture(autouse=True)
def _root() -> None:
    require_root()


def _ok(result) -> None:
    assert result.code == 0, f"exit {result.code}\nstdout:\n{result.out}\nstderr:\n{result.err}"


def _opts(fields: list[str]) -> set[str]:
    return set(fields[5].split(","))


def test_default_mounts_are_present_with_their_flags(busybox_rootfs: Path) -> None:
    r = run_in_container(base_spec(), busybox_rootfs, MOUNTINFO + "; pwd")
    _ok(r)
    m = r.mounts()
    expect = {"/proc": "proc", "/dev": "tmpfs", "/dev/pts": "devpts", "/dev/shm": "tmpfs",
              "/dev/mqueue": "mqueue", "/sys": "sysfs"}
    for point, fstype in expect.items():
        assert point in m, f"{point} not mounted: {sorted(m)}"
        sep = m[point].index("-")
        assert m[point][sep + 1] == fstype
    assert {"ro", "nosuid", "nodev", "noexec"} <= _opts(m["/sys"])
    assert {"nosuid", "nodev", "noexec"} <= _opts(m["/dev/shm"])
    assert "ptmxmode=666" in m["/dev/pts"][-1]
    assert "/" in m and m["/"][3] == str(busybox_rootfs)  # the rootfs is the root
    assert r.out.strip().endswith("/")                     # cwd is /


def test_default_devices_and_links(busybox_rootfs: Path) -> None:
    script = ("for d in null zero full random urandom tty; do stat -c '%n %F %t:%T %a %u:%g' "
              "/dev/$d; done; for l in ptmx fd stdin stdout stderr; do echo $l=$(readlink "
              "/dev/$l); done; echo hello > /dev/null && head -c 4 /dev/zero | wc -c")
    r = run_in_container(base_spec(), busybox_rootfs, script)
    _ok(r)
    lines = r.out.splitlines()
    numbers = {"null": "1:3", "zero": "1:5", "full": "1:7", "random": "1:8",
               "urandom": "1:9", "tty": "5:0"}
    for name, nums in numbers.items():
        assert f"/dev/{name} character special file {nums} 666 0:0" in lines, r.out
    for link, target in (("ptmx", "pts/ptmx"), ("fd", "/proc/self/fd"),
                         ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        assert f"{link}={target}" in lines
    assert lines[-1].strip() == "4"


def test_spec_devices_with_mode_and_owner(busybox_rootfs: Path) -> None:
    spec = base_spec(devices=[
        {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o640,
         "uid": 1000, "gid": 100},
        {"path": "/dev/loop-test", "type": "b", "major": 7, "minor": 200, "fileMode": 0o600},
        {"path": "/dev/sub/fifo", "type": "p", "fileMode": 0o620},
        {"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o600},
    ])
    script = ("stat -c '%n %F %t:%T %a %u:%g' /dev/fuse /dev/loop-test /dev/sub/fifo "
              "/dev/null")
    r = run_in_container(spec, busybox_rootfs, script)
    _ok(r)
    lines = r.out.splitlines()
    assert "/dev/fuse character special file a:e5 640 1000:100" in lines
    assert "/dev/loop-test block special file 7:c8 600 0:0" in lines
    assert "/dev/sub/fifo fifo 0:0 620 0:0" in lines
    assert "/dev/null character special file 1:3 600 0:0" in lines  # spec wins


def test_masked_and_readonly_paths(busybox_rootfs: Path) -> None:
    spec = base_spec()
    spec["linux"]["maskedPaths"] += ["/proc/does-not-exist", "/etc/hostname"]
    script = ("echo kcore=$(wc -c < /proc/keys); echo host=$(cat /etc/hostname | wc -c); "
              "echo fw=$(ls -A /sys/firmware | wc -l); "
              "(echo 1 > /proc/sys/kernel/shmmax) 2>/dev/null && echo sys-writable; "
              "touch /sys/firmware/x 2>/dev/null && echo fw-writable; "
              + MOUNTINFO)
    r = run_in_container(spec, busybox_rootfs, script)
    _ok(r)
    assert "kcore=0" in r.out and "host=0" in r.out and "fw=0" in r.out
    assert "sys-writable" not in r.out and "fw-writable" not in r.out
    m = r.mounts()
    assert "ro" in _opts(m["/proc/sys"])
    # the rootfs file itself is untouched: masking is a mount in the namespace
    assert (busybox_rootfs / "etc" / "hostname").read_text() == "busybox\n"


def test_readonly_path_keeps_nosuid_nodev_noexec(busybox_rootfs: Path) -> None:
    spec = base_spec(readonlyPaths=["/dev/shm"])
    r = run_in_container(spec, busybox_rootfs, MOUNTINFO)
    _ok(r)
    assert {"ro", "nosuid", "nodev", "noexec"} <= _opts(r.mounts()["/dev/shm"])


def test_readonly_root(busybox_rootfs: Path) -> None:
    spec = base_spec()
    spec["root"]["readonly"] = True
    spec["process"] = {"cwd": "/work/dir"}
    r = run_in_container(spec, busybox_rootfs,
                         "touch /newfile 2>/dev/null && echo writable; touch /dev/shm/ok "
                         "&& echo shm-ok; cd /work/dir && echo cwd-ok; " + MOUNTINFO)
    _ok(r)
    assert "writable" not in r.out and "shm-ok" in r.out
    assert "cwd-ok" in r.out  # process.cwd was made before / turned read-only
    assert "ro" in _opts(r.mounts()["/"])
    assert not (busybox_rootfs / "newfile").exists()


def test_bind_mounts_with_flags_and_rbind(busybox_rootfs: Path, tmp_path: Path) -> None:
    src = tmp_path / "data"
    (src / "sub").mkdir(parents=True)
    (src / "file").write_text("payload")
    single = tmp_path / "single.txt"
    single.write_text("one file")
    spec = base_spec()
    spec["mounts"] += [
        {"destination": "/data-ro", "type": "bind", "source": str(src),
         "options": ["rbind", "ro", "nosuid", "nodev", "noexec"]},
        {"destination": "/mnt/new/deep", "type": "none", "source": str(src),
         "options": ["bind", "rw", "noatime"]},
        {"destination": "/data-ro/sub", "type": "tmpfs", "source": "tmpfs",
         "options": ["size=1m"]},
        {"destination": "/etc/single.txt", "source": str(single), "options": ["rbind", "ro"]},
        # the OCI suite's `mounts` test: data options on a bind are ignored, as by runc
        {"destination": "/oci", "type": "bind", "source": str(src),
         "options": ["nosuid", "strictatime", "mode=755", "size=1k", "bind", "shared"]},
    ]
    script = ("cat /data-ro/file; echo; (echo x > /data-ro/file) 2>/dev/null && echo "
              "ro-broken; echo new > /mnt/new/deep/created; cat /etc/single.txt; echo; "
              + MOUNTINFO)
    r = run_in_container(spec, busybox_rootfs, script)
    _ok(r)
    assert "payload" in r.out and "ro-broken" not in r.out and "one file" in r.out
    m = r.mounts()
    assert {"ro", "nosuid", "nodev", "noexec"} <= _opts(m["/data-ro"])
    assert "noatime" in _opts(m["/mnt/new/deep"]) and "rw" in _opts(m["/mnt/new/deep"])
    assert "ro" in _opts(m["/etc/single.txt"])
    assert "/data-ro/sub" in m
    assert "nosuid" in _opts(m["/oci"])
    assert (src / "created").read_text() == "new\n"      # the rw bind writes through
    assert (busybox_rootfs / "mnt" / "new" / "deep").is_dir()  # created inside rootfs


def test_per_mount_propagation(busybox_rootfs: Path, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    spec = base_spec()
    spec["mounts"] += [
        {"destination": "/a", "type": "bind", "source": str(tmp_path / "a"),
         "options": ["rbind", "rshared"]},
        {"destination": "/b", "type": "bind", "source": str(tmp_path / "b"),
         "options": ["bind", "unbindable"]},
    ]
    r = run_in_container(spec, busybox_rootfs, MOUNTINFO)
    _ok(r)
    m = r.mounts()
    assert any(f.startswith("shared:") for f in m["/a"][6:m["/a"].index("-")])
    assert "unbindable" in m["/b"][6:m["/b"].index("-")]


@pytest.mark.parametrize("prop,tag", [("rshared", "shared:"), ("shared", "shared:"),
                                      ("unbindable", "unbindable"), ("rprivate", None),
                                      ("rslave", None), ("private", None)])
def test_rootfs_propagation(busybox_rootfs: Path, prop: str, tag: str | None) -> None:
    r = run_in_container(base_spec(rootfsPropagation=prop), busybox_rootfs, MOUNTINFO)
    _ok(r)
    root = r.mounts()["/"]
    optional = root[6:root.index("-")]
    if tag is None:
        assert not any(o.startswith(("shared:", "unbindable")) for o in optional), root
    else:
        assert any(o.startswith(tag) for o in optional), root


@pytest.mark.parametrize("prop", ["rshared", "rslave", "runbindable"])
@pytest.mark.parametrize("no_pivot", [False, True])
def test_rootfs_that_is_a_mount_on_a_shared_tree(busybox_rootfs: Path, prop: str,
                                                 no_pivot: bool) -> None:
    r = run_in_container(base_spec(rootfsPropagation=prop), busybox_rootfs,
                         MOUNTINFO + "; ls /bin/busybox", rootfs_on_tmpfs=True,
                         no_pivot=no_pivot)
    _ok(r)
    root = r.mounts()["/"]
    assert root[root.index("-") + 1] == "tmpfs"
    assert "/bin/busybox" in r.out


def test_shared_rootfs_propagates_inside_the_container(busybox_rootfs: Path) -> None:
    # The runtime-tools check: a recursive bind of / sees later mounts.
    script = ("mkdir -p /target /mnt1 /src1 && touch /src1/example && "
              "mount --rbind / /target && mount --bind /src1 /mnt1 && "
              "ls /target/mnt1/example")
    r = run_in_container(base_spec(rootfsPropagation="shared"), busybox_rootfs, script)
    _ok(r)
    r = run_in_container(base_spec(rootfsPropagation="unbindable"), busybox_rootfs,
                         "mkdir -p /target; mount --rbind / /target 2>&1; echo rc=$?")
    assert "rc=0" not in r.out, r.out


def test_no_pivot_moves_the_root(busybox_rootfs: Path) -> None:
    r = run_in_container(base_spec(), busybox_rootfs, MOUNTINFO + "; ls /bin/busybox",
                         no_pivot=True)
    _ok(r)
    m = r.mounts()
    assert "/proc" in m and "/dev/pts" in m
    assert "/bin/busybox" in r.out


def test_sysctl_written_in_ipc_namespace(busybox_rootfs: Path) -> None:
    spec = base_spec(sysctl={"kernel.shmmax": "12345678", "kernel/msgmax": "4321"})
    r = run_in_container(spec, busybox_rootfs,
                         "cat /proc/sys/kernel/shmmax /proc/sys/kernel/msgmax",
                         )
    _ok(r)
    assert r.out.split() == ["12345678", "4321"]
    with open("/proc/sys/kernel/msgmax") as f:
        assert f.read().strip() != "4321", "the host's msgmax was changed"
    with open("/proc/sys/kernel/shmmax") as f:
        assert f.read().strip() != "12345678", "the host's shmmax was changed"


def test_bad_sysctl_is_invalid_argument(busybox_rootfs: Path) -> None:
    spec = base_spec(sysctl={"net.ipv4.ip_forward": "1"})
    r = run_in_container(spec, busybox_rootfs, "true")
    assert r.code == 3
    assert "SETUP-ERROR InvalidArgument: linux.sysctl.net.ipv4.ip_forward" in r.err


def test_cgroup_v1_mounts_show_own_cgroup(busybox_rootfs: Path) -> None:
    spec = base_spec()
    spec["mounts"].append(CGROUP_MOUNT)
    r = run_in_container(spec, busybox_rootfs,
                         MOUNTINFO + "; readlink /sys/fs/cgroup/cpu; ls /sys/fs/cgroup")
    _ok(r)
    m = r.mounts()
    own = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, ctrl, path = line.rstrip("\n").split(":", 2)
            own[ctrl] = path
    with open("/proc/self/mountinfo") as f:
        host = [ln.split() for ln in f]
    hierarchies = [f[4] for f in host if f[4].startswith("/sys/fs/cgroup/")
                   and f[f.index("-") + 1] == "cgroup"]
    assert hierarchies, "host has no cgroup hierarchies under /sys/fs/cgroup"
    assert "rw" in _opts(m["/sys/fs/cgroup"])  # the tmpfs stays rw, as under runc
    inside = sorted(p for p in m if p.startswith("/sys/fs/cgroup/"))
    assert inside == sorted(hierarchies), "only the v1 hierarchies, as runc"
    for point in hierarchies:
        assert point in m, f"{point} missing in container: {sorted(m)}"
        fields = m[point]
        assert "ro" in _opts(fields)
        if "memory" in own and point.endswith("/memory"):
            assert fields[3] == own["memory"]  # bound from our own cgroup


def test_cgroup_mount_in_cgroup_namespace_is_real(busybox_rootfs: Path) -> None:
    spec = base_spec()
    spec["linux"]["namespaces"].append({"type": "cgroup"})
    spec["mounts"].append(CGROUP_MOUNT)
    r = run_in_container(spec, busybox_rootfs, MOUNTINFO)
    _ok(r)
    m = r.mounts()
    sub = [p for p in m if p.startswith("/sys/fs/cgroup/")]
    assert sub
    for p in sub:
        assert m[p][3] == "/", f"{p} is not the namespace's root: {m[p]}"


def test_console_is_bound_from_the_given_pty(busybox_rootfs: Path) -> None:
    r = run_in_container(base_spec(), busybox_rootfs, MOUNTINFO + "; stat -c '%F %t' "
                         "/dev/console", console=True)
    _ok(r)
    fields = r.mounts()["/dev/console"]
    assert fields[fields.index("-") + 1] == "devpts"
    assert "character special file 88" in r.out  # major 136 = 0x88: a pty slave


@pytest.mark.parametrize("readonly_root", [False, True])
def test_console_from_the_containers_own_devpts(busybox_rootfs: Path,
                                                readonly_root: bool) -> None:
    spec = base_spec()
    spec["root"]["readonly"] = readonly_root
    r = run_in_container(spec, busybox_rootfs, MOUNTINFO, console_inside=True)
    _ok(r)
    m = r.mounts()
    console, pts = m["/dev/console"], m["/dev/pts"]
    assert console[2] == pts[2], "the console must come from the container's devpts"
    assert console[3] == "/0"  # /dev/pts/0 of that instance


def test_read_only_dev_gets_its_nodes_first(busybox_rootfs: Path) -> None:
    spec = base_spec()
    spec["mounts"][1]["options"].append("ro")  # /dev tmpfs
    r = run_in_container(spec, busybox_rootfs, MOUNTINFO + "; ls /dev; "
                         "touch /dev/x 2>/dev/null && echo DEV-WRITABLE; true",
                         console_inside=True)
    _ok(r)
    assert "ro" in _opts(r.mounts()["/dev"]) and "DEV-WRITABLE" not in r.out
    assert "null" in r.out.split() and "console" in r.out.split()


def test_tmpcopyup_seeds_the_tmpfs(busybox_rootfs: Path) -> None:
    spec = base_spec()
    spec["mounts"].append({"destination": "/etc", "type": "tmpfs", "source": "tmpfs",
                           "options": ["tmpcopyup", "ro", "mode=755"]})
    r = run_in_container(spec, busybox_rootfs,
                         "cat /etc/hostname; touch /etc/x 2>/dev/null && echo rw; " + MOUNTINFO)
    _ok(r)
    assert "busybox" in r.out and "\nrw\n" not in r.out
    fields = r.mounts()["/etc"]
    assert fields[fields.index("-") + 1] == "tmpfs" and "ro" in _opts(fields)


def test_user_namespace_binds_devices_and_sysfs(busybox_rootfs: Path) -> None:
    spec = base_spec(devices=[{"path": "/dev/fuse", "type": "c", "major": 10,
                               "minor": 229}])
    spec["linux"]["namespaces"].append({"type": "user"})
    spec["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 0, "size": 1}]
    r = run_in_container(spec, busybox_rootfs, MOUNTINFO + "; echo x > /dev/null && "
                         "stat -c '%n %t:%T' /dev/null /dev/fuse", userns=True)
    _ok(r)
    m = r.mounts()
    assert "/dev/null" in m and "/dev/fuse" in m   # host nodes bound, not mknod'ed
    assert "ro" in _opts(m["/sys"])
    assert "/dev/null 1:3" in r.out and "/dev/fuse a:e5" in r.out


def test_relative_rootfs_reached_by_an_unprivileged_userns_root(busybox_rootfs: Path,
                                                               tmp_path: Path) -> None:
    # The container's root is host uid 100000, which cannot search pytest's 0700
    # temp ancestors: only a rootfs resolved from the cwd (the bundle) is reachable.
    host_id = 100000
    bundle = busybox_rootfs.parent
    for p in [bundle, *bundle.rglob("*")]:
        os.lchown(p, host_id, host_id)
    assert any(not os.stat(a).st_mode & 0o001 for a in bundle.parents), \
        "expected an ancestor others cannot search"
    spec = base_spec()
    spec["linux"]["namespaces"].append({"type": "user"})
    r = run_in_container(spec, "rootfs", MOUNTINFO + "; ls /bin/busybox; echo ok > /f; "
                         "cat /proc/keys | wc -c", userns=True, userns_host_id=host_id,
                         cwd=bundle)
    _ok(r)
    assert "/proc" in r.mounts() and "/bin/busybox" in r.out
    assert os.stat(busybox_rootfs / "f").st_uid == host_id


def test_mknod_refused_falls_back_to_binding_host_nodes(busybox_rootfs: Path) -> None:
    spec = base_spec(devices=[{"path": "/dev/fuse", "type": "c", "major": 10,
                               "minor": 229},
                              {"path": "/dev/myfifo", "type": "p", "fileMode": 0o600}])
    r = run_in_container(spec, busybox_rootfs, MOUNTINFO + "; echo x > /dev/null && "
                         "stat -c '%n %F %t:%T' /dev/null /dev/fuse /dev/myfifo",
                         drop_mknod=True)
    _ok(r)
    m = r.mounts()
    for name in ("null", "zero", "full", "random", "urandom", "tty", "fuse"):
        assert f"/dev/{name}" in m, f"/dev/{name} should be a bind of the host's node"
    assert "/dev/myfifo" not in m  # a fifo needs no privilege: still mknod'ed
    assert "/dev/myfifo fifo" in r.out and "/dev/fuse character special file a:e5" in r.out


def test_mount_error_names_the_entry(busybox_rootfs: Path, tmp_path: Path) -> None:
    spec = base_spec()
    spec["mounts"].append({"destination": "/x", "type": "bind",
                           "source": str(tmp_path / "missing"), "options": ["rbind"]})
    r = run_in_container(spec, busybox_rootfs, "true")
    assert r.code == 3
    assert "SETUP-ERROR FileNotFoundError: [Errno 2] mounts[6] (bind on /x)" in r.err
    assert not (busybox_rootfs / "x").exists()

    spec["mounts"][-1] = {"destination": "/x", "type": "nosuchfs", "source": "none"}
    r = run_in_container(spec, busybox_rootfs, "true")
    assert r.code == 3
    assert "SETUP-ERROR InvalidArgument: mounts[6] (nosuchfs on /x): unknown filesystem" \
        in r.err


def test_dev_bound_from_host_is_left_alone(busybox_rootfs: Path, tmp_path: Path) -> None:
    fake_dev = tmp_path / "fakedev"
    fake_dev.mkdir()
    spec = base_spec(maskedPaths=[])
    spec["mounts"] = [spec["mounts"][0],
                      {"destination": "/dev", "type": "bind", "source": str(fake_dev),
                       "options": ["rbind"]}]
    r = run_in_container(spec, busybox_rootfs, "ls -A /dev | wc -l")
    _ok(r)
    assert r.out.strip() == "0"
    assert not any(fake_dev.iterdir())
    assert stat.S_ISDIR(os.stat(fake_dev).st_mode)


@pytest.mark.parametrize("readonly", [False, True])
def test_without_a_mount_namespace_chroot_and_unmount_later(busybox_rootfs: Path,
                                                            readonly: bool) -> None:
    spec = base_spec(namespaces=[{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}],
                     rootfsPropagation="rshared")
    spec["root"]["readonly"] = readonly
    r = run_in_container(spec, busybox_rootfs, MOUNTINFO + "; ls /bin/busybox; "
                         "touch /f 2>/dev/null && echo ROOT-WRITABLE; cat /proc/keys | wc -c")
    assert r.code == 0, r.err
    m = r.mounts()
    # chroot: mountinfo is shown relative to the chroot
    assert "/proc" in m and "/dev/pts" in m
    assert "/bin/busybox" in r.out
    assert ("ROOT-WRITABLE" in r.out) is not readonly
    assert ("/" in m) is readonly  # the rootfs is bound onto itself only to make it ro
    for fields in m.values():
        assert not any(o.startswith("shared:") for o in fields[6:fields.index("-")]), \
            "rootfsPropagation must not touch the caller's mounts"
    before = int(r.out.split("LEFT-BEFORE")[1].split()[0])
    assert before >= 8 and f"REMOVED {before}" in r.out and "LEFT-AFTER 0" in r.out
