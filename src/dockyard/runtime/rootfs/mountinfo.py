"""Reading ``/proc/self/mountinfo`` (and ``/proc/self/cgroup``) into small records.

The cgroup mounts need the host's cgroup mount points and this process's cgroup
paths; the parent-mount lookup before pivot_root needs the mount holding the rootfs.
"""

from __future__ import annotations

import os

from dockyard.runtime.rootfs._record import Record

__all__ = ["MountInfo", "find_mount_of", "own_cgroups", "read_mountinfo", "unescape"]

def unescape(field: str) -> str:
    """Undo the kernel's octal escapes (``\\040`` is a space)."""
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        chunk = field[i + 1:i + 4]
        if field[i] == "\\" and len(chunk) == 3 and all(c in "01234567" for c in chunk):
            out.append(chr(int(chunk, 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


class MountInfo(Record):
    __slots__ = (  # noqa: RUF023 (the positional order)
        "mount_id", "parent_id", "root", "mountpoint", "options", "optional", "fstype",
        "source", "super_options")
    mount_id: int
    parent_id: int
    root: str             # the path inside the filesystem that is mounted here
    mountpoint: str
    options: tuple[str, ...]         # per-mount options (rw, nosuid, relatime, ...)
    optional: tuple[str, ...]        # propagation tags: shared:N, master:N, unbindable
    fstype: str
    source: str
    super_options: tuple[str, ...]   # per-superblock options (for cgroup: controllers)


def parse_line(line: str) -> MountInfo:
    fields = line.split()
    sep = fields.index("-", 6)
    return MountInfo(
        mount_id=int(fields[0]),
        parent_id=int(fields[1]),
        root=unescape(fields[3]),
        mountpoint=unescape(fields[4]),
        options=tuple(fields[5].split(",")),
        optional=tuple(fields[6:sep]),
        fstype=fields[sep + 1],
        source=unescape(fields[sep + 2]),
        super_options=tuple(fields[sep + 3].split(",")) if len(fields) > sep + 3 else (),
    )


def read_mountinfo(path: str = "/proc/self/mountinfo") -> list[MountInfo]:
    with open(path) as f:
        return [parse_line(line) for line in f if line.strip()]


def find_mount_of(path: str, mounts: list[MountInfo]) -> MountInfo | None:
    """The mount a (real, symlink-free) path lives on: the longest mount-point prefix.

    When mounts are stacked on one point the last listed (the top one) wins.
    """
    best: MountInfo | None = None
    for m in mounts:
        mp = m.mountpoint
        inside = path == mp or mp == "/" or path.startswith(mp.rstrip("/") + "/")
        if inside and (best is None or len(mp) >= len(best.mountpoint)):
            best = m
    return best


def own_cgroups(path: str = "/proc/self/cgroup") -> dict[str, str]:
    """Controller set -> cgroup path, e.g. ``{"cpu,cpuacct": "/x", "": "/x"}``.

    The key is the line's controller field as the kernel prints it; ``""`` is the
    v2 (unified) hierarchy.
    """
    out: dict[str, str] = {}
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split(":", 2)
            if len(parts) == 3:
                out[parts[1]] = parts[2]
    return out


def cgroup_subsystems(path: str = "/proc/cgroups") -> set[str]:
    """Names of the v1 controllers this kernel knows."""
    names: set[str] = set()
    try:
        with open(path) as f:
            for line in f:
                if not line.startswith("#") and line.split():
                    names.add(line.split()[0])
    except OSError:
        pass
    return names


def realpath_nofail(path: str) -> str:
    try:
        return os.path.realpath(path, strict=False)
    except OSError:
        return os.path.abspath(path)
