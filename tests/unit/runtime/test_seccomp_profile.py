"""Docker's seccomp profile format -> the runtime-spec section."""

from __future__ import annotations

import json
import os
import time

import pytest

from dockyard.errors import InvalidArgument
from dockyard.runtime.security import docker_profile_to_spec, seccomp
from dockyard.runtime.security.profile import kernel_version
from tests.support.shared import docker_default_seccomp_profile

DOCKER_DEFAULT_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]

PROFILE = {
    "defaultAction": "SCMP_ACT_ERRNO",
    "defaultErrnoRet": 1,
    "archMap": [
        {"architecture": "SCMP_ARCH_X86_64",
         "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
        {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
        {"architecture": "SCMP_ARCH_RISCV64", "subArchitectures": None},
    ],
    "syscalls": [
        {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["new_one"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "5.10"}},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
        {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW",
         "includes": {"arches": ["amd64", "x32"]}},
        {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
        {"names": ["both"], "action": "SCMP_ACT_ALLOW",
         "includes": {"caps": ["CAP_SYS_ADMIN", "CAP_SYS_PTRACE"]}},
        {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}],
         "excludes": {"caps": ["CAP_SYS_ADMIN"], "arches": ["s390", "s390x"]}},
        {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
         "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
        {"names": ["old_one"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "4.8"}},
        {"name": "single", "action": "SCMP_ACT_ALLOW"},
    ],
}


def names(section) -> list[str]:
    return [n for rule in section["syscalls"] for n in rule["names"]]


def test_amd64_default_caps_recent_kernel():
    out = docker_profile_to_spec(PROFILE, DOCKER_DEFAULT_CAPS, machine="x86_64",
                                 kernel="6.18.44")
    assert out["defaultAction"] == "SCMP_ACT_ERRNO" and out["defaultErrnoRet"] == 1
    assert out["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    assert names(out) == ["read", "write", "new_one", "personality", "arch_prctl", "clone",
                          "clone3", "single"]
    clone = out["syscalls"][4]
    assert clone == {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                     "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}]}
    assert out["syscalls"][5]["errnoRet"] == 38
    assert "includes" not in json.dumps(out) and "excludes" not in json.dumps(out)


def test_caps_arch_and_kernel_change_the_result():
    out = docker_profile_to_spec(PROFILE, [*DOCKER_DEFAULT_CAPS, "CAP_SYS_ADMIN"],
                                 machine="aarch64", kernel=(4, 4))
    assert out["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    assert names(out) == ["read", "write", "personality", "mount", "old_one", "single"]
    both = docker_profile_to_spec(PROFILE, ["CAP_SYS_ADMIN", "CAP_SYS_PTRACE"],
                                  machine="riscv64", kernel="5.10")
    assert both["architectures"] == ["SCMP_ARCH_RISCV64"]
    assert "both" in names(both) and "new_one" in names(both) and "old_one" not in names(both)


def test_profile_without_archmap_keeps_its_architectures():
    out = docker_profile_to_spec({"defaultAction": "SCMP_ACT_ALLOW",
                                  "architectures": ["SCMP_ARCH_X86_64"], "syscalls": []}, [])
    assert out == {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                   "syscalls": []}


def test_bad_profiles():
    with pytest.raises(InvalidArgument, match="defaultAction is missing"):
        docker_profile_to_spec({"syscalls": []}, [])
    with pytest.raises(InvalidArgument, match=r"syscalls\[0\]: use either 'name' or 'names'"):
        docker_profile_to_spec({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"name": "a", "names": ["b"], "action": "SCMP_ACT_ALLOW"}]}, [])


def test_architectures_and_archmap_together_are_refused():
    with pytest.raises(InvalidArgument, match="either 'architectures' or 'archMap'"):
        docker_profile_to_spec(dict(PROFILE, architectures=["SCMP_ARCH_X86_64"]), [])


def test_kernel_versions():
    assert kernel_version("6.18.44-firecracker") == (6, 18)
    assert kernel_version("4.8") == (4, 8)
    assert kernel_version("5") == (5, 0)
    assert kernel_version("5.10-rc1") == (5, 10)
    with pytest.raises(InvalidArgument):
        kernel_version("x.y")


def _docker_default_profile() -> dict:
    """Docker's default profile, from the shared specs beside the repository."""
    return docker_default_seccomp_profile()


def test_docker_default_profile_converts_and_compiles_fast():
    profile = _docker_default_profile()
    t0 = time.perf_counter()
    section = docker_profile_to_spec(profile, DOCKER_DEFAULT_CAPS, machine="x86_64",
                                     kernel="6.18")
    t1 = time.perf_counter()
    compiled = seccomp.compile(section)
    t2 = time.perf_counter()
    assert section["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    all_names = names(section)
    assert "read" in all_names and "execve" in all_names
    assert "mount" not in all_names and "unshare" not in all_names  # need CAP_SYS_ADMIN
    assert "clone3" in all_names  # as ERRNO(ENOSYS) without CAP_SYS_ADMIN
    assert len(compiled.bpf) > 1000
    # generous bounds (a loaded CI machine); the report quotes the real numbers
    assert t1 - t0 < 0.05
    assert t2 - t1 < 1.0


def test_docker_default_program_verdicts():
    """What the kernel would answer under docker's default profile (default caps)."""
    from tests.unit.runtime.test_seccomp_build import ALLOW, errno, nr, run_bpf

    if os.uname().machine != "x86_64":
        pytest.skip("verdicts below use x86_64 syscall numbers")
    section = docker_profile_to_spec(_docker_default_profile(), DOCKER_DEFAULT_CAPS)
    prog = seccomp.compile(section).bpf
    sigchld, newnet, newuser = 17, 0x40000000, 0x10000000
    assert run_bpf(prog, nr("read")) == ALLOW
    assert run_bpf(prog, nr("execve")) == ALLOW
    assert run_bpf(prog, nr("clone"), args=(sigchld, 0, 0, 0, 0, 0)) == ALLOW
    assert run_bpf(prog, nr("clone"), args=(newnet | sigchld, 0, 0, 0, 0, 0)) == errno(1)
    assert run_bpf(prog, nr("clone"), args=(newuser | sigchld, 0, 0, 0, 0, 0)) == errno(1)
    assert run_bpf(prog, nr("clone3")) == errno(38)          # so libc falls back to clone
    assert run_bpf(prog, nr("unshare")) == errno(1)
    assert run_bpf(prog, nr("mount")) == errno(1)
    assert run_bpf(prog, nr("personality"), args=(0, 0, 0, 0, 0, 0)) == ALLOW
    assert run_bpf(prog, nr("personality"), args=(1, 0, 0, 0, 0, 0)) == errno(1)
    assert run_bpf(prog, nr("chown")) == ALLOW                 # CAP_CHOWN is held
    # mseal (462, Linux 6.10) is allowed by the profile; a libseccomp that cannot name
    # it leaves it out, and the ENOSYS prefix answers for it instead of EPERM
    from dockyard.runtime import syscalls

    known = syscalls.import_pyseccomp().resolve_syscall(0, "mseal") >= 0
    assert run_bpf(prog, 462) == (ALLOW if known else errno(38))
