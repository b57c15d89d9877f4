"""The container's root filesystem (runtime-spec ``root``, ``mounts``, linux /dev,
propagation, masked and read-only paths, sysctl).

Public face: :func:`setup` (called by the container's init, in its new mount
namespace), :func:`validate` (the same checks, early, in the parent),
:func:`resolve_in_root` (a path inside a rootfs, symlinks resolved as if it were
``/``) and :func:`unmount_rootfs` (at delete, for a container that had no mount
namespace of its own and so left its mounts in the caller's).

Module map: ``spec`` (parse + check), ``paths`` (safe resolution),
``mounts``/``cgroupfs`` (mounts[]), ``devices`` (/dev), ``pivot``,
``paths_masking``, ``sysctl``, ``prepare`` (the order of it all).
"""

from __future__ import annotations

from dockyard.runtime.rootfs.paths import resolve_in_root
from dockyard.runtime.rootfs.prepare import setup, unmount_rootfs

__all__ = ["resolve_in_root", "setup", "unmount_rootfs", "validate"]


def validate(spec: dict) -> None:
    """Raise InvalidArgument for what :func:`setup` would refuse, without touching
    anything (mount options, destinations, devices, rootfsPropagation, sysctl).

    Call it in the parent: it also imports the modules this spec's setup() needs
    (cgroupfs for a cgroup mount, shutil for tmpcopyup), which the container's
    init may no longer be able to import."""
    from dockyard.runtime.rootfs.prepare import preload
    from dockyard.runtime.rootfs.spec import parse

    preload(parse(spec))  # and import what setup() will need, while imports work
