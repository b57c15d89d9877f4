"""``linux.seccomp``: the runtime-spec section, checked, compiled and loaded via libseccomp.

Three steps, so ``create`` can fail before anything exists and the init does
as little as possible after its last privileged step:

* ``parse(section)`` checks the section's shape in pure Python (actions,
  architectures, flags, operators, errnoRet, argument indexes) and returns a
  typed ``Plan``; errors name the JSON path.
* ``compile(section_or_plan)`` resolves syscall names with libseccomp and builds
  (without loading) the filter. An unknown name is an error
  (``linux.seccomp.syscalls[3].names[0]: unknown syscall "foo"``), except real
  syscalls newer than the installed libseccomp, which are left out (as runc does
  for every name it cannot resolve) when their rule is more permissive than the
  default action, and refused when leaving them out would weaken the filter.
  The result is the final BPF program (bytes), so the init only makes one
  seccomp(2) call; with ``cache_dir`` it is also kept on disk by a digest of the
  section, so a container start with an already-seen profile (docker's default)
  needs neither libseccomp nor the ~15 ms it takes to generate the program.
* ``load(compiled)`` installs it. Nothing may run between this and execve, since
  the filter may forbid what Python would do next.

Like runc, when the default action is not an allowing one, syscalls numbered
above the highest one the profile names get ENOSYS instead of the default
action (only for the native ABI): they are newer than the profile, and ENOSYS
is what lets a libc fall back to an older call (clone3 -> clone, ...).

Semantics follow runc: a rule whose action equals the default action is
redundant and skipped; several conditions on the same argument index become one
rule per condition (any may match), otherwise all conditions must match;
SCMP_CMP_MASKED_EQ takes ``value`` as the mask and ``valueTwo`` as the datum;
errnoRet defaults to EPERM. libseccomp's own NO_NEW_PRIVS is switched off: the
spec's ``noNewPrivileges`` alone decides it. Seccomp user notification
(SCMP_ACT_NOTIFY, ``listenerPath``) is not supported and is refused clearly.
"""

from __future__ import annotations

import os
from _collections_abc import Mapping  # collections.abc without collections (~2 ms)

from dockyard.errors import InvalidArgument, SystemError_
from dockyard.runtime.security._record import Record

__all__ = [
    "ACTIONS",
    "ARCHITECTURES",
    "FLAGS",
    "NEWER_SYSCALLS",
    "OPERATORS",
    "Compiled",
    "Plan",
    "Rule",
    "compile",
    "export_pfc",
    "load",
    "parse",
]

_EPERM = 1

#: spec action name -> libseccomp action base (ERRNO and TRACE carry a 16-bit datum).
ACTIONS: Mapping[str, int] = {
    "SCMP_ACT_KILL": 0x00000000,          # = KILL_THREAD
    "SCMP_ACT_KILL_THREAD": 0x00000000,
    "SCMP_ACT_KILL_PROCESS": 0x80000000,
    "SCMP_ACT_TRAP": 0x00030000,
    "SCMP_ACT_ERRNO": 0x00050000,
    "SCMP_ACT_TRACE": 0x7FF00000,
    "SCMP_ACT_LOG": 0x7FFC0000,
    "SCMP_ACT_ALLOW": 0x7FFF0000,
    "SCMP_ACT_NOTIFY": 0x7FC00000,
}
_WITH_DATUM = ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE")

_LE, _64 = 0x40000000, 0x80000000
_N32 = 0x20000000
#: spec architecture name -> AUDIT_ARCH_* value (what libseccomp calls an arch token).
ARCHITECTURES: Mapping[str, int] = {
    "SCMP_ARCH_X86": 3 | _LE,
    "SCMP_ARCH_X86_64": 62 | _64 | _LE,
    "SCMP_ARCH_X32": 62 | _LE,
    "SCMP_ARCH_ARM": 40 | _LE,
    "SCMP_ARCH_AARCH64": 183 | _64 | _LE,
    "SCMP_ARCH_MIPS": 8,
    "SCMP_ARCH_MIPS64": 8 | _64,
    "SCMP_ARCH_MIPS64N32": 8 | _64 | _N32,
    "SCMP_ARCH_MIPSEL": 8 | _LE,
    "SCMP_ARCH_MIPSEL64": 8 | _64 | _LE,
    "SCMP_ARCH_MIPSEL64N32": 8 | _64 | _LE | _N32,
    "SCMP_ARCH_PPC": 20,
    "SCMP_ARCH_PPC64": 21 | _64,
    "SCMP_ARCH_PPC64LE": 21 | _64 | _LE,
    "SCMP_ARCH_S390": 22,
    "SCMP_ARCH_S390X": 22 | _64,
    "SCMP_ARCH_PARISC": 15,
    "SCMP_ARCH_PARISC64": 15 | _64,
    "SCMP_ARCH_RISCV64": 243 | _64 | _LE,
    "SCMP_ARCH_LOONGARCH64": 258 | _64 | _LE,
}

#: spec operator name -> libseccomp scmp_compare value.
OPERATORS: Mapping[str, int] = {
    "SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4,
    "SCMP_CMP_GE": 5, "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7,
}

#: spec flag -> seccomp(2) flag bit (None: refused, see ``parse``).
FLAGS: Mapping[str, int | None] = {
    "SECCOMP_FILTER_FLAG_TSYNC": 1,
    "SECCOMP_FILTER_FLAG_LOG": 2,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 4,
    # Only meaningful with a user-notification listener, which is not supported.
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": None,
}
_ATTR_CTL_NNP = 3
_ATTR_CTL_OPTIMIZE = 8
_OPTIMIZE_ABOVE = 32  # rules; libseccomp <= 2.5.4 misbehaves optimizing tiny filters
_ALLOWING = (ACTIONS["SCMP_ACT_ALLOW"], ACTIONS["SCMP_ACT_LOG"])

#: Real Linux syscalls that libseccomp releases older than the kernel may not know.
#: A profile naming them is valid; they are left out of the filter when the
#: installed libseccomp cannot resolve them (the default action then applies).
NEWER_SYSCALLS = frozenset({
    "cachestat", "fchmodat2", "map_shadow_stack", "futex_wake", "futex_wait",
    "futex_requeue", "statmount", "listmount", "lsm_get_self_attr", "lsm_set_self_attr",
    "lsm_list_modules", "mseal", "setxattrat", "getxattrat", "listxattrat",
    "removexattrat", "open_tree_attr", "file_getattr", "file_setattr", "uretprobe",
    "riscv_hwprobe", "uprobe", "futex_waitv", "set_mempolicy_home_node",
    "process_mrelease", "memfd_secret", "landlock_create_ruleset",
    "landlock_add_rule", "landlock_restrict_self", "quotactl_fd", "mount_setattr",
    "epoll_pwait2", "process_madvise", "close_range", "faccessat2", "pidfd_getfd",
    "openat2", "clone3",
})

_U64_MAX = (1 << 64) - 1


class Condition(Record):
    """One ``args[]`` comparison: ``op`` is libseccomp's scmp_compare number."""

    __slots__ = ("index", "op", "value", "value_two")

    def __init__(self, index: int, op: int, value: int, value_two: int) -> None:
        self.index = index
        self.op = op
        self.value = value
        self.value_two = value_two


class Rule(Record):
    """One ``syscalls[]`` entry: ``path`` is its JSON path, for error messages."""

    __slots__ = ("action", "conditions", "names", "path")

    def __init__(self, path: str, names: tuple[str, ...], action: int,
                 conditions: tuple[Condition, ...] = ()) -> None:
        self.path = path
        self.names = names
        self.action = action
        self.conditions = conditions


class Plan(Record):
    """The checked section: actions as libseccomp values (errno folded in)."""

    __slots__ = ("architectures", "default_action", "flags", "rules")

    def __init__(self, default_action: int, architectures: tuple[str, ...] = (),
                 flags: tuple[str, ...] = (), rules: tuple[Rule, ...] = ()) -> None:
        self.default_action = default_action
        self.architectures = architectures
        self.flags = flags
        self.rules = rules


def _uint(value: object, where: str, top: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
        raise InvalidArgument(f"{where}: must be an integer in 0..{top}, got {value!r}")
    return value


def _action(name: object, errno_ret: object, where: str, errno_where: str) -> int:
    if name not in ACTIONS:
        raise InvalidArgument(f"{where}: unknown seccomp action {name!r} "
                              f"(expected one of {', '.join(sorted(ACTIONS))})")
    if name == "SCMP_ACT_NOTIFY":
        raise InvalidArgument(f"{where}: SCMP_ACT_NOTIFY (seccomp user notification) is "
                              "not supported by dockyard-runtime")
    base = ACTIONS[name]
    if name in _WITH_DATUM:
        datum = _EPERM if errno_ret is None else _uint(errno_ret, errno_where, 0xFFFF)
        return base | datum
    if errno_ret is not None:
        raise InvalidArgument(f"{errno_where}: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take "
                              f"an errno, not {name}")
    return base


def _conditions(args: object, where: str) -> tuple[Condition, ...]:
    if args is None:
        return ()
    if not isinstance(args, list):
        raise InvalidArgument(f"{where}: must be an array")
    out = []
    for i, arg in enumerate(args):
        at = f"{where}[{i}]"
        if not isinstance(arg, Mapping):
            raise InvalidArgument(f"{at}: must be an object with index, value, op")
        index = _uint(arg.get("index"), f"{at}.index", 5)
        op = arg.get("op")
        if op not in OPERATORS:
            raise InvalidArgument(f"{at}.op: unknown operator {op!r} "
                                  f"(expected one of {', '.join(OPERATORS)})")
        value = _uint(arg.get("value", 0), f"{at}.value", _U64_MAX)
        value_two = _uint(arg.get("valueTwo", 0), f"{at}.valueTwo", _U64_MAX)
        out.append(Condition(index, OPERATORS[op], value, value_two))
    return tuple(out)


def parse(section: Mapping[str, object], path: str = "linux.seccomp") -> Plan:
    """Check the section's shape (not syscall names) and return it typed."""
    if not isinstance(section, Mapping):
        raise InvalidArgument(f"{path}: must be an object")
    if section.get("listenerPath"):
        raise InvalidArgument(f"{path}.listenerPath: seccomp user notification is not "
                              "supported by dockyard-runtime")
    if "defaultAction" not in section:
        raise InvalidArgument(f"{path}.defaultAction: missing (required)")
    default = _action(section["defaultAction"], section.get("defaultErrnoRet"),
                      f"{path}.defaultAction", f"{path}.defaultErrnoRet")
    arches = section.get("architectures") or []
    if not isinstance(arches, list):
        raise InvalidArgument(f"{path}.architectures: must be an array")
    for i, arch in enumerate(arches):
        if arch not in ARCHITECTURES:
            raise InvalidArgument(f"{path}.architectures[{i}]: unknown architecture {arch!r}")
    flags = section.get("flags") or []
    if not isinstance(flags, list):
        raise InvalidArgument(f"{path}.flags: must be an array")
    for i, flag in enumerate(flags):
        if flag not in FLAGS:
            raise InvalidArgument(f"{path}.flags[{i}]: unknown seccomp flag {flag!r}")
        if FLAGS[flag] is None:
            raise InvalidArgument(f"{path}.flags[{i}]: {flag} needs seccomp user "
                                  "notification, which dockyard-runtime does not support")
    syscalls = section.get("syscalls") or []
    if not isinstance(syscalls, list):
        raise InvalidArgument(f"{path}.syscalls: must be an array")
    rules = []
    for i, entry in enumerate(syscalls):
        at = f"{path}.syscalls[{i}]"
        if not isinstance(entry, Mapping):
            raise InvalidArgument(f"{at}: must be an object")
        names = entry.get("names")
        if not isinstance(names, list) or not names:
            raise InvalidArgument(f"{at}.names: must be a non-empty array of syscall names")
        for j, name in enumerate(names):
            if not isinstance(name, str) or not name:
                raise InvalidArgument(f"{at}.names[{j}]: must be a syscall name")
        if "action" not in entry:
            raise InvalidArgument(f"{at}.action: missing (required)")
        action = _action(entry["action"], entry.get("errnoRet"), f"{at}.action",
                         f"{at}.errnoRet")
        rules.append(Rule(at, tuple(names), action, _conditions(entry.get("args"),
                                                                f"{at}.args")))
    return Plan(default, tuple(arches), tuple(flags), tuple(rules))


class Compiled(Record):
    """A finished seccomp program: BPF bytes, seccomp(2) flags, what was left out.

    Plain data, so it survives a fork, a pickle or a file; ``load`` needs nothing else.
    """

    __slots__ = ("bpf", "flags", "skipped")

    def __init__(self, bpf: bytes, flags: int = 0, skipped: tuple[str, ...] = ()) -> None:
        self.bpf = bpf
        self.flags = flags
        self.skipped = skipped


def _lib():
    from dockyard.runtime import syscalls

    try:
        return syscalls.import_pyseccomp()
    except (ImportError, RuntimeError, OSError) as e:
        raise SystemError_(f"libseccomp is not usable ({e}); install libseccomp2 and "
                           "pyseccomp") from e


def _resolve(lib, name: str, where: str, skipped: list[str]) -> int | None:
    nr = lib.resolve_syscall(0, name)
    if nr != -1:  # >= 0 native, <= -10000 a pseudo number libseccomp maps per arch
        return nr
    if name in NEWER_SYSCALLS:
        skipped.append(f"{where}: {name} is unknown to the installed libseccomp")
        return None
    raise InvalidArgument(f"{where}: unknown syscall {name!r}")


# The kernel's precedence when actions compete: the lower, the more permissive.
_PRECEDENCE = (0x7FFF0000, 0x7FFC0000, 0x7FF00000, 0x7FC00000, 0x00050000, 0x00030000,
               0x00000000, 0x80000000)  # ALLOW LOG TRACE NOTIFY ERRNO TRAP KILL KILL_PROC


def _restrictiveness(action: int) -> int:
    base = action & 0xFFFF0000  # drop the errno / trace datum
    return _PRECEDENCE.index(base) if base in _PRECEDENCE else len(_PRECEDENCE)


def _add_rule(lib, filt, rule: Rule, nr: int, where: str) -> None:
    conds = [lib.Arg(c.index, c.op, c.value, c.value_two) for c in rule.conditions]
    indexes = [c.index for c in rule.conditions]
    try:
        if len(set(indexes)) == len(indexes):
            filt.add_rule(rule.action, nr, *conds)
        else:  # several tests of one argument: any of them matches (runc's reading)
            for cond in conds:
                filt.add_rule(rule.action, nr, cond)
    except OSError as e:
        if e.errno == 17:  # EEXIST
            raise InvalidArgument(f"{where}: conflicts with an earlier rule for the same "
                                  "syscall and arguments but another action") from e
        raise InvalidArgument(f"{where}: libseccomp refused the rule: {e.strerror}") from e


def build_filter(plan: Plan, path: str = "linux.seccomp"):  # -> (SyscallFilter, ...)
    """The libseccomp filter for ``plan``, the highest native syscall number it
    names, and the names/arches left out. Exposed for tests (``export_pfc``)."""
    lib = _lib()
    try:
        filt = lib.SyscallFilter(plan.default_action)
        filt.set_attr(_ATTR_CTL_NNP, 0)
    except OSError as e:
        raise SystemError_(f"{path}: libseccomp cannot make a filter: {e.strerror}") from e
    if sum(len(r.names) for r in plan.rules) > _OPTIMIZE_ABOVE:
        try:
            filt.set_attr(_ATTR_CTL_OPTIMIZE, 2)  # binary tree: faster per syscall
        except OSError:
            pass
    skipped: list[str] = []
    native = lib.system_arch()
    for i, arch in enumerate(plan.architectures):
        token = ARCHITECTURES[arch]
        if token == native:
            continue
        try:
            filt.add_arch(token)
        except OSError as e:
            # An arch libseccomp cannot filter cannot run on this machine either.
            skipped.append(f"{path}.architectures[{i}]: {arch}: {e.strerror}")
    highest = -1
    for rule in plan.rules:
        for j, name in enumerate(rule.names):
            where = f"{rule.path}.names[{j}]"
            nr = _resolve(lib, name, where, skipped)
            if nr is None:
                if _restrictiveness(rule.action) > _restrictiveness(plan.default_action):
                    # leaving it out would quietly weaken the filter: refuse instead
                    raise InvalidArgument(
                        f"{where}: cannot restrict {name}: the installed libseccomp does not "
                        "know this syscall, so it would get the default action instead")
                continue
            highest = max(highest, nr)
            if rule.action != plan.default_action:  # else redundant; libseccomp refuses it
                _add_rule(lib, filt, rule, nr, where)
    return filt, native, highest, skipped


def compile(section: Mapping[str, object] | Plan, path: str = "linux.seccomp", *,
            cache_dir: str | None = None) -> Compiled:
    """Check and build the program (no load): the ``create``-time check too.

    ``cache_dir``: a root-only directory where finished programs are kept by a
    digest of the section (and of libseccomp and this code); see ``_bpf``.
    """
    from dockyard.runtime.security import _bpf

    key = None
    if cache_dir is not None and not isinstance(section, Plan):
        key = _bpf.cache_key(section)
        if key is not None:
            hit = _bpf.cache_get(cache_dir, key)
            if hit is not None:
                return Compiled(*hit)
    plan = section if isinstance(section, Plan) else parse(section, path)
    filt, native, highest, skipped = build_filter(plan, path)
    try:
        program = _bpf.export(filt)
    except OSError as e:
        raise SystemError_(f"{path}: libseccomp cannot generate the program: {e}") from e
    if plan.default_action not in _ALLOWING and \
            (plan.default_action & 0xFFFF0000) != ACTIONS["SCMP_ACT_TRACE"] and highest >= 0:
        program = _bpf.enosys_stub(native, highest) + program
    flags = 0
    for flag in plan.flags:
        flags |= FLAGS[flag] or 0
    compiled = Compiled(program, flags, tuple(skipped))
    if key is not None and cache_dir is not None:
        _bpf.cache_put(cache_dir, key, compiled.bpf, compiled.flags, compiled.skipped)
    return compiled


def load(compiled: Compiled) -> None:
    """Install the program in this process. Only execve should follow."""
    from dockyard.runtime import syscalls

    try:
        syscalls.seccomp_set_mode_filter(compiled.flags, compiled.bpf)
    except OSError as e:
        hint = ""
        if e.errno in (1, 13):
            hint = " (loading needs CAP_SYS_ADMIN or no_new_privs)"
        elif e.errno == 22:
            hint = " (a flag or action may be unsupported by this kernel)"
        raise SystemError_(f"loading the seccomp filter: {os.strerror(e.errno)}{hint}") from e


def export_pfc(section: Mapping[str, object], path: str = "linux.seccomp") -> str:
    """libseccomp's readable pseudo-filter-code for a section (tests, debugging)."""
    import os

    filt = build_filter(parse(section, path), path)[0]
    fd = os.memfd_create("dockyard-seccomp-pfc", os.MFD_CLOEXEC)
    with os.fdopen(fd, "w+b") as f:
        filt.export_pfc(f)
        f.seek(0)
        return f.read().decode()
