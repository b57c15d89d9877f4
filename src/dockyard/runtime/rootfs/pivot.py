"""Making the rootfs the container's ``/``.

``pivot_root(".", ".")`` (the trick runc and lxc use): with the new root as cwd,
the old root is stacked on top of it, so no put_old directory is needed inside
the image. The old root is then made rslave (so unmounting it cannot propagate
to the host) and detached. With ``no_pivot`` (e.g. a rootfs on the initramfs,
where pivot_root is refused) the rootfs is MS_MOVEd onto ``/`` and chrooted into.
"""

from __future__ import annotations

import os

from dockyard.runtime import syscalls as sc

__all__ = ["move_root", "pivot_root"]


def pivot_root(rootfs: str) -> None:
    old_root = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    try:
        new_root = os.open(rootfs, os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fchdir(new_root)
            sc.pivot_root(".", ".")
        finally:
            os.close(new_root)
        os.fchdir(old_root)  # we are now on the old root, stacked above the new one
        sc.mount(None, ".", None, sc.MS_SLAVE | sc.MS_REC)
        sc.umount2(".", sc.MNT_DETACH)
    finally:
        os.close(old_root)
    os.chdir("/")


def move_root(rootfs: str) -> None:
    os.chdir(rootfs)
    sc.mount(".", "/", None, sc.MS_MOVE)  # "." : rootfs may be relative to the old cwd
    os.chroot(".")
    os.chdir("/")
