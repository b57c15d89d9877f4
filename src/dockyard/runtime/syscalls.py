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


# --- additions from img-layers ---
CLONE_FS = 0x00000200  # unshare(CLONE_FS): a thread gets its own cwd (relative overlay mounts)
