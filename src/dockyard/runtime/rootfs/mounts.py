"""Performing ``mounts[]`` entries inside the rootfs (cgroup ones: :mod:`.cgroupfs`).

Every target is resolved inside the root by :class:`.paths.RootDir` and mounted
through ``/proc/self/fd/N``. Bind mounts take ro/nosuid/nodev/noexec/atime only
through a second ``MS_REMOUNT|MS_BIND`` call; in a user namespace the kernel
refuses to drop flags the source mount has locked, so those are kept and the
remount retried, as runc does. Propagation options are applied last, one call
each.
"""

from __future__ import annotations

import errno
import os
import stat

from dockyard.errors import InvalidArgument
from dockyard.runtime import syscalls as sc
from dockyard.runtime.rootfs._record import Record
from dockyard.runtime.rootfs.paths import RootDir, fd_path
from dockyard.runtime.rootfs.spec import BIND_REMOUNT_FLAGS, MountSpec

__all__ = ["MountContext", "mount_entry", "remount_bind", "statvfs_mount_flags"]

_PROPAGATION_MASK = sc.MS_SHARED | sc.MS_SLAVE | sc.MS_PRIVATE | sc.MS_UNBINDABLE


class MountContext(Record):
    """Facts about where we run that change how a mount is done."""

    __slots__ = (  # noqa: RUF023 (the positional order)
        "in_userns", "new_netns", "new_ipcns", "new_cgroupns")

    in_userns: bool          # a user namespace other than the initial one
    new_netns: bool          # the container has its own network namespace
    new_ipcns: bool
    new_cgroupns: bool


def statvfs_mount_flags(path: str) -> int:
    """The MS_* per-mount flags currently on ``path``'s mount."""
    f = os.statvfs(path).f_flag
    table = ((os.ST_RDONLY, sc.MS_RDONLY), (os.ST_NOSUID, sc.MS_NOSUID),
             (os.ST_NODEV, sc.MS_NODEV), (os.ST_NOEXEC, sc.MS_NOEXEC),
             (os.ST_NOATIME, sc.MS_NOATIME), (os.ST_NODIRATIME, sc.MS_NODIRATIME),
             (os.ST_RELATIME, sc.MS_RELATIME))
    return sum(ms for st_flag, ms in table if f & st_flag)


def remount_bind(target: str, flags: int) -> None:
    """Set per-mount flags on the bind mount at ``target``.

    On EPERM (a user namespace with flags locked by the source mount), keep the
    locked nosuid/nodev/noexec and, if none was asked for, the atime mode.
    """
    flags &= BIND_REMOUNT_FLAGS
    try:
        sc.mount(None, target, None, sc.MS_REMOUNT | sc.MS_BIND | flags)
        return
    except PermissionError:
        current = statvfs_mount_flags(target)
    keep = current & (sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC)
    atime = sc.MS_NOATIME | sc.MS_NODIRATIME | sc.MS_RELATIME | sc.MS_STRICTATIME
    if not flags & atime:
        keep |= current & atime
    sc.mount(None, target, None, sc.MS_REMOUNT | sc.MS_BIND | flags | keep)


def _propagate(root: RootDir, m: MountSpec) -> None:
    for flag in m.propagation:
        with root.target(m.destination) as t:
            sc.mount(None, t, None, flag)


def _bind(root: RootDir, m: MountSpec, source: str, recursive: bool, flags: int) -> None:
    try:
        st = os.stat(source)
    except OSError as exc:
        raise OSError(exc.errno, f"bind source {source!r}: {exc.strerror}") from None
    create = "dir" if stat.S_ISDIR(st.st_mode) else "file"
    with root.target(m.destination, create=create) as t:
        sc.mount(source, t, None, sc.MS_BIND | (sc.MS_REC if recursive else 0))
    if flags & BIND_REMOUNT_FLAGS:
        with root.target(m.destination) as t:
            remount_bind(t, flags)


def _mount_fs(root: RootDir, m: MountSpec) -> None:
    flags = m.flags & ~(_PROPAGATION_MASK | sc.MS_REC | sc.MS_BIND)
    if not m.copy_up:
        with root.target(m.destination, create="dir") as t:
            sc.mount(m.source, t, m.type, flags, m.data or None)
        return
    # tmpcopyup: keep a handle on what the tmpfs will cover, then copy it in.
    old_fd = root.open(m.destination, create="dir")
    try:
        old_dir = os.open(fd_path(old_fd), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    finally:
        os.close(old_fd)
    try:
        with root.target(m.destination) as t:
            sc.mount(m.source, t, m.type, flags & ~sc.MS_RDONLY, m.data or None)
        import shutil

        with root.target(m.destination) as t:
            shutil.copytree(fd_path(old_dir), t, symlinks=True, dirs_exist_ok=True)
            if flags & sc.MS_RDONLY:
                sc.mount(None, t, None, sc.MS_REMOUNT | flags, m.data or None)
    finally:
        os.close(old_dir)


def _userns_fallback_source(m: MountSpec) -> str | None:
    """Host path to bind when a user namespace may not mount this fs type itself."""
    return {"sysfs": "/sys", "mqueue": "/dev/mqueue"}.get(m.type)


def mount_entry(root: RootDir, m: MountSpec, ctx: MountContext) -> None:
    """Perform one mounts[] entry; errors name the entry and the kernel's reason."""
    try:
        if m.type == "cgroup":
            from dockyard.runtime.rootfs import cgroupfs

            cgroupfs.mount_cgroup(root, m, ctx)
        elif m.bind:
            _bind(root, m, os.path.abspath(m.source), m.recursive, m.flags)
        elif m.type == "sysfs" and ctx.in_userns and not ctx.new_netns:
            # sysfs may only be mounted by the owner of the network namespace:
            # show the host's /sys read-only instead (runc does the same).
            _bind(root, m, "/sys", True, m.flags | sc.MS_RDONLY)
        else:
            try:
                _mount_fs(root, m)
            except OSError as exc:
                if exc.errno == errno.EINVAL and ctx.in_userns and m.type == "devpts" \
                        and "gid=" in m.data:
                    # gid=5 (tty) is often unmapped in a user namespace; the kernel
                    # then refuses the option, so mount without it (as crun does).
                    data = ",".join(o for o in m.data.split(",") if not o.startswith("gid="))
                    _mount_fs(root, m.replace(data=data))  # type: ignore[arg-type]
                elif not isinstance(exc, PermissionError):
                    raise
                else:
                    fallback = _userns_fallback_source(m)
                    if not (ctx.in_userns and fallback):
                        raise
                    _bind(root, m, fallback, True, m.flags)
        _propagate(root, m)
    except InvalidArgument:
        raise
    except OSError as exc:
        if exc.errno == errno.ENODEV and not m.bind:
            raise InvalidArgument(f"{m.label}: unknown filesystem type {m.type!r}") from exc
        raise OSError(exc.errno, f"{m.label}, source {m.source!r}: {exc.strerror}") from exc
