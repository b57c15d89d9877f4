"""Parsing the rootfs parts of config.json: flags, errors naming the JSON path."""

from __future__ import annotations

import pytest

from dockyard.errors import InvalidArgument
from dockyard.runtime import syscalls as sc
from dockyard.runtime.rootfs import validate
from dockyard.runtime.rootfs.devices import DEFAULT_DEVICES, merge_devices
from dockyard.runtime.rootfs.spec import DeviceSpec, parse, parse_mount_options


def _spec(mounts=None, **linux) -> dict:
    return {"mounts": mounts or [], "linux": linux, "root": {"path": "rootfs"}}


def test_options_become_flags_in_order() -> None:
    flags, prop, data, bind, rec, copy = parse_mount_options(
        ["ro", "rw", "nosuid", "nodev", "noexec", "noatime", "rbind", "rslave",
         "mode=755", "size=1m", "defaults"], "m")
    assert flags == sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC | sc.MS_NOATIME
    assert prop == (sc.MS_SLAVE | sc.MS_REC,)
    assert data == "mode=755,size=1m"
    assert bind and rec and not copy


def test_bind_mount_from_type_or_options() -> None:
    plan = parse(_spec([
        {"destination": "/a", "type": "bind", "source": "/x"},
        {"destination": "/b", "source": "/x", "options": ["rbind", "ro"]},
        {"destination": "/c/../d/", "type": "tmpfs", "source": "tmpfs"},
    ]))
    a, b, c = plan.mounts
    assert a.bind and not a.recursive and a.type == "bind"
    assert b.bind and b.recursive and b.flags & sc.MS_RDONLY
    assert c.destination == "/d" and not c.bind


@pytest.mark.parametrize("mount,message", [
    ({"destination": "relative", "type": "tmpfs"}, "mounts[0].destination: 'relative' is"
                                                   " not an absolute path"),
    ({"destination": "/x"}, "mounts[0].type: required"),
    ({"destination": "/x", "type": "bind"}, "mounts[0].source: a bind mount needs"),
    ({"destination": "/x", "type": "tmpfs", "options": ["idmap"]}, "id-mapped"),
    ({"destination": "/x", "type": "bind", "source": "/y", "options": ["rro"]},
     "recursive mount attribute"),
    ({"destination": "/proc", "type": "tmpfs"}, "only a proc filesystem"),
    ({"destination": "/proc/self/x", "type": "tmpfs"}, "inside /proc"),
    ({"destination": "/x", "type": "bind", "source": "/y", "uidMappings": [{}]}, "id-mapped"),
    ({"destination": "/", "type": "tmpfs"}, "cannot mount over the root"),
])
def test_bad_mounts_are_invalid_arguments(mount: dict, message: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        validate(_spec([mount]))
    assert message in str(info.value)


def test_data_options_on_binds_are_dropped() -> None:
    # The OCI suite's `mounts` test gives binds mode=/size=; runc passes them to
    # mount(2), which ignores them for MS_BIND.
    plan = parse(_spec([{"destination": "/x", "type": "bind", "source": "/y",
                         "options": ["nosuid", "strictatime", "mode=755", "size=1k", "bind",
                                     "shared"]}]))
    m = plan.mounts[0]
    assert m.data == "" and m.flags == sc.MS_NOSUID | sc.MS_STRICTATIME
    assert m.propagation == (sc.MS_SHARED,)


def test_proc_file_overlays_are_allowed() -> None:
    plan = parse(_spec([{"destination": "/proc/meminfo", "type": "bind",
                         "source": "/var/lib/lxcfs/proc/meminfo"}]))
    assert plan.mounts[0].destination == "/proc/meminfo"


def test_devices_parse_with_defaults() -> None:
    plan = parse(_spec(devices=[{"path": "/dev/fuse", "type": "c", "major": 10,
                                 "minor": 229},
                                {"path": "/dev/p", "type": "p"}]))
    assert plan.devices[0] == DeviceSpec("/dev/fuse", "c", 10, 229, 0o666, 0, 0)
    assert plan.devices[1].type == "p"


@pytest.mark.parametrize("device,message", [
    ({"path": "dev/x", "type": "c", "major": 1, "minor": 1}, "not an absolute path"),
    ({"path": "/dev/x", "type": "z", "major": 1, "minor": 1}, "not one of c, b, u, p"),
    ({"path": "/dev/x", "type": "c"}, "major and minor are required"),
    ({"path": "/dev/x", "type": "c", "major": -1, "minor": 1}, "major"),
    ({"path": "/dev/../etc/x", "type": "c", "major": 1, "minor": 1}, "cannot be a device"),
])
def test_bad_devices(device: dict, message: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        validate(_spec(devices=[device]))
    assert "linux.devices[0]" in str(info.value) and message in str(info.value)


def test_spec_devices_override_defaults() -> None:
    mine = DeviceSpec("/dev/null", "c", 1, 3, 0o600)
    merged = merge_devices((mine, DeviceSpec("/dev/fuse", "c", 10, 229)))
    assert mine in merged and len(merged) == len(DEFAULT_DEVICES) + 1
    assert {d.path for d in DEFAULT_DEVICES} == {"/dev/null", "/dev/zero", "/dev/full",
                                                 "/dev/random", "/dev/urandom", "/dev/tty"}


def test_rootfs_propagation_values() -> None:
    assert parse(_spec()).root_propagation is None
    assert parse(_spec(rootfsPropagation="rshared")).root_propagation == \
        sc.MS_SHARED | sc.MS_REC
    with pytest.raises(InvalidArgument, match=r"linux\.rootfsPropagation"):
        validate(_spec(rootfsPropagation="sideways"))


def test_dev_bind_detected_and_paths_checked() -> None:
    plan = parse(_spec([{"destination": "/dev", "type": "bind", "source": "/dev"}],
                       maskedPaths=["/proc/kcore"], readonlyPaths=["/proc/sys"]))
    assert plan.dev_is_bound
    assert plan.masked_paths == ("/proc/kcore",)
    with pytest.raises(InvalidArgument, match=r"linux.maskedPaths\[0\]"):
        validate(_spec(maskedPaths=["proc/kcore"]))


def test_mount_label_goes_to_labelable_filesystems() -> None:
    plan = parse(_spec([{"destination": "/t", "type": "tmpfs", "options": ["size=1m"]},
                        {"destination": "/p", "type": "proc", "source": "proc"},
                        {"destination": "/b", "type": "bind", "source": "/x"}],
                       mountLabel="system_u:object_r:container_file_t:s0"))
    tmpfs, proc, bind = plan.mounts
    assert tmpfs.data == 'size=1m,context="system_u:object_r:container_file_t:s0"'
    assert proc.data == "" and bind.data == ""
    with pytest.raises(InvalidArgument, match="mountLabel"):
        validate(_spec(mountLabel='x",ro'))
    mcs = "system_u:object_r:svirt_sandbox_file_t:s0:c715,c811"
    plan = parse(_spec([{"destination": "/t", "type": "tmpfs"}], mountLabel=mcs))
    assert plan.mounts[0].data == f'context="{mcs}"'


def test_cwd_must_be_absolute() -> None:
    assert parse({"process": {"cwd": "/work"}}).cwd == "/work"
    assert parse({}).cwd == "/"
    with pytest.raises(InvalidArgument, match=r"process\.cwd"):
        validate({"process": {"cwd": "relative"}})
