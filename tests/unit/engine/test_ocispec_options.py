"""build_spec: each HostConfig option lands where dockerd puts it."""

from __future__ import annotations

import json
import os

import pytest

from dockyard.engine.ocispec import SpecInputs, build_spec
from dockyard.engine.spec_caps import DEFAULT_CAPS, grantable_caps
from dockyard.errors import InvalidArgument
from tests.unit.engine.spec_helpers import CID, make_rootfs

MB = 1024 * 1024


def build(tmp_path, hc=None, config=None, **kw):
    rootfs = make_rootfs(tmp_path)
    cfg = {"Image": "busybox", "Cmd": ["sh"], **(config or {})}
    opts = {k: kw.pop(k) for k in list(kw) if k in ("default_init", "default_ulimits",
                                                     "no_new_privileges", "seccomp_profile")}
    host_config = {"NetworkMode": "none", **(hc or {})}
    v2 = kw.pop("cgroup_v2", False)
    return build_spec(SpecInputs(CID, str(rootfs), cfg, host_config, **kw), cgroup_v2=v2,
                      **opts)


def ns_of(spec):
    return {ns["type"]: ns.get("path") for ns in spec["linux"]["namespaces"]}


# --- resources ---------------------------------------------------------------------

def test_memory_limits(tmp_path):
    res = build(tmp_path, {"Memory": 64 * MB, "MemoryReservation": 32 * MB,
                           "MemorySwappiness": 10, "OomKillDisable": True,
                           "KernelMemory": 16 * MB})["linux"]["resources"]
    # MemorySwap defaults to twice Memory (normalize), KernelMemory is not passed
    assert res["memory"] == {"limit": 64 * MB, "reservation": 32 * MB, "swap": 128 * MB,
                             "swappiness": 10, "disableOOMKiller": True}


def test_unlimited_swap_is_not_passed(tmp_path):
    res = build(tmp_path, {"Memory": 64 * MB, "MemorySwap": -1,
                           "MemorySwappiness": -1})["linux"]["resources"]
    assert res["memory"] == {"limit": 64 * MB, "disableOOMKiller": False}


def test_nano_cpus_become_quota_over_100ms(tmp_path):
    cpu = build(tmp_path, {"NanoCpus": 1_500_000_000})["linux"]["resources"]["cpu"]
    assert cpu == {"shares": 0, "period": 100000, "quota": 150000}


def test_cpu_shares_period_quota_cpuset_realtime(tmp_path):
    cpu = build(tmp_path, {"CpuShares": 512, "CpuPeriod": 50000, "CpuQuota": 25000,
                           "CpusetCpus": "0", "CpusetMems": "0", "CpuRealtimePeriod": 1000,
                           "CpuRealtimeRuntime": 500})["linux"]["resources"]["cpu"]
    assert cpu == {"shares": 512, "period": 50000, "quota": 25000, "cpus": "0", "mems": "0",
                   "realtimePeriod": 1000, "realtimeRuntime": 500}


@pytest.mark.parametrize(("given", "limit"), [(50, 50), (0, None), (-1, None)])
def test_pids_limit(tmp_path, given, limit):
    res = build(tmp_path, {"PidsLimit": given})["linux"]["resources"]
    assert res.get("pids") == (None if limit is None else {"limit": limit})


def test_pids_limit_resources_of_a_stored_value():
    from dockyard.engine.spec_resources import build_resources

    assert build_resources({"PidsLimit": -1}, [])["pids"] == {"limit": -1}


def test_blkio_weight_and_device_throttles(tmp_path):
    st = os.stat("/dev/null")
    null = (os.major(st.st_rdev), os.minor(st.st_rdev))
    bio = build(tmp_path, {"BlkioWeight": 300,
                           "BlkioWeightDevice": [{"Path": "/dev/null", "Weight": 200}],
                           "BlkioDeviceReadBps": [{"Path": "/dev/null", "Rate": 1024}],
                           "BlkioDeviceWriteIOps": [{"Path": "/dev/null", "Rate": 7}]}
                )["linux"]["resources"]["blockIO"]
    assert bio["weight"] == 300
    assert bio["weightDevice"] == [{"major": null[0], "minor": null[1], "weight": 200}]
    assert bio["throttleReadBpsDevice"] == [{"major": null[0], "minor": null[1],
                                             "rate": 1024}]
    assert bio["throttleWriteIOPSDevice"] == [{"major": null[0], "minor": null[1], "rate": 7}]
    assert "throttleWriteBpsDevice" not in bio


def test_blkio_device_must_exist(tmp_path):
    with pytest.raises(InvalidArgument, match="/dev/nope-dy"):
        build(tmp_path, {"BlkioDeviceReadBps": [{"Path": "/dev/nope-dy", "Rate": 1}]})


# --- namespaces --------------------------------------------------------------------

def test_host_network_has_no_network_namespace_and_host_hostname(tmp_path):
    spec = build(tmp_path, {"NetworkMode": "host"})
    assert "network" not in ns_of(spec)
    assert spec["hostname"] == os.uname().nodename
    assert "net.ipv4.ping_group_range" not in spec["linux"].get("sysctl", {})


def test_joined_network_namespace_path(tmp_path):
    spec = build(tmp_path, {"NetworkMode": "bridge"}, netns="/run/x/netns/abc")
    assert ns_of(spec)["network"] == "/run/x/netns/abc"


def test_none_network_without_a_path_gets_a_new_namespace(tmp_path):
    for netns in (None, ""):
        assert ns_of(build(tmp_path / str(netns), netns=netns))["network"] is None


def test_container_network_needs_its_path(tmp_path):
    with pytest.raises(InvalidArgument, match="network namespace path is missing"):
        build(tmp_path, {"NetworkMode": "container:abc"}, netns="")
    # None: the joined container is on the host's network
    assert "network" not in ns_of(build(tmp_path / "h", {"NetworkMode": "container:abc"}))
    spec = build(tmp_path / "b", {"NetworkMode": "container:abc"}, netns="/proc/7/ns/net")
    assert ns_of(spec)["network"] == "/proc/7/ns/net"
    assert "net.ipv4.ping_group_range" not in spec["linux"].get("sysctl", {})


def test_ipc_pid_uts_modes(tmp_path):
    nss = ns_of(build(tmp_path, {"IpcMode": "host", "PidMode": "host", "UTSMode": "host"}))
    assert set(nss) == {"mount", "network"}
    spec = build(tmp_path / "b", {"IpcMode": "container:x", "PidMode": "container:x"},
                 ipc_ns="/proc/9/ns/ipc", pid_ns="/proc/9/ns/pid")
    assert ns_of(spec)["ipc"] == "/proc/9/ns/ipc" and ns_of(spec)["pid"] == "/proc/9/ns/pid"
    for mode in ("private", "shareable", "none"):
        assert ns_of(build(tmp_path / mode, {"IpcMode": mode}))["ipc"] is None


def test_uts_host_drops_the_hostname(tmp_path):
    assert "hostname" not in build(tmp_path, {"UTSMode": "host"})


@pytest.mark.parametrize("kind", ["IpcMode", "PidMode"])
def test_joined_ipc_or_pid_needs_its_path(tmp_path, kind):
    with pytest.raises(InvalidArgument, match="namespace path is missing"):
        build(tmp_path, {kind: "container:x"})


def test_cgroup_namespace_follows_cgroupns_mode(tmp_path):
    assert "cgroup" not in ns_of(build(tmp_path / "a"))          # v1 default: host
    assert "cgroup" in ns_of(build(tmp_path / "b", cgroup_v2=True))   # v2 default: private
    assert "cgroup" in ns_of(build(tmp_path / "c", {"CgroupnsMode": "private"}))
    assert "cgroup" not in ns_of(build(tmp_path / "d", {"CgroupnsMode": "host"},
                                       cgroup_v2=True))


# --- cgroups path ------------------------------------------------------------------

def test_cgroups_path_default_given_and_parent(tmp_path):
    assert build(tmp_path / "a")["linux"]["cgroupsPath"] == f"/dockyard/{CID}"
    assert build(tmp_path / "b", cgroups_path="/x/y")["linux"]["cgroupsPath"] == "/x/y"
    assert build(tmp_path / "c", {"CgroupParent": "/mygroup"})["linux"]["cgroupsPath"] == \
        f"/mygroup/{CID}"
    assert build(tmp_path / "d", {"CgroupParent": "rel"})["linux"]["cgroupsPath"] == \
        f"/rel/{CID}"


# --- capabilities ------------------------------------------------------------------

def caps_of(spec):
    return spec["process"]["capabilities"]["bounding"]


def test_cap_add_and_drop_with_or_without_prefix(tmp_path):
    caps = caps_of(build(tmp_path, {"CapAdd": ["net_admin", "CAP_SYS_TIME"],
                                    "CapDrop": ["chown", "CAP_KILL"]}))
    expected = [c for c in DEFAULT_CAPS if c not in ("CAP_CHOWN", "CAP_KILL")]
    assert caps == [*expected, "CAP_NET_ADMIN", "CAP_SYS_TIME"]


def test_cap_drop_all_keeps_only_adds(tmp_path):
    assert caps_of(build(tmp_path, {"CapDrop": ["ALL"], "CapAdd": ["kill"]})) == ["CAP_KILL"]
    assert caps_of(build(tmp_path / "b", {"CapDrop": ["all"]})) == []


def test_cap_add_all_minus_drops(tmp_path):
    caps = caps_of(build(tmp_path, {"CapAdd": ["ALL"], "CapDrop": ["SYS_ADMIN"]}))
    assert caps == [c for c in grantable_caps() if c != "CAP_SYS_ADMIN"]


def test_adding_a_default_cap_lists_it_once(tmp_path):
    caps = caps_of(build(tmp_path, {"CapAdd": ["CHOWN"]}))
    assert caps == list(DEFAULT_CAPS)


def test_unknown_capability_at_build(tmp_path):
    with pytest.raises(InvalidArgument, match='unknown capability: "CAP_NOPE"'):
        build(tmp_path, {"CapAdd": ["nope"]})


def test_privileged(tmp_path):
    spec = build(tmp_path, {"Privileged": True, "CapDrop": ["ALL"]})
    assert caps_of(spec) == grantable_caps()
    linux = spec["linux"]
    assert "seccomp" not in linux
    assert "maskedPaths" not in linux and "readonlyPaths" not in linux
    assert linux["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    assert any(d["path"] == "/dev/null" for d in linux["devices"])
    sys_mounts = {m["destination"]: m["options"] for m in spec["mounts"]}
    assert "ro" not in sys_mounts["/sys"] and "ro" not in sys_mounts["/sys/fs/cgroup"]


# --- seccomp, no-new-privileges, masked paths --------------------------------------

def test_seccomp_unconfined(tmp_path):
    assert "seccomp" not in build(tmp_path, {"SecurityOpt": ["seccomp=unconfined"]})["linux"]


def test_seccomp_custom_profile(tmp_path):
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
               "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"},
                            {"names": ["chroot"], "action": "SCMP_ACT_ERRNO",
                             "includes": {"caps": ["CAP_SYS_ADMIN"]}}]}
    sec = build(tmp_path, {"SecurityOpt": ["seccomp=" + json.dumps(profile)]}
                )["linux"]["seccomp"]
    assert sec["defaultAction"] == "SCMP_ACT_ALLOW"
    assert sec["syscalls"] == [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]


def test_seccomp_empty_profile_means_no_filter(tmp_path):
    assert "seccomp" not in build(tmp_path, {"SecurityOpt": ["seccomp={}"]})["linux"]


def test_daemon_seccomp_profile_replaces_the_default(tmp_path):
    sec = build(tmp_path, seccomp_profile={"defaultAction": "SCMP_ACT_LOG"})["linux"]["seccomp"]
    assert sec == {"defaultAction": "SCMP_ACT_LOG", "syscalls": []}


def test_default_seccomp_follows_capabilities(tmp_path):
    def allowed(spec):
        return {n for r in spec["linux"]["seccomp"]["syscalls"]
                if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]}
    assert "mount" not in allowed(build(tmp_path / "a"))
    assert "mount" in allowed(build(tmp_path / "b", {"CapAdd": ["SYS_ADMIN"]}))
    assert "chroot" not in allowed(build(tmp_path / "c", {"CapDrop": ["SYS_CHROOT"]}))


def test_no_new_privileges(tmp_path):
    assert build(tmp_path / "a", {"SecurityOpt": ["no-new-privileges"]}
                 )["process"]["noNewPrivileges"] is True
    assert build(tmp_path / "b", {"SecurityOpt": ["no-new-privileges=true"]}
                 )["process"]["noNewPrivileges"] is True
    assert build(tmp_path / "c", no_new_privileges=True)["process"]["noNewPrivileges"]
    off = build(tmp_path / "d", {"SecurityOpt": ["no-new-privileges=false"]},
                no_new_privileges=True)
    assert "noNewPrivileges" not in off["process"]


def test_masked_and_readonly_paths_from_host_config(tmp_path):
    linux = build(tmp_path, {"MaskedPaths": ["/proc/x"], "ReadonlyPaths": []})["linux"]
    assert linux["maskedPaths"] == ["/proc/x"] and "readonlyPaths" not in linux
    linux = build(tmp_path / "b", {"SecurityOpt": ["systempaths=unconfined"]})["linux"]
    assert "maskedPaths" not in linux and "readonlyPaths" not in linux


# --- process odds and ends ---------------------------------------------------------

def test_ulimits_merge_with_daemon_defaults(tmp_path):
    spec = build(tmp_path, {"Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 2048}]},
                 default_ulimits={"nofile": {"Name": "nofile", "Soft": 1, "Hard": 1},
                                  "nproc": {"Name": "nproc", "Soft": 50, "Hard": 100}})
    assert spec["process"]["rlimits"] == [
        {"type": "RLIMIT_NOFILE", "hard": 2048, "soft": 1024},
        {"type": "RLIMIT_NPROC", "hard": 100, "soft": 50}]


def test_unlimited_ulimit_is_rlim_infinity(tmp_path):
    spec = build(tmp_path, {"Ulimits": [{"Name": "core", "Soft": -1, "Hard": -1}]})
    assert spec["process"]["rlimits"] == [{"type": "RLIMIT_CORE", "hard": 2**64 - 1,
                                           "soft": 2**64 - 1}]


def test_oom_score_adj(tmp_path):
    assert build(tmp_path, {"OomScoreAdj": 500})["process"]["oomScoreAdj"] == 500


def test_sysctls_override_the_defaults(tmp_path):
    sysctl = build(tmp_path, {"Sysctls": {"net.ipv4.ip_unprivileged_port_start": "1024",
                                          "kernel.shmmax": "1000"}})["linux"]["sysctl"]
    assert sysctl["net.ipv4.ip_unprivileged_port_start"] == "1024"
    assert sysctl["kernel.shmmax"] == "1000"


def test_read_only_root(tmp_path):
    assert build(tmp_path, {"ReadonlyRootfs": True})["root"]["readonly"] is True


def test_annotations(tmp_path):
    spec = build(tmp_path, {"Annotations": {"com.example/a": "1"}})
    assert spec["annotations"] == {"com.example/a": "1"}
    assert "annotations" not in build(tmp_path / "b")


def test_devices_and_rules(tmp_path):
    st = os.stat("/dev/null")
    spec = build(tmp_path, {"Devices": [{"PathOnHost": "/dev/null",
                                         "PathInContainer": "/dev/mynull",
                                         "CgroupPermissions": "r"}],
                            "DeviceCgroupRules": ["c 42:* rmw", "b *:* m"]})
    dev = spec["linux"]["devices"]
    assert dev == [{"path": "/dev/mynull", "type": "c", "major": os.major(st.st_rdev),
                    "minor": os.minor(st.st_rdev), "fileMode": st.st_mode & 0o7777,
                    "uid": st.st_uid, "gid": st.st_gid}]
    rules = spec["linux"]["resources"]["devices"]
    assert rules[-3:] == [
        {"allow": True, "type": "c", "major": os.major(st.st_rdev),
         "minor": os.minor(st.st_rdev), "access": "r"},
        {"allow": True, "type": "c", "major": 42, "minor": -1, "access": "rmw"},
        {"allow": True, "type": "b", "major": -1, "minor": -1, "access": "m"}]


def test_missing_device_is_an_error(tmp_path):
    with pytest.raises(InvalidArgument, match='custom device "/dev/nope-dy"'):
        build(tmp_path, {"Devices": [{"PathOnHost": "/dev/nope-dy",
                                      "PathInContainer": "/dev/x", "CgroupPermissions": "rwm"}]})


def test_device_directory_without_device_nodes_is_an_error(tmp_path):
    d = tmp_path / "devdir"
    d.mkdir()
    os.symlink("/dev/null", d / "link")  # symlinks inside are not devices
    (d / "file").write_text("")
    with pytest.raises(InvalidArgument, match="error gathering device information"):
        build(tmp_path, {"Devices": [{"PathOnHost": str(d), "PathInContainer": "/dev/x"}]})


@pytest.mark.parametrize("profile", [
    {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": "x"},
    {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": "read",
                                                      "action": "SCMP_ACT_ALLOW"}]},
    {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "args": [1]}]},
    {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "args": [
        {"index": "0", "value": 1, "op": "SCMP_CMP_EQ"}]}]},
    {"defaultAction": "SCMP_ACT_ERRNO", "archMap": "x"},
    {"defaultAction": "SCMP_ACT_ERRNO", "archMap": [1]},
    {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"],
                                                      "includes": {"minKernel": "4.8.1"}}]},
    {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"],
                                                      "excludes": {"caps": "CAP_KILL"}}]},
    {"defaultAction": 5},
    [1, 2],
])
def test_malformed_seccomp_profiles_are_the_users_mistake(tmp_path, profile):
    from dockyard.engine.hostconfig import validate_create

    opt = ["seccomp=" + json.dumps(profile)]
    with pytest.raises(InvalidArgument, match="Decoding seccomp profile failed"):
        validate_create({}, {"SecurityOpt": opt})
    with pytest.raises(InvalidArgument, match="Decoding seccomp profile failed"):
        build(tmp_path, {"SecurityOpt": opt})


def test_daemon_profile_is_shape_checked_too(tmp_path):
    with pytest.raises(InvalidArgument, match="Decoding seccomp profile failed"):
        build(tmp_path, seccomp_profile={"defaultAction": "SCMP_ACT_ERRNO", "syscalls": 3})
