"""``linux.maskedPaths`` and ``linux.readonlyPaths``, applied after pivot_root.

Masking hides kernel interfaces (/proc/kcore, /sys/firmware, ...): a file gets
/dev/null bound over it, a directory a read-only empty tmpfs. Read-only paths are
bound onto themselves and remounted read-only, keeping the nosuid/nodev/noexec the
mount already had (runc's behaviour; /proc/sys stays nosuid,nodev,noexec).
Paths that do not exist in this container are skipped.
"""

from __future__ import annotations

import os
import stat

from dockyard.runtime import syscalls as sc
from dockyard.runtime.rootfs.mounts import remount_bind, statvfs_mount_flags

__all__ = ["mask_paths", "readonly_paths"]


def mask_paths(paths: tuple[str, ...] | list[str]) -> None:
    if paths and not os.path.exists("/dev/null"):
        # runc would silently leave everything unmasked here; say why instead.
        raise OSError(2, "maskedPaths: the container has no /dev/null to mask files with")
    for path in paths:
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            continue
        try:
            if stat.S_ISDIR(st.st_mode):
                sc.mount("tmpfs", path, "tmpfs", sc.MS_RDONLY, None)
            else:
                sc.mount("/dev/null", path, None, sc.MS_BIND)
        except OSError as exc:
            raise OSError(exc.errno, f"maskedPaths {path}: {exc.strerror}") from exc


def readonly_paths(paths: tuple[str, ...] | list[str]) -> None:
    for path in paths:
        try:
            sc.mount(path, path, None, sc.MS_BIND | sc.MS_REC)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as exc:
            raise OSError(exc.errno, f"readonlyPaths {path}: {exc.strerror}") from exc
        try:
            keep = statvfs_mount_flags(path) & (sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC)
            remount_bind(path, sc.MS_RDONLY | keep)
        except OSError as exc:
            raise OSError(exc.errno, f"readonlyPaths {path}: {exc.strerror}") from exc


def readonly_root() -> None:
    """``root.readonly``: the container's / becomes read-only (its submounts stay)."""
    try:
        remount_bind("/", sc.MS_RDONLY | (statvfs_mount_flags("/") &
                                          (sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC)))
    except OSError as exc:
        raise OSError(exc.errno, f"root.readonly: remount / read-only: {exc.strerror}") \
            from exc
