"""The ``mounts`` of a container's config.json, in dockerd's order and with its options.

Order and rules (daemon/oci_linux.go WithMounts, read for behaviour):

1. Docker's default kernel filesystems (/proc, /dev, /dev/pts, /sys, /sys/fs/cgroup,
   /dev/mqueue, /dev/shm), then the ``--init`` binary. A default is dropped when a user
   mount has the same destination, everything under /dev goes when /dev itself is
   user-mounted, and /dev/shm goes with ``--ipc none``; its size comes from ShmSize.
2. The user's mounts (binds, volumes, tmpfs, the shared /dev/shm of a shareable or
   joined IPC namespace, and the network files /etc/resolv.conf, /etc/hostname,
   /etc/hosts unless the user mounts those), sorted by path depth (stable), so a
   parent is mounted before its children.
3. ``ReadonlyRootfs`` adds ``ro`` to the defaults except /proc, /dev, /dev/pts,
   /dev/shm, /dev/mqueue. ``--privileged`` makes /sys and the cgroup mount writable.

tmpfs options are merged like moby/sys/mount's MergeTmpfsOptions: later options win,
one flag per kernel flag bit (``ro``/``rw`` collide, ``exec``/``noexec`` collide), one
propagation mode, and data options only from a known list.
"""

from __future__ import annotations

import os
import posixpath
from typing import Protocol

from dockyard.errors import InvalidArgument

__all__ = [
    "INIT_PATH_IN_CONTAINER",
    "SHM_DIR",
    "MountLike",
    "build_mounts",
    "default_mounts",
    "merge_tmpfs_options",
    "parse_tmpfs_data",
    "shareable_shm",
]

INIT_PATH_IN_CONTAINER = "/sbin/docker-init"
#: where dockerd mounts a shareable container's /dev/shm: <data_root>/containers/<id>/SHM_DIR
SHM_DIR = "mounts/shm"
NETWORK_FILES = ("/etc/resolv.conf", "/etc/hostname", "/etc/hosts")
_NO_RO_ON_READONLY_ROOT = frozenset({"/proc", "/dev/pts", "/dev/shm", "/dev/mqueue", "/dev"})
_PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")


class MountLike(Protocol):
    """What spec building needs of engine/mounts.py's MountPlan (the volfs contract)."""

    type: str           # bind | volume | tmpfs
    source: str         # host path; "" for tmpfs
    destination: str
    read_only: bool
    propagation: str    # "" or one of private/rprivate/shared/rshared/slave/rslave
    options: tuple[str, ...]   # bind: ("rbind",) or ("bind",); tmpfs: data options
    #                            such as size=64m, mode=1777 (``hidden`` plans, the
    #                            --tmpfs ones, may carry an attribute hidden=True)


def shareable_shm(host_config: dict) -> tuple[str, int, str] | None:
    """What the engine mounts for ``--ipc shareable`` (and the default ``""`` of old
    containers) before start, as dockerd does: (fstype, MS_* flags, data) of a tmpfs
    at ``<data_root>/containers/<id>/mounts/shm``, then passed as SpecInputs.shm_path
    (and to containers joining its IPC namespace). None for other IPC modes."""
    if (host_config.get("IpcMode") or "") not in ("shareable", ""):
        return None
    size = int(host_config.get("ShmSize") or 64 * 1024 * 1024)
    ms_nosuid, ms_nodev, ms_noexec = 0x2, 0x4, 0x8
    return "tmpfs", ms_nosuid | ms_nodev | ms_noexec, f"mode=1777,size={size}"


def default_mounts() -> list[dict]:
    """Docker's default kernel filesystems, before ShmSize / user mounts are applied."""
    return [
        {"destination": "/proc", "type": "proc", "source": "proc",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620",
                     "gid=5"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["ro", "nosuid", "noexec", "nodev"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777"]},
    ]


# Flag options: name -> the kernel flag they set or clear (the collision key).
_FLAG_KEYS = {
    "ro": "rdonly", "rw": "rdonly", "suid": "nosuid", "nosuid": "nosuid",
    "dev": "nodev", "nodev": "nodev", "exec": "noexec", "noexec": "noexec",
    "sync": "sync", "async": "sync", "dirsync": "dirsync", "remount": "remount",
    "mand": "mand", "nomand": "mand", "atime": "noatime", "noatime": "noatime",
    "diratime": "nodiratime", "nodiratime": "nodiratime", "relatime": "relatime",
    "norelatime": "relatime", "strictatime": "strictatime",
    "nostrictatime": "strictatime",
    # propagation and bind modes share one key: a mount has one of them
    "bind": "propagation", "rbind": "propagation", "unbindable": "propagation",
    "runbindable": "propagation", "private": "propagation", "rprivate": "propagation",
    "shared": "propagation", "rshared": "propagation", "slave": "propagation",
    "rslave": "propagation",
}
_DATA_KEYS = frozenset({"", "size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol"})


def merge_tmpfs_options(options: list[str]) -> list[str]:
    """Deduplicate tmpfs options, the last one of each kind winning, order kept."""
    seen_flags: set[str] = set()
    seen_data: set[str] = set()
    merged: list[str] = []
    for option in reversed(options):
        if option == "defaults":
            continue
        key = _FLAG_KEYS.get(option)
        if key is not None:
            if key not in seen_flags:
                seen_flags.add(key)
                merged.append(option)
            continue
        name, sep, _ = option.partition("=")
        if not sep or name not in _DATA_KEYS:
            raise InvalidArgument(f'Invalid tmpfs option ["{option}"]')
        if name not in seen_data:
            seen_data.add(name)
            merged.append(option)
    merged.reverse()
    return merged


def parse_tmpfs_data(data: str) -> list[str]:
    """The spec options for a ``--tmpfs DEST:DATA`` entry (docker's defaults first)."""
    options = ["noexec", "nosuid", "nodev", "rprivate"]
    if data:
        options.extend(data.split(","))
    return merge_tmpfs_options(options)


def _depth(destination: str) -> int:
    return len(posixpath.normpath(destination).split("/"))


def _plan_to_oci(plan: MountLike) -> dict:
    if plan.type == "tmpfs":
        data = list(plan.options)
        if plan.read_only:
            data.insert(0, "ro")
        return {"destination": plan.destination, "type": "tmpfs", "source": "tmpfs",
                "options": parse_tmpfs_data(",".join(data))}
    # a non-recursive bind (BindOptions.NonRecursive) says so in its options
    options = ["bind" if "bind" in plan.options else "rbind"]
    if plan.read_only:
        options.append("ro")
    if plan.propagation:
        if plan.propagation not in _PROPAGATIONS:
            raise InvalidArgument(f"invalid propagation mode: {plan.propagation}")
        options.append(plan.propagation)
    return {"destination": plan.destination, "type": "bind", "source": plan.source,
            "options": options}


def _user_mounts(plans: list[MountLike], tmpfs: dict[str, str], files: dict[str, str],
                 shm_path: str | None, readonly_root: bool) -> list[dict]:
    # dockerd's order before the depth sort: binds and volumes, the network files,
    # the IPC /dev/shm, then tmpfs mounts (--tmpfs first, then tmpfs-type mounts).
    mounts = [_plan_to_oci(p) for p in plans if p.type != "tmpfs"]
    # --tmpfs entries are built from HostConfig.Tmpfs itself (its option text, exactly
    # as dockerd merges it); volfs's hidden plans for them are skipped.
    flag_dests = {posixpath.normpath(d) for d in tmpfs or {}}
    tmpfs_plans = [_plan_to_oci(p) for p in plans if p.type == "tmpfs" and not (
        getattr(p, "hidden", False) and posixpath.normpath(p.destination) in flag_dests)]
    taken = {m["destination"] for m in mounts + tmpfs_plans}
    for dest in NETWORK_FILES:
        if files.get(dest) and dest not in taken:
            # read-only with a read-only rootfs, as dockerd's NetworkMounts
            options = ["rbind", "ro", "rprivate"] if readonly_root else ["rbind", "rprivate"]
            mounts.append({"destination": dest, "type": "bind", "source": files[dest],
                           "options": options})
            taken.add(dest)
    if shm_path and "/dev/shm" not in taken:
        mounts.append({"destination": "/dev/shm", "type": "bind", "source": shm_path,
                       "options": ["rbind", "rprivate"]})
        taken.add("/dev/shm")
    for dest, data in sorted((tmpfs or {}).items()):
        dest = posixpath.normpath(dest)
        if dest not in taken:
            mounts.append({"destination": dest, "type": "tmpfs", "source": "tmpfs",
                           "options": parse_tmpfs_data(data or "")})
            taken.add(dest)
    mounts.extend(tmpfs_plans)
    mounts.sort(key=lambda m: _depth(m["destination"]))
    return mounts


def build_mounts(*, plans: list[MountLike], host_config: dict, files: dict[str, str],
                 shm_path: str | None, init_path: str | None,
                 mountinfo: list | None = None) -> tuple[list[dict], str]:
    """(config.json ``mounts``, ``linux.rootfsPropagation`` or "").

    ``mountinfo``: the host's mount table (runtime/rootfs/mountinfo.MountInfo list;
    default: read when a shared or slave bind needs checking).
    """
    ipc_mode = host_config.get("IpcMode") or ""
    if shm_path is None and ipc_mode == "host":
        shm_path = "/dev/shm"  # --ipc host shares the host's /dev/shm too
    user = _user_mounts(plans, host_config.get("Tmpfs") or {}, files, shm_path,
                        bool(host_config.get("ReadonlyRootfs")))
    user_dests = {m["destination"] for m in user}
    shm_size = int(host_config.get("ShmSize") or 64 * 1024 * 1024)
    mount_dev = "/dev" in user_dests

    defaults = default_mounts()
    if init_path:
        defaults.append({"destination": INIT_PATH_IN_CONTAINER, "type": "bind",
                         "source": init_path, "options": ["bind", "ro"]})
    out: list[dict] = []
    for m in defaults:
        dest = m["destination"]
        if dest in user_dests or (mount_dev and dest.startswith("/dev/")):
            continue
        if dest == "/dev/shm":
            if ipc_mode == "none":
                continue
            m["options"].append(f"size={shm_size}")
        out.append(m)
    if host_config.get("ReadonlyRootfs"):
        for m in out:
            if m["destination"] not in _NO_RO_ON_READONLY_ROOT and "ro" not in m["options"]:
                m["options"].append("ro")
    if host_config.get("Privileged"):
        for m in out:
            if m["destination"] == "/sys" or m["type"] == "cgroup":
                m["options"] = [o for o in m["options"] if o != "ro"]
    out.extend(user)

    propagation = ""
    for m in user:
        opts = set(m["options"])
        if opts & {"shared", "rshared"}:
            _check_source_propagation(m["source"], ("shared:",), "shared", mountinfo)
            if propagation not in ("shared", "rshared"):
                propagation = "shared"
        elif opts & {"slave", "rslave"}:
            _check_source_propagation(m["source"], ("shared:", "master:"),
                                      "shared or slave", mountinfo)
            if propagation not in ("shared", "rshared", "slave", "rslave"):
                propagation = "rslave"
    return out, propagation


def _check_source_propagation(source: str, tags: tuple[str, ...], what: str,
                              mountinfo: list | None) -> None:
    """A shared (slave) bind only propagates if its source's mount is shared (or a
    slave); dockerd refuses it otherwise rather than silently not propagating."""
    from dockyard.runtime.rootfs.mountinfo import find_mount_of, read_mountinfo

    table = mountinfo if mountinfo is not None else read_mountinfo()
    real = os.path.realpath(source)
    mount = find_mount_of(real, table)
    if mount is None:
        raise InvalidArgument(f"Can't find mount point of {source}")
    if not any(tag.startswith(tags) for tag in mount.optional):
        raise InvalidArgument(f"path {source} is mounted on {mount.mountpoint} but it is "
                              f"not a {what} mount")
