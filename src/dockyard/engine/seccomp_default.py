"""dockyard's default seccomp profile, in Docker's profile format.

Written as dockyard's own data, grouped by what the system calls do, and kept
equivalent to Docker's default (moby/profiles ``seccomp/default.json``): for every
capability set and architecture, the effective rules after includes/excludes are
resolved allow exactly the same calls with the same argument conditions
(tests/unit/engine/test_seccomp_default.py checks this against the official file).

The policy: deny with EPERM by default; allow what an unprivileged process in its
own namespaces may safely do; allow the calls a capability governs only when the
container holds that capability (its bounding set); allow ``clone`` without any
namespace-creating flag, and make ``clone3`` fail with ENOSYS (its flags live in
memory seccomp cannot inspect, so libc falls back to ``clone``) unless the container
holds CAP_SYS_ADMIN. ``socket`` is allowed for every address family except
AF_ALG (38) and AF_VSOCK (40); ``personality`` only for the harmless personas.

``docker_profile_to_spec`` (runtime/security/profile.py) turns it into the
runtime-spec section for a given capability set, machine and kernel.
"""

from __future__ import annotations

__all__ = ["DEFAULT_SECCOMP", "default_profile"]

_ERRNO_EPERM = 1
_ERRNO_ENOSYS = 38

# Namespace flags a clone without CAP_SYS_ADMIN may not carry: CLONE_NEWNS |
# CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
# CLONE_NEWNET.
_CLONE_NS_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 \
    | 0x20000000 | 0x40000000

_AF_ALG, _AF_NFC, _AF_VSOCK = 38, 39, 40
# personality(2) values that change nothing dangerous: PER_LINUX, UNAME26,
# PER_LINUX32, PER_LINUX32|UNAME26, and 0xffffffff (query the current persona).
_PERSONAS = (0x0, 0x0008, 0x20000, 0x20008, 0xFFFFFFFF)

# --- always allowed, by subsystem -------------------------------------------------

_FILE_IO = """
    read readv pread64 preadv preadv2 write writev pwrite64 pwritev pwritev2
    lseek _llseek sendfile sendfile64 splice tee vmsplice copy_file_range
    readahead fadvise64 fadvise64_64 fallocate sync syncfs fsync fdatasync
    sync_file_range truncate truncate64 ftruncate ftruncate64 flock fcntl fcntl64
    ioctl close close_range dup dup2 dup3 pipe pipe2 cachestat
"""
_FILE_NAMES = """
    open openat openat2 creat access faccessat faccessat2 stat stat64 lstat lstat64
    fstat fstat64 fstatat64 newfstatat statx statfs statfs64 fstatfs fstatfs64
    mkdir mkdirat mknod mknodat rmdir unlink unlinkat rename renameat renameat2
    link linkat symlink symlinkat readlink readlinkat chdir fchdir getcwd
    getdents getdents64 chmod fchmod fchmodat fchmodat2 chown chown32 fchown
    fchown32 fchownat lchown lchown32 umask utime utimes utimensat utimensat_time64
    futimesat name_to_handle_at statmount listmount
"""
_XATTRS = """
    getxattr lgetxattr fgetxattr getxattrat setxattr lsetxattr fsetxattr setxattrat
    listxattr llistxattr flistxattr listxattrat removexattr lremovexattr
    fremovexattr removexattrat
"""
_EVENTS = """
    select _newselect pselect6 pselect6_time64 poll ppoll ppoll_time64
    epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_wait epoll_wait_old
    epoll_pwait epoll_pwait2 eventfd eventfd2 signalfd signalfd4 timerfd_create
    timerfd_settime timerfd_settime64 timerfd_gettime timerfd_gettime64
    inotify_init inotify_init1 inotify_add_watch inotify_rm_watch fanotify_mark
    io_setup io_destroy io_submit io_cancel io_getevents io_pgetevents
    io_pgetevents_time64
"""
_MEMORY = """
    brk mmap mmap2 munmap mremap mprotect madvise mincore msync mlock mlock2
    mlockall munlock munlockall remap_file_pages membarrier memfd_create memfd_secret
    pkey_alloc pkey_free pkey_mprotect map_shadow_stack mseal
"""
_PROCESSES = """
    fork vfork execve execveat exit exit_group wait4 waitid waitpid kill tkill
    tgkill pidfd_open pidfd_send_signal process_mrelease getpid getppid gettid
    getpgid setpgid getpgrp getsid setsid prctl
    set_tid_address get_robust_list set_robust_list rseq restart_syscall
    getrusage times getrlimit ugetrlimit setrlimit prlimit64 getpriority setpriority
    ioprio_get ioprio_set getcpu uname sysinfo seccomp landlock_create_ruleset
    landlock_add_rule landlock_restrict_self capget capset uretprobe
    get_thread_area set_thread_area riscv_hwprobe
"""
_SCHEDULING = """
    sched_yield sched_getaffinity sched_setaffinity sched_getattr sched_setattr
    sched_getparam sched_setparam sched_getscheduler sched_setscheduler
    sched_get_priority_max sched_get_priority_min sched_rr_get_interval
    sched_rr_get_interval_time64
"""
_SIGNALS = """
    rt_sigaction rt_sigprocmask rt_sigpending rt_sigqueueinfo rt_tgsigqueueinfo
    rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 sigaltstack
    sigprocmask sigreturn pause alarm
"""
_IDENTITY = """
    getuid getuid32 geteuid geteuid32 getgid getgid32 getegid getegid32 getresuid
    getresuid32 getresgid getresgid32 getgroups getgroups32 setuid setuid32 setgid
    setgid32 setreuid setreuid32 setregid setregid32 setresuid setresuid32
    setresgid setresgid32 setfsuid setfsuid32 setfsgid setfsgid32 setgroups
    setgroups32
"""
_TIME = """
    time gettimeofday clock_gettime clock_gettime64 clock_getres clock_getres_time64
    clock_nanosleep clock_nanosleep_time64 nanosleep adjtimex clock_adjtime
    clock_adjtime64 getitimer setitimer timer_create timer_delete timer_getoverrun
    timer_gettime timer_gettime64 timer_settime timer_settime64
"""
_SYNC = """
    futex futex_time64 futex_wait futex_wake futex_requeue futex_waitv
"""
_SOCKETS = """
    socketpair bind connect listen accept accept4 getsockname getpeername
    getsockopt setsockopt shutdown send sendto sendmsg sendmmsg recv recvfrom
    recvmsg recvmmsg recvmmsg_time64 socketcall
"""
_SYSV_IPC = """
    ipc msgget msgctl msgsnd msgrcv semget semctl semop semtimedop
    semtimedop_time64 shmget shmctl shmat shmdt mq_open mq_unlink mq_timedsend
    mq_timedsend_time64 mq_timedreceive mq_timedreceive_time64 mq_notify
    mq_getsetattr
"""
_MISC = """
    getrandom
"""


def _names(*blocks: str) -> list[str]:
    names: set[str] = set()
    for block in blocks:
        names.update(block.split())
    return sorted(names)


def _rule(names: str | list[str], *, action: str = "SCMP_ACT_ALLOW",
          caps: list[str] | None = None, arches: list[str] | None = None,
          min_kernel: str | None = None, args: list[dict] | None = None,
          without_caps: list[str] | None = None, without_arches: list[str] | None = None,
          errno: int | None = None, comment: str = "") -> dict:
    rule: dict = {"names": names.split() if isinstance(names, str) else names,
                  "action": action}
    if errno is not None:
        rule["errnoRet"] = errno
    if args:
        rule["args"] = args
    if comment:
        rule["comment"] = comment
    includes: dict = {}
    if caps:
        includes["caps"] = caps
    if arches:
        includes["arches"] = arches
    if min_kernel:
        includes["minKernel"] = min_kernel
    if includes:
        rule["includes"] = includes
    excludes: dict = {}
    if without_caps:
        excludes["caps"] = without_caps
    if without_arches:
        excludes["arches"] = without_arches
    if excludes:
        rule["excludes"] = excludes
    return rule


def _arg(index: int, value: int, op: str) -> dict:
    return {"index": index, "value": value, "op": op}


def default_profile() -> dict:
    """A fresh copy of the profile (callers may change it).

    Long because it is data: one rule per line, in the order Docker lists them."""
    rules = [
        _rule(_names(_FILE_IO, _FILE_NAMES, _XATTRS, _EVENTS, _MEMORY, _PROCESSES,
                     _SCHEDULING, _SIGNALS, _IDENTITY, _TIME, _SYNC, _SOCKETS,
                     _SYSV_IPC, _MISC)),
        # Reading another process's memory is as safe as ptrace, which kernels since
        # 4.8 confine with seccomp checks after the tracer's changes.
        _rule("ptrace process_vm_readv process_vm_writev", min_kernel="4.8"),
        # Every address family but AF_ALG and AF_VSOCK: the ranges around them.
        _rule("socket", args=[_arg(0, _AF_ALG, "SCMP_CMP_LT")]),
        _rule("socket", args=[_arg(0, _AF_NFC, "SCMP_CMP_EQ")]),
        _rule("socket", args=[_arg(0, _AF_VSOCK, "SCMP_CMP_GT")]),
    ]
    rules += [_rule("personality", args=[_arg(0, p, "SCMP_CMP_EQ")]) for p in _PERSONAS]
    rules += [
        # Architecture-specific helpers.
        _rule("sync_file_range2 swapcontext", arches=["ppc64le"]),
        _rule("arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint "
              "cacheflush set_tls", arches=["arm", "arm64"]),
        _rule("arch_prctl", arches=["amd64", "x32"]),
        _rule("modify_ldt", arches=["amd64", "x32", "x86"]),
        _rule("s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr",
              arches=["s390", "s390x"]),
        _rule("riscv_flush_icache", arches=["riscv64"]),
        # Calls a capability governs: allowed only with that capability.
        _rule("open_by_handle_at", caps=["CAP_DAC_READ_SEARCH"]),
        _rule("bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick "
              "lookup_dcookie lsm_get_self_attr lsm_list_modules lsm_set_self_attr "
              "mount mount_setattr move_mount open_tree perf_event_open quotactl "
              "quotactl_fd setdomainname sethostname setns syslog umount umount2 "
              "unshare", caps=["CAP_SYS_ADMIN"]),
        _rule("clone", args=[_arg(0, _CLONE_NS_FLAGS, "SCMP_CMP_MASKED_EQ")],
              without_caps=["CAP_SYS_ADMIN"], without_arches=["s390", "s390x"]),
        _rule("clone", args=[_arg(1, _CLONE_NS_FLAGS, "SCMP_CMP_MASKED_EQ")],
              arches=["s390", "s390x"], without_caps=["CAP_SYS_ADMIN"],
              comment="s390 passes clone's flags as the second argument"),
        _rule("clone3", action="SCMP_ACT_ERRNO", errno=_ERRNO_ENOSYS,
              without_caps=["CAP_SYS_ADMIN"]),
        _rule("reboot", caps=["CAP_SYS_BOOT"]),
        _rule("chroot", caps=["CAP_SYS_CHROOT"]),
        _rule("delete_module init_module finit_module", caps=["CAP_SYS_MODULE"]),
        _rule("acct", caps=["CAP_SYS_PACCT"]),
        _rule("kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev "
              "ptrace", caps=["CAP_SYS_PTRACE"]),
        _rule("iopl ioperm", caps=["CAP_SYS_RAWIO"]),
        _rule("settimeofday stime clock_settime clock_settime64", caps=["CAP_SYS_TIME"]),
        _rule("vhangup", caps=["CAP_SYS_TTY_CONFIG"]),
        _rule("get_mempolicy mbind set_mempolicy set_mempolicy_home_node",
              caps=["CAP_SYS_NICE"]),
        _rule("syslog", caps=["CAP_SYSLOG"]),
        _rule("bpf", caps=["CAP_BPF"]),
        _rule("perf_event_open", caps=["CAP_PERFMON"]),
    ]
    arch_map = [
        {"architecture": "SCMP_ARCH_X86_64",
         "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
        {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
        {"architecture": "SCMP_ARCH_MIPS64",
         "subArchitectures": ["SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64N32"]},
        {"architecture": "SCMP_ARCH_MIPS64N32",
         "subArchitectures": ["SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64"]},
        {"architecture": "SCMP_ARCH_MIPSEL64",
         "subArchitectures": ["SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64N32"]},
        {"architecture": "SCMP_ARCH_MIPSEL64N32",
         "subArchitectures": ["SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64"]},
        {"architecture": "SCMP_ARCH_S390X", "subArchitectures": ["SCMP_ARCH_S390"]},
        {"architecture": "SCMP_ARCH_RISCV64", "subArchitectures": None},
        {"architecture": "SCMP_ARCH_LOONGARCH64", "subArchitectures": None},
    ]
    return {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": _ERRNO_EPERM,
            "archMap": arch_map, "syscalls": rules}


#: The profile; treat as read-only (``default_profile()`` gives a private copy).
DEFAULT_SECCOMP: dict = default_profile()
