"""The ``cgroup`` mount type: show the container its own cgroups.

cgroup v1 (and the hybrid layout of this project's CI host): a tmpfs at the
destination, then one directory per v1 hierarchy the host mounts under
``/sys/fs/cgroup`` (a hybrid host's cgroup2 ``unified`` is left out, as runc
does). Each is either a real cgroup mount of the same controllers (when the
container has a cgroup namespace, whose root is the container's cgroup) or a
bind mount of the container's own cgroup directory, found by matching
``/proc/self/cgroup`` against the host's mounts. Co-mounted controllers get the
symlinks (``cpu -> cpu,cpuacct``) programs expect. cgroup v2: a ``cgroup2`` mount
in a cgroup namespace, else a bind of the container's own cgroup directory.
"""

from __future__ import annotations

import os
import posixpath

from dockyard.runtime import syscalls as sc
from dockyard.runtime.rootfs._record import Record
from dockyard.runtime.rootfs.mountinfo import (
    MountInfo,
    cgroup_subsystems,
    own_cgroups,
    read_mountinfo,
)
from dockyard.runtime.rootfs.mounts import MountContext, remount_bind
from dockyard.runtime.rootfs.paths import RootDir
from dockyard.runtime.rootfs.spec import BIND_REMOUNT_FLAGS, MountSpec

__all__ = ["CgroupMountPlan", "host_hierarchies", "mount_cgroup", "plan_v1"]

CGROUP_ROOT = "/sys/fs/cgroup"
_TMPFS_FLAGS = sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC


def host_hierarchies(mounts: list[MountInfo]) -> tuple[MountInfo | None, list[MountInfo]]:
    """(the v2 mount at /sys/fs/cgroup if unified, the mounts one level below it)."""
    unified = None
    below: dict[str, MountInfo] = {}
    for m in mounts:
        if m.fstype not in ("cgroup", "cgroup2"):
            continue
        if m.mountpoint == CGROUP_ROOT and m.fstype == "cgroup2":
            unified = m
        elif posixpath.dirname(m.mountpoint) == CGROUP_ROOT:
            below[m.mountpoint] = m          # stacked mounts: the last one is on top
    return unified, list(below.values())


def _controllers(m: MountInfo, known: set[str]) -> list[str]:
    return [o for o in m.super_options if o in known or o.startswith("name=")]


class CgroupMountPlan(Record):
    """For one host hierarchy: where it goes in the container and from what."""

    __slots__ = (  # noqa: RUF023 (the positional order)
        "name", "fstype", "data", "bind_source")

    name: str               # directory under the destination ("" for v2 at the top)
    fstype: str             # cgroup or cgroup2
    data: str | None        # controllers, for a real mount in a cgroup namespace
    bind_source: str        # the container's own cgroup directory on the host


def _own_path(m: MountInfo, controllers: list[str], own: dict[str, str]) -> str:
    if m.fstype == "cgroup2":
        path = own.get("", "/")
    else:
        wanted = set(controllers)
        path = next((p for key, p in own.items() if key and set(key.split(",")) == wanted),
                    m.root)
    rel = posixpath.relpath(path, m.root)
    if rel.startswith(".."):
        rel = "."  # our cgroup is outside what the host mounted: show its root
    return posixpath.normpath(posixpath.join(m.mountpoint, rel))


def plan_v1(mounts: list[MountInfo], own: dict[str, str],
            known: set[str]) -> list[CgroupMountPlan]:
    _, below = host_hierarchies(mounts)
    plans = []
    for m in below:
        if m.fstype != "cgroup":
            continue  # hybrid host's cgroup2 (e.g. "unified"): runc leaves it out too
        controllers = _controllers(m, known)
        data = ",".join(controllers) if m.fstype == "cgroup" else None
        plans.append(CgroupMountPlan(posixpath.basename(m.mountpoint), m.fstype, data,
                                     _own_path(m, controllers, own)))
    return plans


def _mount_one(root: RootDir, dest: str, plan: CgroupMountPlan, m: MountSpec,
               ctx: MountContext) -> None:
    flags = m.flags & BIND_REMOUNT_FLAGS
    if ctx.new_cgroupns:
        try:
            with root.target(dest, create="dir") as t:
                sc.mount("cgroup", t, plan.fstype, flags, plan.data)
            return
        except PermissionError:
            if not ctx.in_userns:
                raise
    with root.target(dest, create="dir") as t:
        sc.mount(plan.bind_source, t, None, sc.MS_BIND | sc.MS_REC)
    if flags:
        with root.target(dest) as t:
            remount_bind(t, flags)


def mount_cgroup(root: RootDir, m: MountSpec, ctx: MountContext) -> None:
    mounts = read_mountinfo()
    unified, _ = host_hierarchies(mounts)
    own = own_cgroups()
    if unified is not None:
        plan = CgroupMountPlan("", "cgroup2", None, _own_path(unified, [], own))
        _mount_one(root, m.destination, plan, m, ctx)
        return
    with root.target(m.destination, create="dir") as t:
        sc.mount("tmpfs", t, "tmpfs", _TMPFS_FLAGS, "mode=755")
    for plan in plan_v1(mounts, own, cgroup_subsystems()):
        _mount_one(root, f"{m.destination}/{plan.name}", plan, m, ctx)
        if "," in plan.name:
            for alias in plan.name.split(","):
                with root.parent(f"{m.destination}/{alias}") as (dir_fd, name):
                    try:
                        os.symlink(plan.name, name, dir_fd=dir_fd)
                    except FileExistsError:
                        pass
    # The tmpfs itself stays writable even for an "ro" mount, as under runc 1.1:
    # only the hierarchies below it are read-only.
