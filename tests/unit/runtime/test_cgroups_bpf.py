"""The hand-made BPF device program: instruction encoding and what it decides.

The decision tests run the *encoded bytes* through a small interpreter of the few
opcodes the compiler emits, so a wrong opcode, register nibble or jump offset
changes the verdicts (the kernel side is covered by the integration tests).
"""

from __future__ import annotations

import struct

import pytest

from dockyard.runtime.cgroups.devices_bpf import (
    ACC_MKNOD,
    ACC_READ,
    ACC_WRITE,
    DEV_BLOCK,
    DEV_CHAR,
    Insn,
    assemble,
    compile_rules,
)
from dockyard.runtime.cgroups.resources import parse_rules

M32 = 0xFFFFFFFF


def test_instruction_encoding_matches_struct_bpf_insn() -> None:
    # r2 = *(u32 *)(r1 + 4): code 0x61, dst=2 low nibble, src=1 high nibble
    assert Insn(0x61, dst=2, src=1, off=4).encode() == bytes([0x61, 0x12, 4, 0, 0, 0, 0, 0])
    # if r4 != 259 goto +3
    assert Insn(0x55, dst=4, off=3, imm=259).encode() == \
        bytes([0x55, 0x04, 3, 0]) + (259).to_bytes(4, "little")
    # r0 = 0 with a negative imm round-trips as signed
    assert Insn(0xB7, dst=0, imm=-1).encode()[4:] == b"\xff\xff\xff\xff"
    assert Insn(0x95).encode() == bytes([0x95, 0, 0, 0, 0, 0, 0, 0])
    assert len(assemble([Insn(0x95)] * 3)) == 24


def run(program: bytes, dev_type: int, access: int, major: int, minor: int) -> int:
    ctx = struct.pack("<III", (access << 16) | dev_type, major, minor)
    regs = [0] * 11
    regs[1] = -1  # pointer to ctx, only used as a load base
    pc = 0
    insns = [struct.unpack("<BBhi", program[i:i + 8]) for i in range(0, len(program), 8)]
    for _steps in range(1000):
        code, regs_byte, off, imm = insns[pc]
        dst, src = regs_byte & 0xF, regs_byte >> 4
        pc += 1
        if code == 0x61:
            assert src == 1, "loads only from the context"
            regs[dst] = struct.unpack_from("<I", ctx, off)[0]
        elif code == 0x54:
            regs[dst] = (regs[dst] & imm) & M32
        elif code == 0x74:
            regs[dst] = (regs[dst] & M32) >> imm
        elif code == 0xBC:
            regs[dst] = regs[src] & M32
        elif code == 0xB7:
            regs[dst] = imm
        elif code == 0x55:
            pc += off if regs[dst] != (imm & M32) else 0
        elif code == 0x5D:
            pc += off if regs[dst] != regs[src] else 0
        elif code == 0x95:
            return regs[0]
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")
    raise AssertionError("program did not exit")


def program(rules: list[dict]) -> bytes:
    return assemble(compile_rules(parse_rules(rules)))


RW = ACC_READ | ACC_WRITE


def test_empty_rules_deny_everything() -> None:
    prog = program([])
    assert run(prog, DEV_CHAR, ACC_READ, 1, 3) == 0
    assert run(prog, DEV_BLOCK, ACC_MKNOD, 8, 0) == 0


def test_allow_list_after_deny_all() -> None:
    prog = program([
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "r"},
        {"allow": True, "type": "b", "major": 8, "access": "m"},
    ])
    assert run(prog, DEV_CHAR, RW, 1, 3) == 1
    assert run(prog, DEV_CHAR, ACC_READ, 1, 5) == 1
    assert run(prog, DEV_CHAR, RW, 1, 5) == 0, "write is not in 'r'"
    assert run(prog, DEV_CHAR, RW, 1, 7) == 0
    assert run(prog, DEV_BLOCK, ACC_MKNOD, 8, 17) == 1, "minor '*' matches any"
    assert run(prog, DEV_BLOCK, ACC_READ, 8, 17) == 0
    assert run(prog, DEV_CHAR, ACC_MKNOD, 8, 17) == 0, "type must match"


def test_last_matching_rule_wins() -> None:
    prog = program([
        {"allow": True, "access": "rwm"},
        {"allow": False, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
    ])
    assert run(prog, DEV_CHAR, ACC_READ, 1, 3) == 0
    assert run(prog, DEV_CHAR, ACC_READ, 1, 5) == 1
    assert run(prog, DEV_BLOCK, RW, 1, 3) == 1


@pytest.mark.parametrize("rules", [
    [{"allow": True, "type": "c", "major": 1, "minor": 3}, {"allow": False}],
])
def test_a_catch_all_rule_ends_the_program(rules: list[dict]) -> None:
    insns = compile_rules(parse_rules(rules))
    # prologue (6) + one unconditional "r0 = 0; exit": the earlier rule is unreachable
    assert len(insns) == 8 and insns[-2] == Insn(0xB7, dst=0, imm=0)
    assert run(assemble(insns), DEV_CHAR, ACC_READ, 1, 3) == 0


def test_jump_offsets_land_on_the_next_rule() -> None:
    insns = compile_rules(parse_rules([
        {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "r"}]))
    # prologue, then: jne type, mov, and, jne access, jne major, jne minor, mov r0, exit
    block = insns[6:14]
    assert [i.code for i in block] == [0x55, 0xBC, 0x54, 0x5D, 0x55, 0x55, 0xB7, 0x95]
    assert [i.off for i in block if i.code in (0x55, 0x5D)] == [7, 4, 3, 2]
    assert insns[14:] == [Insn(0xB7, dst=0, imm=0), Insn(0x95)]
