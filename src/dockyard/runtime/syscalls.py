"""Every raw Linux call the runtime makes that the stdlib ``os`` module lacks.

This is the only module in dockyard that imports :mod:`ctypes` for kernel calls
(style rule 8): the namespace, mount, capability and prctl logic elsewhere calls
these functions, so a recording fake can stand in for them in unit tests.

Each wrapper raises :class:`OSError` with the real errno and a message that
names the call and its main argument, so an error reads like
``mount('proc' -> '/x/proc'): [Errno 1] Operation not permitted``.
"""

from __future__ import annotations

import ctypes
import os

_libc = ctypes.CDLL(None, use_errno=True)

# --- clone / unshare / setns flags -------------------------------------------------
CLONE_NEWTIME = 0x00000080
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

# --- mount flags ---------------------------------------------------------------------
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_SYNCHRONOUS = 16
MS_REMOUNT = 32
MS_MANDLOCK = 64
MS_DIRSYNC = 128
MS_NOSYMFOLLOW = 256
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_SILENT = 32768
MS_POSIXACL = 1 << 16
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_I_VERSION = 1 << 23
MS_STRICTATIME = 1 << 24
MS_LAZYTIME = 1 << 25

MNT_FORCE = 1
MNT_DETACH = 2
MNT_EXPIRE = 4
UMOUNT_NOFOLLOW = 8

# --- prctl ---------------------------------------------------------------------------
PR_SET_PDEATHSIG = 1
PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_SET_NAME = 15
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_SECUREBITS = 28
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4

# --- openat2 -------------------------------------------------------------------------
SYS_openat2 = 437  # x86_64 and aarch64 share this number (new syscalls are unified)
RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10

_SYS_pivot_root = {"x86_64": 155, "aarch64": 41}
_SYS_capget = {"x86_64": 125, "aarch64": 90}
_SYS_capset = {"x86_64": 126, "aarch64": 91}
_SYS_setns = {"x86_64": 308, "aarch64": 268}
_SYS_pidfd_open = 434
_SYS_pidfd_send_signal = 424

_MACHINE = os.uname().machine


def _check(result: int, what: str) -> int:
    if result == -1:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def _syscall_number(table: dict[str, int], name: str) -> int:
    try:
        return table[_MACHINE]
    except KeyError:
        raise OSError(38, f"{name}: no syscall number known for {_MACHINE}") from None


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0,
          data: str | None = None) -> None:
    """mount(2). ``data`` is the filesystem's option string (``mode=755,size=64k``)."""
    _check(
        _libc.mount(
            source.encode() if source is not None else None,
            target.encode(),
            fstype.encode() if fstype is not None else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount({source!r} -> {target!r}, type={fstype!r})",
    )


def umount2(target: str, flags: int = 0) -> None:
    _check(_libc.umount2(target.encode(), flags), f"umount2({target!r})")


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), f"unshare({flags:#x})")


def setns(fd: int, nstype: int = 0) -> None:
    """Join the namespace behind ``fd`` (an open /proc/PID/ns/* or bind-mounted file)."""
    nr = _syscall_number(_SYS_setns, "setns")
    _check(_libc.syscall(nr, fd, nstype), f"setns(fd={fd}, type={nstype:#x})")


def pivot_root(new_root: str, put_old: str) -> None:
    nr = _syscall_number(_SYS_pivot_root, "pivot_root")
    _check(_libc.syscall(nr, new_root.encode(), put_old.encode()),
           f"pivot_root({new_root!r}, {put_old!r})")


def sethostname(name: str) -> None:
    raw = name.encode()
    _check(_libc.sethostname(raw, len(raw)), f"sethostname({name!r})")


def setdomainname(name: str) -> None:
    raw = name.encode()
    _check(_libc.setdomainname(raw, len(raw)), f"setdomainname({name!r})")


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    return _check(
        _libc.prctl(option, ctypes.c_ulong(arg2), ctypes.c_ulong(arg3),
                    ctypes.c_ulong(arg4), ctypes.c_ulong(arg5)),
        f"prctl({option})",
    )


def set_process_name(name: str) -> None:
    """Name this process (what ``ps -o comm`` shows), e.g. ``dockyard:[init]``."""
    buf = ctypes.create_string_buffer(name.encode()[:15])
    _libc.prctl(PR_SET_NAME, buf, 0, 0, 0)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


_LINUX_CAPABILITY_VERSION_3 = 0x20080522


def capget(pid: int = 0) -> tuple[int, int, int]:
    """Return (effective, permitted, inheritable) as 64-bit masks."""
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, pid)
    data = (_CapData * 2)()
    nr = _syscall_number(_SYS_capget, "capget")
    _check(_libc.syscall(nr, ctypes.byref(header), ctypes.byref(data)), "capget")
    join = lambda lo, hi: lo | (hi << 32)  # noqa: E731
    return (join(data[0].effective, data[1].effective),
            join(data[0].permitted, data[1].permitted),
            join(data[0].inheritable, data[1].inheritable))


def capset(effective: int, permitted: int, inheritable: int) -> None:
    """Set this thread's capability sets from 64-bit masks."""
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    for i, shift in enumerate((0, 32)):
        data[i].effective = (effective >> shift) & 0xFFFFFFFF
        data[i].permitted = (permitted >> shift) & 0xFFFFFFFF
        data[i].inheritable = (inheritable >> shift) & 0xFFFFFFFF
    nr = _syscall_number(_SYS_capset, "capset")
    _check(_libc.syscall(nr, ctypes.byref(header), ctypes.byref(data)), "capset")


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64),
                ("resolve", ctypes.c_uint64)]


def openat2(dirfd: int, path: str, flags: int, mode: int = 0, resolve: int = 0) -> int:
    """openat2(2); raises OSError(ENOSYS) on kernels older than 5.6."""
    how = _OpenHow(flags | os.O_CLOEXEC, mode, resolve)
    return _check(
        _libc.syscall(SYS_openat2, dirfd, path.encode(), ctypes.byref(how),
                      ctypes.sizeof(how)),
        f"openat2({path!r})",
    )


def pidfd_open(pid: int) -> int:
    return _check(_libc.syscall(_SYS_pidfd_open, pid, 0), f"pidfd_open({pid})")


def pidfd_send_signal(pidfd: int, sig: int) -> None:
    _check(_libc.syscall(_SYS_pidfd_send_signal, pidfd, sig, None, 0),
           f"pidfd_send_signal({sig})")


# --- additions from rt-security ---
PR_CAP_AMBIENT_IS_SET = 1
PR_CAP_AMBIENT_LOWER = 3
PR_GET_KEEPCAPS = 7


class _FindLibraryOnly:
    """Stands in for ``ctypes.util`` while pyseccomp is imported (see below)."""

    SONAMES = {"c": "libc.so.6", "seccomp": "libseccomp.so.2"}

    @classmethod
    def find_library(cls, name: str) -> str | None:
        return cls.SONAMES.get(name)


def import_pyseccomp():  # -> module pyseccomp
    """Import the libseccomp binding without its import-time cost.

    pyseccomp calls ``ctypes.util.find_library`` twice at import; the real one
    imports shutil/subprocess and runs ``ldconfig -p`` (about 25 ms each
    container start, a big share of the runtime's budget). The sonames are
    stable ABI names: when both load directly, answer with them; otherwise
    import normally and let the real lookup search.
    """
    import sys

    mod = sys.modules.get("pyseccomp")
    if mod is not None:
        return mod
    try:
        for soname in _FindLibraryOnly.SONAMES.values():
            ctypes.CDLL(soname)
        fast = "ctypes.util" not in sys.modules
    except OSError:
        fast = False
    if fast:
        sys.modules["ctypes.util"] = _FindLibraryOnly  # type: ignore[assignment]
        ctypes.util = _FindLibraryOnly  # type: ignore[attr-defined]
    try:
        import pyseccomp
    finally:
        if fast:
            sys.modules.pop("ctypes.util", None)
            try:
                del ctypes.util  # type: ignore[attr-defined]
            except AttributeError:
                pass
    return pyseccomp


SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_TSYNC = 1
SECCOMP_FILTER_FLAG_LOG = 2
SECCOMP_FILTER_FLAG_SPEC_ALLOW = 4
_SYS_seccomp = {"x86_64": 317, "aarch64": 277}


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def seccomp_set_mode_filter(flags: int, program: bytes) -> int:
    """seccomp(SECCOMP_SET_MODE_FILTER, flags, prog): install a classic-BPF program.

    ``program`` is the raw ``struct sock_filter`` array (8 bytes per instruction,
    host byte order), as libseccomp's ``seccomp_export_bpf`` writes it.
    """
    if len(program) % 8 or not program:
        raise OSError(22, "seccomp: program is not a whole number of BPF instructions")
    buf = ctypes.create_string_buffer(program, len(program))
    prog = _SockFprog(len(program) // 8, ctypes.cast(buf, ctypes.c_void_p))
    nr = _syscall_number(_SYS_seccomp, "seccomp")
    return _check(_libc.syscall(nr, SECCOMP_SET_MODE_FILTER, ctypes.c_uint(flags),
                                ctypes.byref(prog)),
                  f"seccomp(SET_MODE_FILTER, flags={flags:#x})")


# --- additions from rt-core ---
_SYS_pidfd_getfd = 438


def pidfd_getfd(pidfd: int, target_fd: int) -> int:
    """Duplicate descriptor ``target_fd`` of the process behind ``pidfd`` into ours."""
    return _check(_libc.syscall(_SYS_pidfd_getfd, pidfd, target_fd, 0),
                  f"pidfd_getfd({target_fd})")


# --- additions from rt-cgroups ---
# bpf(2), for the cgroup v2 device controller (runtime/cgroups/devices_bpf.py builds
# the program; these wrappers only load, attach, query and detach it).
_SYS_bpf = {"x86_64": 321, "aarch64": 280}

BPF_PROG_LOAD = 5
BPF_PROG_ATTACH = 8
BPF_PROG_DETACH = 9
BPF_PROG_GET_FD_BY_ID = 13
BPF_PROG_QUERY = 16
BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6
BPF_F_ALLOW_MULTI = 2


class _BpfProgLoadAttr(ctypes.Structure):
    _fields_ = [("prog_type", ctypes.c_uint32), ("insn_cnt", ctypes.c_uint32),
                ("insns", ctypes.c_uint64), ("license", ctypes.c_uint64),
                ("log_level", ctypes.c_uint32), ("log_size", ctypes.c_uint32),
                ("log_buf", ctypes.c_uint64), ("kern_version", ctypes.c_uint32),
                ("prog_flags", ctypes.c_uint32), ("prog_name", ctypes.c_char * 16),
                ("prog_ifindex", ctypes.c_uint32), ("expected_attach_type", ctypes.c_uint32)]


class _BpfAttachAttr(ctypes.Structure):
    _fields_ = [("target_fd", ctypes.c_uint32), ("attach_bpf_fd", ctypes.c_uint32),
                ("attach_type", ctypes.c_uint32), ("attach_flags", ctypes.c_uint32),
                ("replace_bpf_fd", ctypes.c_uint32)]


class _BpfQueryAttr(ctypes.Structure):
    _fields_ = [("target_fd", ctypes.c_uint32), ("attach_type", ctypes.c_uint32),
                ("query_flags", ctypes.c_uint32), ("attach_flags", ctypes.c_uint32),
                ("prog_ids", ctypes.c_uint64), ("prog_cnt", ctypes.c_uint32),
                ("_pad", ctypes.c_uint32)]


class _BpfGetIdAttr(ctypes.Structure):
    _fields_ = [("id", ctypes.c_uint32), ("next_id", ctypes.c_uint32),
                ("open_flags", ctypes.c_uint32)]


def _bpf(cmd: int, attr: ctypes.Structure, what: str) -> int:
    nr = _syscall_number(_SYS_bpf, "bpf")
    ctypes.set_errno(0)
    return _check(_libc.syscall(ctypes.c_long(nr), ctypes.c_int(cmd), ctypes.byref(attr),
                                ctypes.c_uint(ctypes.sizeof(attr))), what)


def bpf_prog_load(prog_type: int, insns: bytes, license_: str = "Apache",
                  expected_attach_type: int = 0, name: str = "") -> int:
    """Load a program (``insns`` = raw 8-byte instructions); returns its fd.

    On a verifier rejection the kernel's log is put into the OSError message, so a
    bad program says why.
    """
    if len(insns) % 8:
        raise ValueError("bpf program length must be a multiple of 8 bytes")
    code = ctypes.create_string_buffer(insns, len(insns))
    lic = ctypes.create_string_buffer(license_.encode())
    log = ctypes.create_string_buffer(65536)
    attr = _BpfProgLoadAttr(prog_type=prog_type, insn_cnt=len(insns) // 8,
                            insns=ctypes.addressof(code), license=ctypes.addressof(lic),
                            log_level=0, log_size=0, log_buf=0,
                            prog_name=name.encode()[:15],
                            expected_attach_type=expected_attach_type)
    try:
        return _bpf(BPF_PROG_LOAD, attr, "bpf(PROG_LOAD)")
    except OSError as first:
        if first.errno != 22:  # EINVAL: load again with the verifier log switched on
            raise
        attr.log_level, attr.log_size = 1, len(log)
        attr.log_buf = ctypes.addressof(log)
        try:
            return _bpf(BPF_PROG_LOAD, attr, "bpf(PROG_LOAD)")
        except OSError as err:
            text = log.value.decode(errors="replace").strip()
            raise OSError(err.errno, f"bpf(PROG_LOAD): {os.strerror(err.errno)}: "
                                     f"{text[-2000:]}") from None


def bpf_prog_attach(target_fd: int, prog_fd: int, attach_type: int, flags: int = 0) -> None:
    attr = _BpfAttachAttr(target_fd=target_fd, attach_bpf_fd=prog_fd,
                          attach_type=attach_type, attach_flags=flags)
    _bpf(BPF_PROG_ATTACH, attr, "bpf(PROG_ATTACH)")


def bpf_prog_detach(target_fd: int, prog_fd: int, attach_type: int) -> None:
    attr = _BpfAttachAttr(target_fd=target_fd, attach_bpf_fd=prog_fd, attach_type=attach_type)
    _bpf(BPF_PROG_DETACH, attr, "bpf(PROG_DETACH)")


def bpf_prog_query(target_fd: int, attach_type: int, max_progs: int = 64) -> list[int]:
    """Ids of the programs attached to ``target_fd`` for ``attach_type``."""
    ids = (ctypes.c_uint32 * max_progs)()
    attr = _BpfQueryAttr(target_fd=target_fd, attach_type=attach_type,
                         prog_ids=ctypes.addressof(ids), prog_cnt=max_progs)
    _bpf(BPF_PROG_QUERY, attr, "bpf(PROG_QUERY)")
    return [ids[i] for i in range(min(attr.prog_cnt, max_progs))]


def bpf_prog_get_fd_by_id(prog_id: int) -> int:
    attr = _BpfGetIdAttr(id=prog_id)
    return _bpf(BPF_PROG_GET_FD_BY_ID, attr, f"bpf(PROG_GET_FD_BY_ID {prog_id})")
# --- additions from img-layers ---
CLONE_FS = 0x00000200  # unshare(CLONE_FS): a thread gets its own cwd (relative overlay mounts)


# --- additions from shim ---
# The shim (dockyard.shim.monitor) is forked from a warm zygote and counts every
# page it writes (copy-on-write): ``syscalls.prctl`` builds four c_ulong objects per
# call. ``prctl_plain`` has its argument types declared once, so a call converts
# plain ints without creating ctypes objects.
prctl_plain = _libc["prctl"]
prctl_plain.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                        ctypes.c_ulong)
prctl_plain.restype = ctypes.c_int
