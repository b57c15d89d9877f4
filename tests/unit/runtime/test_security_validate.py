"""``security.validate``: every bad security setting is refused at create, by JSON path."""

from __future__ import annotations

import resource

import pytest

from dockyard.errors import InvalidArgument
from dockyard.runtime import security, syscalls
from dockyard.runtime.security import identity, lsm, oom, rlimits


def _spec(process=None, linux=None):
    spec = {"ociVersion": "1.0.2", "process": {"args": ["sh"], "cwd": "/",
                                               "user": {"uid": 0, "gid": 0}}}
    spec["process"].update(process or {})
    spec["linux"] = linux or {}
    return spec


def _error(spec) -> str:
    with pytest.raises(InvalidArgument) as err:
        security.validate(spec)
    return str(err.value)


def test_a_plain_spec_is_valid():
    security.validate(_spec({"capabilities": {"bounding": ["CAP_KILL"]},
                             "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 20}],
                             "noNewPrivileges": True, "oomScoreAdj": 10}))
    security.validate({"ociVersion": "1.0.2"})  # no process at all: nothing to check


def test_unknown_capability_is_an_error_like_process_capabilities_fail():
    msg = _error(_spec({"capabilities": {"bounding": ["CAP_TEST"]}}))
    assert msg == "process.capabilities.bounding[0]: unknown capability 'CAP_TEST'"


@pytest.mark.parametrize(("rl", "message"), [
    ([{"type": "RLIMIT_TEST", "soft": 1, "hard": 1}],
     "process.rlimits[0].type: unknown rlimit type 'RLIMIT_TEST'"),
    ([{"type": "RLIMIT_CORE", "soft": 1, "hard": 1}, {"type": "RLIMIT_CORE", "soft": 1,
                                                      "hard": 1}],
     "process.rlimits[1].type: RLIMIT_CORE is given more than once"),
    ([{"type": "RLIMIT_CORE", "soft": 5, "hard": 1}],
     "process.rlimits[0]: soft limit 5 is above hard limit 1"),
    ([{"type": "RLIMIT_CORE", "soft": -1, "hard": 1}],
     "process.rlimits[0].soft: must be an integer"),
    ([{"type": "RLIMIT_CORE", "soft": 1}], "process.rlimits[0].hard: must be an integer"),
    ({"type": "RLIMIT_CORE"}, "process.rlimits: must be an array"),
])
def test_bad_rlimits(rl, message):
    assert message in _error(_spec({"rlimits": rl}))


def test_rlimit_names_cover_the_kernel_resources():
    assert rlimits.RLIMITS["RLIMIT_NOFILE"] == resource.RLIMIT_NOFILE
    assert rlimits.RLIMITS["RLIMIT_NPROC"] == resource.RLIMIT_NPROC
    assert rlimits.RLIMITS["RLIMIT_RTTIME"] == resource.RLIMIT_RTTIME
    assert len(rlimits.RLIMITS) == 16


def test_raising_a_hard_limit_without_cap_sys_resource_is_reported_at_create():
    cur_hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1] & ((1 << 64) - 1)
    if cur_hard == (1 << 64) - 1:
        pytest.skip("RLIMIT_NOFILE hard limit is already unlimited here: nothing to raise")
    spec = _spec({"rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1, "hard": cur_hard + 1}]})
    has_sys_resource = syscalls.capget()[0] >> 24 & 1
    if has_sys_resource:
        security.validate(spec)  # allowed: the kernel will let us raise it
    else:
        msg = _error(spec)
        assert msg.startswith("process.rlimits[0]: RLIMIT_NOFILE hard limit")
        assert "CAP_SYS_RESOURCE" in msg


@pytest.mark.parametrize(("user", "message"), [
    ({"uid": -1, "gid": 0}, "process.user.uid: must be an integer"),
    ({"uid": 0, "gid": "0"}, "process.user.gid: must be an integer"),
    ({"uid": 0, "gid": 0, "additionalGids": [1, "x"]},
     "process.user.additionalGids[1]: must be an integer"),
    ({"uid": 0, "gid": 0, "umask": 0o10000}, "process.user.umask: must be an integer"),
    ({"uid": 0, "gid": 0, "additionalGids": list(range(65537))},
     "process.user.additionalGids: 65537 groups, the kernel allows at most 65536"),
])
def test_bad_user(user, message):
    assert message in _error(_spec({"user": user}))


def test_user_parses_numbers():
    assert identity.parse({"uid": 1000, "gid": 100, "additionalGids": [5, 6], "umask": 18}) \
        == identity.Identity(1000, 100, (5, 6), 18)


def test_bad_oom_score_adj_and_nnp():
    assert "process.oomScoreAdj: must be an integer in -1000..1000" in \
        _error(_spec({"oomScoreAdj": 1001}))
    assert oom.parse(-1000) == -1000
    assert "process.noNewPrivileges: must be true or false" in \
        _error(_spec({"noNewPrivileges": "yes"}))


def test_apparmor_profile_without_apparmor_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setattr(lsm, "_APPARMOR_ENABLED", str(tmp_path / "absent"))
    msg = _error(_spec({"apparmorProfile": "docker-default"}))
    assert msg == ("process.apparmorProfile: 'docker-default' was asked for but AppArmor "
                   "is not enabled on this host")


def test_apparmor_profile_with_apparmor_enabled_passes(monkeypatch, tmp_path):
    enabled = tmp_path / "enabled"
    enabled.write_text("Y\n")
    monkeypatch.setattr(lsm, "_APPARMOR_ENABLED", str(enabled))
    monkeypatch.setattr(lsm, "_LEGACY_EXEC", str(enabled))
    security.validate(_spec({"apparmorProfile": "docker-default"}))


def test_selinux_labels_without_selinux_are_errors(monkeypatch, tmp_path):
    monkeypatch.setattr(lsm, "_SELINUX_FS", (str(tmp_path),))
    assert _error(_spec({"selinuxLabel": "system_u:system_r:svirt_lxc_net_t:s0:c1,c2"})) \
        .startswith("process.selinuxLabel: 'system_u:system_r:svirt_lxc_net_t:s0:c1,c2' "
                    "was asked for but SELinux is not enabled")
    assert _error(_spec(linux={"mountLabel": "system_u:object_r:svirt_sandbox_file_t:s0"})) \
        .startswith("linux.mountLabel:")
    assert "is not an SELinux label" in _error(_spec({"selinuxLabel": "nonsense"}))


def test_selinux_labels_with_selinux_pass(monkeypatch, tmp_path):
    (tmp_path / "enforce").write_text("1")
    monkeypatch.setattr(lsm, "_SELINUX_FS", (str(tmp_path),))
    security.validate(_spec({"selinuxLabel": "system_u:system_r:container_t:s0"},
                            {"mountLabel": "system_u:object_r:container_file_t:s0"}))


def test_seccomp_unknown_syscall_names_its_path():
    seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"},
        {"names": ["read"], "action": "SCMP_ACT_ERRNO"},
        {"names": ["write"], "action": "SCMP_ACT_ERRNO"},
        {"names": ["foo"], "action": "SCMP_ACT_ERRNO"}]}
    assert _error(_spec(linux={"seccomp": seccomp})) == \
        "linux.seccomp.syscalls[3].names[0]: unknown syscall 'foo'"


@pytest.mark.parametrize(("seccomp", "message"), [
    ({"defaultAction": "SCMP_ACT_BOGUS"},
     "linux.seccomp.defaultAction: unknown seccomp action 'SCMP_ACT_BOGUS'"),
    ({}, "linux.seccomp.defaultAction: missing"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_Z"]},
     "linux.seccomp.architectures[1]: unknown architecture 'SCMP_ARCH_Z'"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_NOPE"]},
     "linux.seccomp.flags[0]: unknown seccomp flag"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]},
     "linux.seccomp.flags[0]: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs seccomp user"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock"},
     "linux.seccomp.listenerPath: seccomp user notification is not supported"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"],
                                                       "action": "SCMP_ACT_NOTIFY"}]},
     "linux.seccomp.syscalls[0].action: SCMP_ACT_NOTIFY"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"],
                                                       "action": "SCMP_ACT_KILL",
                                                       "errnoRet": 5}]},
     "linux.seccomp.syscalls[0].errnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE"),
    ({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 70000},
     "linux.seccomp.defaultErrnoRet: must be an integer in 0..65535"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [], "action": "SCMP_ACT_KILL"}]},
     "linux.seccomp.syscalls[0].names: must be a non-empty array"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"]}]},
     "linux.seccomp.syscalls[0].action: missing"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_KILL",
         "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]},
     "linux.seccomp.syscalls[0].args[0].index: must be an integer in 0..5"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_KILL",
         "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ABOUT"}]}]},
     "linux.seccomp.syscalls[0].args[0].op: unknown operator 'SCMP_CMP_ABOUT'"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_KILL",
         "args": [{"index": 0, "value": 1 << 64, "op": "SCMP_CMP_EQ"}]}]},
     "linux.seccomp.syscalls[0].args[0].value: must be an integer"),
])
def test_bad_seccomp_sections(seccomp, message):
    assert message in _error(_spec(linux={"seccomp": seccomp}))


def test_process_and_linux_must_be_objects():
    assert "process: must be an object" in _error({"process": []})
    assert "linux: must be an object" in _error({"process": {}, "linux": 3})
