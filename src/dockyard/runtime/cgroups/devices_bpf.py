"""The v2 device controller: a hand-assembled BPF_PROG_TYPE_CGROUP_DEVICE program.

cgroup v2 has no devices.* files; the kernel runs an eBPF program attached to the
cgroup for every device open/mknod, with a ``struct bpf_cgroup_dev_ctx``
(``access_type`` = access << 16 | type, ``major``, ``minor``) in r1, and allows
the access when the program returns 1.

The program is built here from the spec's rules, without a compiler:

    r2 = ctx->access_type & 0xffff      device type (1 block, 2 char)
    r3 = ctx->access_type >> 16         access asked for (1 mknod, 2 read, 4 write)
    r4 = ctx->major; r5 = ctx->minor
    for each rule, last to first (the last matching rule wins, as on v1):
        if type/major/minor differ, or r3 has a bit the rule lacks: skip block
        r0 = allow; exit
    r0 = 0; exit                        nothing matched: deny

A rule matching everything ends the scan: the earlier rules could never be reached.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from .resources import DeviceRule

__all__ = ["Insn", "assemble", "attach", "compile_rules", "detach_all"]

# opcode pieces (linux/bpf_common.h, linux/bpf.h)
BPF_LDX, BPF_ALU, BPF_JMP, BPF_ALU64 = 0x01, 0x04, 0x05, 0x07
BPF_W, BPF_MEM = 0x00, 0x60
BPF_K, BPF_X = 0x00, 0x08
BPF_AND, BPF_RSH, BPF_MOV = 0x50, 0x70, 0xB0
BPF_JNE, BPF_EXIT = 0x50, 0x90

LDXW = BPF_LDX | BPF_MEM | BPF_W        # 0x61  dst = *(u32 *)(src + off)
AND32_K = BPF_ALU | BPF_AND | BPF_K     # 0x54  dst &= imm   (32 bit)
RSH32_K = BPF_ALU | BPF_RSH | BPF_K     # 0x74  dst >>= imm  (32 bit)
MOV32_X = BPF_ALU | BPF_MOV | BPF_X     # 0xbc  dst = src    (32 bit)
MOV64_K = BPF_ALU64 | BPF_MOV | BPF_K   # 0xb7  dst = imm
JNE_K = BPF_JMP | BPF_JNE | BPF_K       # 0x55  if dst != imm: pc += off
JNE_X = BPF_JMP | BPF_JNE | BPF_X       # 0x5d  if dst != src: pc += off
EXIT = BPF_JMP | BPF_EXIT               # 0x95

DEV_BLOCK, DEV_CHAR = 1, 2
ACC_MKNOD, ACC_READ, ACC_WRITE = 1, 2, 4
_TYPES = {"b": DEV_BLOCK, "c": DEV_CHAR}
_ACCESS = {"m": ACC_MKNOD, "r": ACC_READ, "w": ACC_WRITE}


@dataclass(frozen=True)
class Insn:
    """One eBPF instruction: ``struct bpf_insn`` (8 bytes, little-endian here)."""

    code: int
    dst: int = 0
    src: int = 0
    off: int = 0
    imm: int = 0

    def encode(self) -> bytes:
        # dst_reg is the low nibble, src_reg the high one (little-endian bitfields).
        return struct.pack("<BBhi", self.code, (self.src << 4) | self.dst, self.off, self.imm)


def assemble(insns: Sequence[Insn]) -> bytes:
    return b"".join(i.encode() for i in insns)


def _rule_block(rule: DeviceRule) -> tuple[list[Insn], bool]:
    """Instructions for one rule, and whether the rule matches every access."""
    checks: list[Insn] = []  # each a JNE whose offset is patched to the block's end
    if rule.type != "a":
        checks.append(Insn(JNE_K, dst=2, imm=_TYPES[rule.type]))
    access = sum(_ACCESS[c] for c in rule.access)
    if access != ACC_MKNOD | ACC_READ | ACC_WRITE:
        # asked & allowed != asked  ->  the rule does not cover this access
        checks.append(Insn(MOV32_X, dst=1, src=3))
        checks.append(Insn(AND32_K, dst=1, imm=access))
        checks.append(Insn(JNE_X, dst=1, src=3))
    if rule.major >= 0:
        checks.append(Insn(JNE_K, dst=4, imm=rule.major))
    if rule.minor >= 0:
        checks.append(Insn(JNE_K, dst=5, imm=rule.minor))
    tail = [Insn(MOV64_K, dst=0, imm=1 if rule.allow else 0), Insn(EXIT)]
    block = checks + tail
    patched = []
    for pos, insn in enumerate(block):
        if insn.code in (JNE_K, JNE_X):
            insn = Insn(insn.code, insn.dst, insn.src, len(block) - pos - 1, insn.imm)
        patched.append(insn)
    return patched, not checks


def compile_rules(rules: Sequence[DeviceRule]) -> list[Insn]:
    """The whole program for ``rules`` (see the module docstring)."""
    prog = [
        Insn(LDXW, dst=2, src=1, off=0),
        Insn(AND32_K, dst=2, imm=0xFFFF),
        Insn(LDXW, dst=3, src=1, off=0),
        Insn(RSH32_K, dst=3, imm=16),
        Insn(LDXW, dst=4, src=1, off=4),
        Insn(LDXW, dst=5, src=1, off=8),
    ]
    for rule in reversed(rules):
        block, matches_all = _rule_block(rule)
        prog.extend(block)
        if matches_all:
            return prog
    prog.extend([Insn(MOV64_K, dst=0, imm=0), Insn(EXIT)])
    return prog


def attach(cgroup_dir: str, rules: Sequence[DeviceRule]) -> None:
    """Load the program for ``rules`` and make it the only device program of the cgroup.

    The new program is attached (multi-attach) before the old ones are detached, so
    there is no moment where the cgroup has no device filter.
    """
    from dockyard.runtime import syscalls as sc

    code = assemble(compile_rules(rules))
    dir_fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        old = _attached(dir_fd)
        prog_fd = sc.bpf_prog_load(sc.BPF_PROG_TYPE_CGROUP_DEVICE, code, "Apache",
                                   name="dockyard_dev")
        try:
            sc.bpf_prog_attach(dir_fd, prog_fd, sc.BPF_CGROUP_DEVICE, sc.BPF_F_ALLOW_MULTI)
        finally:
            os.close(prog_fd)  # the cgroup keeps its own reference
        _detach(dir_fd, old)
    finally:
        os.close(dir_fd)


def _attached(dir_fd: int) -> list[int]:
    from dockyard.runtime import syscalls as sc

    return sc.bpf_prog_query(dir_fd, sc.BPF_CGROUP_DEVICE)


def _detach(dir_fd: int, prog_ids: Sequence[int]) -> None:
    from dockyard.runtime import syscalls as sc

    for prog_id in prog_ids:
        fd = sc.bpf_prog_get_fd_by_id(prog_id)
        try:
            sc.bpf_prog_detach(dir_fd, fd, sc.BPF_CGROUP_DEVICE)
        finally:
            os.close(fd)


def detach_all(cgroup_dir: str) -> None:
    """Remove every device program from the cgroup (rmdir would drop them too)."""
    dir_fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        _detach(dir_fd, _attached(dir_fd))
    finally:
        os.close(dir_fd)
