"""``finalize_process`` for real: a helper applies the settings, then execs busybox.

Each test runs ``python -c HELPER CONFIG``: the helper calls ``validate`` and
``finalize_process`` exactly as the container init will, then execs the static
busybox, which reports what the kernel says about itself (/proc/self/status,
/proc/self/limits, ulimit, umask) or tries a syscall the filter should stop.
No container or namespace is needed: the process model is the same.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dockyard.runtime import syscalls
from dockyard.runtime.security import capabilities, docker_profile_to_spec
from tests.conftest import require_root
from tests.support.shared import docker_default_seccomp_profile

HELPER = r"""
import json, os, sys
from dockyard.runtime import security
cfg = json.loads(sys.argv[1])
linux = {"seccomp": cfg["seccomp"]} if cfg.get("seccomp") is not None else {}
try:
    if cfg.get("validate") == "preload":  # what exec does: no validate, only preload
        security.preload(process=cfg["process"], seccomp=linux.get("seccomp"),
                         cache_dir=cfg.get("cache_dir"))
    elif cfg.get("validate", True):
        security.validate({"process": cfg["process"], "linux": linux},
                          cache_dir=cfg.get("cache_dir"))
    if cfg.get("block_imports"):
        # as inside a user namespace that cannot reach the interpreter's files
        class NoImports:
            def find_spec(self, name, path=None, target=None):
                raise ImportError(f"import of {name} after preload")
        sys.meta_path.insert(0, NoImports())
        sys.path[:] = []
        linux = json.loads(json.dumps(linux))  # an equal, not the same, section
    security.finalize_process(cfg["process"], seccomp=linux.get("seccomp"),
                              no_new_privileges=cfg.get("nnp"),
                              cache_dir=cfg.get("cache_dir"))
except Exception as e:
    print(f"FINALIZE-ERROR {type(e).__name__}: {e}", file=sys.stderr)
    sys.exit(99)
os.execv(cfg["argv"][0], cfg["argv"])
"""


@pytest.fixture(autouse=True)
def _root():
    require_root()


def run_helper(tmp_path: Path, busybox: Path, process: dict, script: str, *,
               seccomp: dict | None = None, nnp: bool | None = None,
               validate: bool | str = True, cache_dir: str | None = None,
               block_imports: bool = False) -> subprocess.CompletedProcess:
    cfg = {"process": process, "seccomp": seccomp, "nnp": nnp, "validate": validate,
           "cache_dir": cache_dir, "block_imports": block_imports,
           "argv": [str(busybox), "sh", "-c", script]}
    os.chmod(tmp_path, 0o777)  # a non-root uid must be able to work in it
    return subprocess.run([sys.executable, "-c", HELPER, json.dumps(cfg)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)


def status(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs",
                           "Seccomp", "Uid", "Gid", "Groups"):
            out[key] = value.strip()
    return out


def caps_of(hexmask: str) -> list[str]:
    return capabilities.names_in(int(hexmask, 16))


STATUS = "cat /proc/self/status"


def test_caps_exactly_as_asked_for_a_non_root_user(tmp_path, busybox_binary):
    process = {"user": {"uid": 1000, "gid": 1000}, "capabilities": {
        "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "effective": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "permitted": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "inheritable": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "ambient": ["CAP_KILL", "CAP_NET_BIND_SERVICE"]}}
    res = run_helper(tmp_path, busybox_binary, process, STATUS)
    assert res.returncode == 0, res.stderr
    st = status(res.stdout)
    assert caps_of(st["CapBnd"]) == ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    for key in ("CapEff", "CapPrm", "CapInh", "CapAmb"):
        assert caps_of(st[key]) == ["CAP_KILL", "CAP_NET_BIND_SERVICE"], key


def test_non_root_without_ambient_ends_with_no_caps(tmp_path, busybox_binary):
    process = {"user": {"uid": 1000, "gid": 1000}, "capabilities": {
        "bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]}}
    res = run_helper(tmp_path, busybox_binary, process, STATUS)
    assert res.returncode == 0, res.stderr
    st = status(res.stdout)
    assert caps_of(st["CapBnd"]) == ["CAP_KILL"]
    assert st["CapEff"] == st["CapPrm"] == st["CapAmb"] == "0000000000000000"


def test_root_gets_its_bounding_set_at_exec(tmp_path, busybox_binary):
    """For uid 0 the kernel grants bounding | inheritable at execve (as with runc)."""
    process = {"user": {"uid": 0, "gid": 0}, "capabilities": {
        "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_SETUID"], "effective": ["CAP_KILL"],
        "permitted": ["CAP_KILL", "CAP_CHOWN"], "inheritable": ["CAP_CHOWN"]}}
    res = run_helper(tmp_path, busybox_binary, process, STATUS)
    assert res.returncode == 0, res.stderr
    st = status(res.stdout)
    assert caps_of(st["CapBnd"]) == ["CAP_CHOWN", "CAP_KILL", "CAP_SETUID"]
    assert caps_of(st["CapEff"]) == ["CAP_CHOWN", "CAP_KILL", "CAP_SETUID"]
    assert caps_of(st["CapInh"]) == ["CAP_CHOWN"]
    assert st["CapAmb"] == "0000000000000000"


def test_uid_gid_groups_umask_and_oom_score(tmp_path, busybox_binary):
    process = {"user": {"uid": 1000, "gid": 1001, "additionalGids": [5, 100, 2000],
                        "umask": 0o027}, "oomScoreAdj": 123}
    res = run_helper(tmp_path, busybox_binary, process,
                     f"{STATUS}; umask; cat /proc/self/oom_score_adj; id -u; id -g")
    assert res.returncode == 0, res.stderr
    st = status(res.stdout)
    assert st["Uid"].split() == ["1000"] * 4
    assert st["Gid"].split() == ["1001"] * 4
    assert st["Groups"].split() == ["5", "100", "2000"]
    assert st["CapEff"] == "0000000000000000"  # no capabilities section: setuid drops all
    tail = res.stdout.split()[-4:]
    assert tail == ["0027", "123", "1000", "1001"]


def test_groups_are_cleared_and_umask_defaults_to_0022(tmp_path, busybox_binary):
    res = run_helper(tmp_path, busybox_binary, {"user": {"uid": 0, "gid": 0}},
                     f"{STATUS}; umask")
    assert res.returncode == 0, res.stderr
    assert status(res.stdout)["Groups"] == ""
    assert res.stdout.split()[-1] == "0022"


def test_rlimits_applied(tmp_path, busybox_binary):
    process = {"rlimits": [{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200},
                           {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
                           {"type": "RLIMIT_NPROC", "soft": 5000, "hard": 6000}]}
    res = run_helper(tmp_path, busybox_binary, process,
                     "cat /proc/self/limits; ulimit -n; ulimit -Hn")
    assert res.returncode == 0, res.stderr
    limits = res.stdout
    assert re.search(r"Max open files\s+100\s+200\s", limits)
    assert re.search(r"Max core file size\s+0\s+0\s", limits)
    assert re.search(r"Max processes\s+5000\s+6000\s", limits)
    assert res.stdout.split()[-2:] == ["100", "200"]


def test_raising_a_hard_rlimit_is_refused_clearly(tmp_path, busybox_binary):
    import resource

    cur_hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1] & ((1 << 64) - 1)
    if cur_hard >= (1 << 63):
        pytest.skip(f"RLIMIT_NOFILE hard limit is {cur_hard} here: nothing above it to ask")
    has_sys_resource = syscalls.capget()[0] >> 24 & 1
    process = {"rlimits": [{"type": "RLIMIT_NOFILE", "soft": 64, "hard": cur_hard + 1}]}
    res = run_helper(tmp_path, busybox_binary, process, "ulimit -Hn", validate=False)
    if has_sys_resource:
        assert res.returncode == 0, res.stderr
        assert res.stdout.split() == [str(cur_hard + 1)]
    else:
        assert res.returncode == 99
        assert "setrlimit RLIMIT_NOFILE" in res.stderr
        assert "raising it needs CAP_SYS_RESOURCE" in res.stderr


def test_no_new_privileges(tmp_path, busybox_binary):
    on = run_helper(tmp_path, busybox_binary, {"noNewPrivileges": True}, STATUS)
    off = run_helper(tmp_path, busybox_binary, {"noNewPrivileges": False}, STATUS)
    assert on.returncode == 0 and off.returncode == 0, on.stderr + off.stderr
    assert status(on.stdout)["NoNewPrivs"] == "1"
    assert status(off.stdout)["NoNewPrivs"] == "0"


def test_ambient_capability_not_inheritable_is_skipped_like_runc(tmp_path, busybox_binary):
    """``runc spec`` lists ambient caps without an inheritable set: runc runs it anyway."""
    process = {"user": {"uid": 0, "gid": 0}, "capabilities": {
        "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "ambient": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]}}
    res = run_helper(tmp_path, busybox_binary, process, STATUS)
    assert res.returncode == 0, res.stderr
    st = status(res.stdout)
    assert st["CapAmb"] == "0000000000000000"
    assert caps_of(st["CapEff"]) == ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"]


def test_capability_the_runtime_lacks_is_a_clear_error(tmp_path, busybox_binary):
    held = syscalls.capget()[1]
    missing = [n for n, nr in capabilities.CAPABILITIES.items()
               if not held >> nr & 1 and nr <= capabilities.last_cap()]
    if not missing:
        pytest.skip("this runtime holds every capability: nothing to be missing")
    process = {"capabilities": {"permitted": [missing[0]], "effective": [missing[0]]}}
    res = run_helper(tmp_path, busybox_binary, process, "true")
    assert res.returncode == 99
    assert f"the runtime does not hold {missing[0]}" in res.stderr


BLOCK_MKDIR = {"defaultAction": "SCMP_ACT_ALLOW",
               "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}


@pytest.mark.parametrize("nnp", [True, False])
def test_seccomp_errno_rule_blocks_mkdir_only(tmp_path, busybox_binary, nnp):
    # Without NNP the filter must be loaded while CAP_SYS_ADMIN is still held; the
    # capabilities asked for lack it, so this also checks the order of the steps.
    process = {"user": {"uid": 1000, "gid": 1000}, "noNewPrivileges": nnp,
               "capabilities": {"bounding": ["CAP_KILL"]}}
    script = f"{STATUS}; touch file && echo touched; mkdir dir; echo rc=$?"
    res = run_helper(tmp_path, busybox_binary, process, script, seccomp=BLOCK_MKDIR)
    assert res.returncode == 0, res.stderr
    assert status(res.stdout)["Seccomp"] == "2"
    assert status(res.stdout)["NoNewPrivs"] == ("1" if nnp else "0")
    assert "touched" in res.stdout and "rc=1" in res.stdout
    assert "Operation not permitted" in res.stderr
    assert (tmp_path / "file").exists() and not (tmp_path / "dir").exists()


def test_seccomp_argument_comparison(tmp_path, busybox_binary):
    seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["chmod", "fchmodat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
         "args": [{"index": 1, "value": 0o700, "op": "SCMP_CMP_EQ"}]},
        {"names": ["fchmodat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
         "args": [{"index": 2, "value": 0o700, "op": "SCMP_CMP_EQ"}]}]}
    script = "touch f; chmod 755 f && echo chmod755-ok; chmod 700 f; echo rc=$?; stat -c %a f"
    res = run_helper(tmp_path, busybox_binary, {"noNewPrivileges": True}, script,
                     seccomp=seccomp)
    assert res.returncode == 0, res.stderr
    assert "chmod755-ok" in res.stdout and "rc=1" in res.stdout
    assert res.stdout.split()[-1] == "755"
    assert "Permission denied" in res.stderr


def test_seccomp_default_errno_ret(tmp_path, busybox_binary):
    lib = syscalls.import_pyseccomp()
    allowed = []
    for nr in range(0, 1024):
        try:
            name = lib.resolve_syscall(0, nr).decode()
        except ValueError:
            continue
        if name not in ("mkdir", "mkdirat"):
            allowed.append(name)
    seccomp = {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 95,
               "syscalls": [{"names": allowed, "action": "SCMP_ACT_ALLOW"}]}
    res = run_helper(tmp_path, busybox_binary, {"noNewPrivileges": True},
                     "echo start; mkdir d; echo rc=$?", seccomp=seccomp)
    assert res.returncode == 0, res.stderr
    assert "start" in res.stdout and "rc=1" in res.stdout
    assert os.strerror(95) in res.stderr  # "Operation not supported"


def _docker_default_profile() -> dict:
    """Docker's default profile, from the shared specs beside the repository."""
    return docker_default_seccomp_profile()


DOCKER_DEFAULT_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]


def test_docker_default_profile_runs_a_shell_pipeline(tmp_path, busybox_binary):
    section = docker_profile_to_spec(_docker_default_profile(), DOCKER_DEFAULT_CAPS)
    process = {"noNewPrivileges": True, "capabilities": {
        name: DOCKER_DEFAULT_CAPS for name in ("bounding", "effective", "permitted")}}
    script = (f"{STATUS}; echo hello world | tr a-z A-Z | sed s/WORLD/THERE/; "
              "ls / | wc -l >/dev/null && echo ls-ok; unshare -n true; echo unshare=$?")
    cache = str(tmp_path / "seccomp-cache")
    for _ in range(2):  # compiled, then from the cache
        res = run_helper(tmp_path, busybox_binary, process, script, seccomp=section,
                         cache_dir=cache)
        assert res.returncode == 0, res.stderr
        assert status(res.stdout)["Seccomp"] == "2"
        assert "HELLO THERE" in res.stdout and "ls-ok" in res.stdout
        assert "unshare=1" in res.stdout and "Operation not permitted" in res.stderr
    assert len(os.listdir(cache)) == 1


@pytest.mark.parametrize("with_seccomp", [True, False])
@pytest.mark.parametrize("before", [True, "preload"])
def test_finalize_imports_nothing_after_validate_or_preload(tmp_path, busybox_binary,
                                                            before, with_seccomp):
    """In a user namespace the venv may be unreachable: every import must happen before."""
    process = {"user": {"uid": 1000, "gid": 1000, "additionalGids": [5], "umask": 0o077},
               "noNewPrivileges": True, "oomScoreAdj": 7,
               "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200}],
               "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"],
                                "permitted": ["CAP_KILL"], "inheritable": ["CAP_KILL"],
                                "ambient": ["CAP_KILL"]}}
    res = run_helper(tmp_path, busybox_binary, process, f"{STATUS}; mkdir d; echo rc=$?",
                     seccomp=BLOCK_MKDIR if with_seccomp else None, block_imports=True,
                     validate=before)
    assert res.returncode == 0, res.stderr
    st = status(res.stdout)
    assert st["Seccomp"] == ("2" if with_seccomp else "0")
    assert caps_of(st["CapAmb"]) == ["CAP_KILL"]
    assert ("rc=1" if with_seccomp else "rc=0") in res.stdout
