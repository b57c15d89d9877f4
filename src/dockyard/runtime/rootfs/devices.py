"""/dev inside the container: device nodes, the ptmx and fd links, the console.

Done like runc when no mount is bind-mounting /dev from elsewhere: the default
devices (null, zero, full, random, urandom, tty; 0666, root-owned) plus
``linux.devices`` are created with mknod. In a user namespace, or when mknod is
refused (EPERM), the host's node is bind-mounted onto an empty file instead.
``/dev/ptmx`` becomes a link to ``pts/ptmx`` (the container's devpts instance),
``/dev/fd`` and the std streams link into /proc/self/fd, and ``/dev/console`` is
the bind-mounted pty slave the caller gives.
"""

from __future__ import annotations

import errno
import os
import stat

from dockyard.runtime import syscalls as sc
from dockyard.runtime.rootfs.paths import RootDir, fd_path
from dockyard.runtime.rootfs.spec import DeviceSpec

__all__ = ["DEFAULT_DEVICES", "create_device", "merge_devices", "mount_console",
           "setup_dev"]

DEFAULT_DEVICES: tuple[DeviceSpec, ...] = (
    DeviceSpec("/dev/null", "c", 1, 3),
    DeviceSpec("/dev/zero", "c", 1, 5),
    DeviceSpec("/dev/full", "c", 1, 7),
    DeviceSpec("/dev/random", "c", 1, 8),
    DeviceSpec("/dev/urandom", "c", 1, 9),
    DeviceSpec("/dev/tty", "c", 5, 0),
)

_LINKS = (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
          ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2"))

_TYPE_BITS = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}


def merge_devices(spec_devices: tuple[DeviceSpec, ...]) -> list[DeviceSpec]:
    """Defaults first, replaced by a spec entry for the same path."""
    by_path = {d.path: d for d in DEFAULT_DEVICES}
    for d in spec_devices:
        by_path[d.path] = d
    return list(by_path.values())


def _clear(dir_fd: int, name: str) -> None:
    """Remove a non-directory entry so a fresh node or link can take its place."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        raise OSError(errno.EISDIR, f"{name!r} is a directory")
    os.unlink(name, dir_fd=dir_fd)


def _bind_host_node(dir_fd: int, name: str, host_path: str) -> None:
    os.close(os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW |
                     os.O_CLOEXEC, 0o000, dir_fd=dir_fd))
    fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        sc.mount(host_path, fd_path(fd), None, sc.MS_BIND)
    finally:
        os.close(fd)


def create_device(root: RootDir, dev: DeviceSpec, *, bind: bool) -> None:
    """Make ``dev`` inside the root: mknod, or a bind of the host's node."""
    with root.parent(dev.path) as (dir_fd, name):
        try:
            _clear(dir_fd, name)
            if not bind or dev.type == "p":  # a fifo needs no privilege
                try:
                    os.mknod(name, _TYPE_BITS[dev.type] | dev.mode,
                             os.makedev(dev.major, dev.minor), dir_fd=dir_fd)
                except PermissionError:
                    bind = True
                else:
                    bind = False
            if bind:
                _bind_host_node(dir_fd, name, dev.path)
                return
            os.chown(name, dev.uid, dev.gid, dir_fd=dir_fd, follow_symlinks=False)
            os.chmod(name, dev.mode, dir_fd=dir_fd)  # mknod's mode went through umask
        except OSError as exc:
            how = "bind from host" if bind else "mknod"
            raise OSError(exc.errno, f"device {dev.path} ({dev.type} {dev.major}:{dev.minor},"
                                     f" {how}): {exc.strerror}") from exc


def _symlink(root: RootDir, path: str, target: str, *, replace: bool) -> None:
    with root.parent(path) as (dir_fd, name):
        if replace:
            _clear(dir_fd, name)
        try:
            os.symlink(target, name, dir_fd=dir_fd)
        except FileExistsError:
            pass


def mount_console(root: RootDir, console_path: str) -> None:
    """Bind the pty slave ``console_path`` (a host path) onto /dev/console."""
    with root.parent("/dev/console") as (dir_fd, name):
        try:
            _clear(dir_fd, name)
            _bind_host_node(dir_fd, name, console_path)
        except OSError as exc:
            raise OSError(exc.errno, f"/dev/console from {console_path!r}: "
                                     f"{exc.strerror}") from exc


def setup_dev(root: RootDir, devices: tuple[DeviceSpec, ...], *, in_userns: bool) -> None:
    """Nodes, then /dev/ptmx, then the /proc/self/fd links (runc's order)."""
    for dev in merge_devices(devices):
        create_device(root, dev, bind=in_userns)
    _symlink(root, "/dev/ptmx", "pts/ptmx", replace=True)
    for name, target in _LINKS:
        _symlink(root, f"/dev/{name}", target, replace=False)
    if os.path.exists("/proc/kcore"):
        _symlink(root, "/dev/core", "/proc/kcore", replace=False)
