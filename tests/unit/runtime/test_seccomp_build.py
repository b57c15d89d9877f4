"""Building seccomp programs, checked by running them in a small BPF interpreter.

No filter is loaded here (unit tier): the finished program is executed against
hand-made ``struct seccomp_data`` records, so each test says what the kernel
would answer for a given syscall, arch and arguments.
"""

from __future__ import annotations

import os
import struct

import pytest

from dockyard.errors import InvalidArgument
from dockyard.runtime import syscalls
from dockyard.runtime.security import _bpf, seccomp

lib = syscalls.import_pyseccomp()
NATIVE = lib.system_arch()
X86 = seccomp.ARCHITECTURES["SCMP_ARCH_X86"]
ALLOW, KILL = 0x7FFF0000, 0x00000000


def errno(n: int) -> int:
    return 0x00050000 | n


def nr(name: str, arch: int = 0) -> int:
    value = lib.resolve_syscall(arch, name)
    assert value >= 0, name
    return value


def run_bpf(prog: bytes, sysno: int, arch: int = NATIVE, args=(0, 0, 0, 0, 0, 0)) -> int:
    """Execute a classic-BPF seccomp program the way the kernel does; return its verdict."""
    data = struct.pack("=iIQ6Q", sysno, arch, 0, *args)
    insns = [struct.unpack_from("=HBBI", prog, off) for off in range(0, len(prog), 8)]
    a = x = 0
    mem = [0] * 16
    pc = 0
    for _ in range(100_000):
        code, jt, jf, k = insns[pc]
        pc += 1
        cls = code & 0x07
        if cls == 0x00:  # LD
            mode = code & 0xE0
            if mode == 0x20:
                a = struct.unpack_from("=I", data, k)[0]
            elif mode == 0x00:
                a = k
            elif mode == 0x60:
                a = mem[k]
            else:
                raise AssertionError(f"unsupported ld {code:#x}")
        elif cls == 0x01:  # LDX
            x = mem[k] if code & 0xE0 == 0x60 else k
        elif cls == 0x02:
            mem[k] = a
        elif cls == 0x03:
            mem[k] = x
        elif cls == 0x04:  # ALU
            src = x if code & 0x08 else k
            op = code & 0xF0
            a = {0x00: a + src, 0x10: a - src, 0x20: a * src, 0x40: a | src,
                 0x50: a & src, 0x60: a << src, 0x70: a >> src, 0xA0: a ^ src,
                 0x80: -a}[op] & 0xFFFFFFFF
        elif cls == 0x05:  # JMP
            op = code & 0xF0
            if op == 0x00:
                pc += k
                continue
            src = x if code & 0x08 else k
            taken = {0x10: a == src, 0x20: a > src, 0x30: a >= src, 0x40: bool(a & src)}[op]
            pc += jt if taken else jf
        elif cls == 0x06:  # RET
            return a if code & 0x18 == 0x10 else k
        else:  # MISC
            if code & 0xF8 == 0x80:
                a = x
            else:
                x = a
    raise AssertionError("program did not return")


def build(section) -> bytes:
    compiled = seccomp.compile(section)
    assert len(compiled.bpf) % 8 == 0 and compiled.bpf
    return compiled.bpf


def test_errno_rule_on_an_allow_default():
    prog = build({"defaultAction": "SCMP_ACT_ALLOW",
                  "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
                  "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]})
    assert run_bpf(prog, nr("mkdir")) == errno(1)
    assert run_bpf(prog, nr("mkdirat")) == errno(1)
    assert run_bpf(prog, nr("getpid")) == ALLOW
    assert run_bpf(prog, nr("mkdir", X86), X86) == errno(1)  # the 32-bit ABI too
    assert run_bpf(prog, nr("getpid", X86), X86) == ALLOW


def test_errno_ret_and_other_actions():
    prog = build({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 18},
        {"names": ["rmdir"], "action": "SCMP_ACT_KILL_PROCESS"},
        {"names": ["chdir"], "action": "SCMP_ACT_TRAP"},
        {"names": ["fchdir"], "action": "SCMP_ACT_LOG"},
        {"names": ["getcwd"], "action": "SCMP_ACT_TRACE", "errnoRet": 7},
    ]})
    assert run_bpf(prog, nr("mkdir")) == errno(18)
    assert run_bpf(prog, nr("rmdir")) == 0x80000000
    assert run_bpf(prog, nr("chdir")) == 0x00030000
    assert run_bpf(prog, nr("fchdir")) == 0x7FFC0000
    assert run_bpf(prog, nr("getcwd")) == 0x7FF00007


def test_argument_comparisons_all_must_match():
    prog = build({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["chmod"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 1, "value": 0o700, "op": "SCMP_CMP_EQ"}]},
        {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 3,
         "args": [{"index": 0, "value": 100, "op": "SCMP_CMP_GT"},
                  {"index": 1, "value": 9, "op": "SCMP_CMP_EQ"}]},
        {"names": ["personality"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 0, "value": 0xFF, "valueTwo": 8, "op": "SCMP_CMP_MASKED_EQ"}]},
        {"names": ["setuid"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 0, "value": 1 << 40, "op": "SCMP_CMP_GE"}]},
    ]})
    chmod = nr("chmod")
    assert run_bpf(prog, chmod, args=(0, 0o700, 0, 0, 0, 0)) == errno(1)
    assert run_bpf(prog, chmod, args=(0, 0o755, 0, 0, 0, 0)) == ALLOW
    kill = nr("kill")
    assert run_bpf(prog, kill, args=(101, 9, 0, 0, 0, 0)) == errno(3)
    assert run_bpf(prog, kill, args=(101, 15, 0, 0, 0, 0)) == ALLOW
    assert run_bpf(prog, kill, args=(100, 9, 0, 0, 0, 0)) == ALLOW
    pers = nr("personality")
    assert run_bpf(prog, pers, args=(0x1208, 0, 0, 0, 0, 0)) == errno(1)  # low byte 8
    assert run_bpf(prog, pers, args=(0x1209, 0, 0, 0, 0, 0)) == ALLOW
    setuid = nr("setuid")  # 64-bit comparisons use both halves of the argument
    assert run_bpf(prog, setuid, args=(1 << 40, 0, 0, 0, 0, 0)) == errno(1)
    assert run_bpf(prog, setuid, args=((1 << 40) - 1, 0, 0, 0, 0, 0)) == ALLOW


def test_several_conditions_on_one_argument_mean_any_of_them():
    prog = build({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["personality"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                  {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]}]})
    pers = nr("personality")
    assert run_bpf(prog, pers, args=(1, 0, 0, 0, 0, 0)) == errno(1)
    assert run_bpf(prog, pers, args=(2, 0, 0, 0, 0, 0)) == errno(1)
    assert run_bpf(prog, pers, args=(3, 0, 0, 0, 0, 0)) == ALLOW


def test_default_errno_ret_and_enosys_for_newer_syscalls():
    prog = build({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 95, "syscalls": [
        {"names": ["getpid", "read", "write", "openat"], "action": "SCMP_ACT_ALLOW"}]})
    assert run_bpf(prog, nr("getpid")) == ALLOW
    assert run_bpf(prog, nr("mkdir")) == errno(95)       # below the highest named: default
    highest = max(nr(n) for n in ("getpid", "read", "write", "openat"))
    assert run_bpf(prog, highest + 1) == errno(38)       # newer than the profile: ENOSYS
    assert run_bpf(prog, 1000) == errno(38)


def test_no_enosys_prefix_when_the_default_allows():
    section = {"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}
    prog = build(section)
    assert run_bpf(prog, 1000) == ALLOW
    # exactly libseccomp's program, nothing in front of it
    filt = seccomp.build_filter(seccomp.parse(section))[0]
    assert prog == _bpf.export(filt)


def test_enosys_prefix_leaves_x32_and_other_arches_to_the_filter():
    stub = _bpf.enosys_stub(0xC000003E, 100) + struct.pack("=HBBI", 0x06, 0, 0, ALLOW)
    assert run_bpf(stub, 101, arch=0xC000003E) == errno(38)
    assert run_bpf(stub, 100, arch=0xC000003E) == ALLOW
    assert run_bpf(stub, 0x40000000 | 500, arch=0xC000003E) == ALLOW  # x32 call
    assert run_bpf(stub, 500, arch=X86) == ALLOW
    arm_stub = _bpf.enosys_stub(0xC00000B7, 100) + struct.pack("=HBBI", 0x06, 0, 0, ALLOW)
    assert run_bpf(arm_stub, 101, arch=0xC00000B7) == errno(38)
    assert run_bpf(arm_stub, 0x40000000 | 5, arch=0xC00000B7) == errno(38)


def test_foreign_architecture_gets_the_bad_arch_action():
    prog = build({"defaultAction": "SCMP_ACT_ALLOW",
                  "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]})
    assert run_bpf(prog, 1, arch=X86) == KILL  # x86 was not listed


def test_rule_equal_to_the_default_is_skipped_not_an_error():
    prog = build({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"},
        {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"}]})
    assert run_bpf(prog, nr("mkdir")) == errno(1)
    assert run_bpf(prog, nr("getpid")) == ALLOW


def test_flags_become_seccomp_flag_bits():
    compiled = seccomp.compile({"defaultAction": "SCMP_ACT_ALLOW", "flags": [
        "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        "SECCOMP_FILTER_FLAG_TSYNC"]})
    assert compiled.flags == 1 | 2 | 4


def test_syscalls_newer_than_libseccomp_are_skipped_with_a_note():
    unknown = [n for n in sorted(seccomp.NEWER_SYSCALLS) if lib.resolve_syscall(0, n) == -1]
    if not unknown:
        pytest.skip("this libseccomp knows every syscall in NEWER_SYSCALLS")
    compiled = seccomp.compile({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["getpid", unknown[0]], "action": "SCMP_ACT_ALLOW"}]})
    assert compiled.skipped == (f"linux.seccomp.syscalls[0].names[1]: {unknown[0]} is "
                                "unknown to the installed libseccomp",)


def test_restricting_a_syscall_libseccomp_cannot_name_is_refused():
    unknown = [n for n in sorted(seccomp.NEWER_SYSCALLS) if lib.resolve_syscall(0, n) == -1]
    if not unknown:
        pytest.skip("this libseccomp knows every syscall in NEWER_SYSCALLS")
    with pytest.raises(InvalidArgument, match=rf"syscalls\[0\]\.names\[0\]: cannot restrict "
                                              rf"{unknown[0]}: the installed libseccomp"):
        seccomp.compile({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": [unknown[0]], "action": "SCMP_ACT_ERRNO"}]})
    # a LOG rule under an ERRNO default only loosens: leaving it out is safe
    seccomp.compile({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": [unknown[0]], "action": "SCMP_ACT_LOG"}]})


def test_multiplexed_syscalls_resolve_for_their_arch():
    # socketcall exists only on 32-bit x86 here; libseccomp maps its pseudo number
    prog = build({"defaultAction": "SCMP_ACT_ALLOW",
                  "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
                  "syscalls": [{"names": ["socketcall"], "action": "SCMP_ACT_ERRNO"}]})
    assert run_bpf(prog, nr("socketcall", X86), X86) == errno(1)


def test_export_pfc_is_readable():
    text = seccomp.export_pfc({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]})
    assert "mkdir" in text and "ERRNO(1)" in text


def test_unknown_syscall_raises():
    with pytest.raises(InvalidArgument, match=r"syscalls\[0\]\.names\[1\]: unknown syscall"):
        seccomp.compile({"defaultAction": "SCMP_ACT_ALLOW",
                         "syscalls": [{"names": ["mkdir", "frobnicate"],
                                       "action": "SCMP_ACT_ERRNO"}]})


SECTION = {"defaultAction": "SCMP_ACT_ERRNO", "flags": ["SECCOMP_FILTER_FLAG_LOG"],
           "syscalls": [{"names": ["getpid", "read"], "action": "SCMP_ACT_ALLOW"}]}


def test_cache_round_trip(tmp_path):
    cache = str(tmp_path / "cache")
    first = seccomp.compile(SECTION, cache_dir=cache)
    assert os.stat(cache).st_mode & 0o777 == 0o700
    assert len(os.listdir(cache)) == 1
    second = seccomp.compile(SECTION, cache_dir=cache)
    assert second == first
    other = dict(SECTION, defaultErrnoRet=5)
    assert seccomp.compile(other, cache_dir=cache) != first
    assert len(os.listdir(cache)) == 2


def test_cache_in_an_open_directory_or_with_bad_content_is_ignored(tmp_path):
    cache = tmp_path / "cache"
    reference = seccomp.compile(SECTION)
    key = _bpf.cache_key(SECTION)
    assert key is not None
    cache.mkdir(mode=0o700)
    (cache / key).write_bytes(b"garbage")
    assert seccomp.compile(SECTION, cache_dir=str(cache)) == reference
    forged = _bpf._FORMAT + b'\n{"flags": 0, "skipped": []}\n' + struct.pack(
        "=HBBI", 0x06, 0, 0, ALLOW)
    (cache / key).write_bytes(forged)
    os.chmod(cache, 0o777)  # others could have written it: never trusted
    assert seccomp.compile(SECTION, cache_dir=str(cache)) == reference
