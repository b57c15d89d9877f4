"""dockyard's default seccomp profile is equivalent to Docker's official default.

Equivalence is judged on what matters: for each capability set, architecture and
kernel, the rules left after includes/excludes are resolved must allow the same calls
with the same argument conditions and return the same errnos.
"""

from __future__ import annotations

import json

import pytest

from dockyard.engine.seccomp_default import DEFAULT_SECCOMP, default_profile
from dockyard.engine.spec_caps import DEFAULT_CAPS, all_caps
from dockyard.runtime.security.profile import docker_profile_to_spec
from tests.support.shared import docker_default_seccomp_profile

ALL = all_caps(40)
CAP_SETS = {
    "default": list(DEFAULT_CAPS),
    "none": [],
    "all": ALL,
    **{f"default+{c}": [*DEFAULT_CAPS, c] for c in ALL if c not in DEFAULT_CAPS},
}
MACHINES = ["x86_64", "aarch64", "s390x", "ppc64le", "riscv64", "armv7l"]


def effective(spec: dict) -> set[tuple]:
    rules = set()
    for rule in spec["syscalls"]:
        args = json.dumps(sorted((a["index"], a["value"], a.get("valueTwo", 0), a["op"])
                                 for a in rule.get("args") or ()))
        for name in rule["names"]:
            rules.add((name, rule["action"], rule.get("errnoRet"), args))
    return rules


@pytest.fixture(scope="module")
def reference() -> dict:
    return docker_default_seccomp_profile()


@pytest.mark.parametrize("machine", MACHINES)
@pytest.mark.parametrize("caps", sorted(CAP_SETS))
def test_same_effective_rules_as_docker(reference, caps, machine):
    for kernel in ((4, 4), (6, 18)):
        ours = docker_profile_to_spec(DEFAULT_SECCOMP, CAP_SETS[caps], machine=machine,
                                      kernel=kernel)
        theirs = docker_profile_to_spec(reference, CAP_SETS[caps], machine=machine,
                                        kernel=kernel)
        assert effective(ours) == effective(theirs), (caps, machine, kernel)
        for key in ("defaultAction", "defaultErrnoRet", "architectures"):
            assert ours.get(key) == theirs.get(key), key


def test_default_caps_deny_mount_and_allow_io(reference):
    spec = docker_profile_to_spec(DEFAULT_SECCOMP, DEFAULT_CAPS, machine="x86_64",
                                  kernel=(6, 1))
    allowed = {n for r in spec["syscalls"] if r["action"] == "SCMP_ACT_ALLOW"
               for n in r["names"] if not r.get("args")}
    assert {"read", "write", "openat", "execve", "chroot"} <= allowed
    assert not {"mount", "unshare", "setns", "reboot", "bpf", "open_by_handle_at"} & allowed
    assert "ptrace" in allowed  # kernels since 4.8 confine ptrace under seccomp
    clone3 = [r for r in spec["syscalls"] if r["names"] == ["clone3"]]
    assert clone3 and clone3[0]["action"] == "SCMP_ACT_ERRNO" and clone3[0]["errnoRet"] == 38


def test_default_profile_returns_a_private_copy():
    p = default_profile()
    p["syscalls"].clear()
    assert DEFAULT_SECCOMP["syscalls"]


def test_official_and_own_profiles_pass_the_shape_check(reference):
    from dockyard.engine.spec_seccomp import check_profile

    assert check_profile(reference) is reference
    assert check_profile(DEFAULT_SECCOMP) is DEFAULT_SECCOMP
