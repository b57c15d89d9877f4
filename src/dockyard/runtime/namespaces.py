"""Which namespaces a container gets, which it joins, and their id and time setup.

``plan(spec)`` turns ``linux.namespaces`` into a :class:`NamespacePlan`: the
namespaces to join by path (user first, so the later joins happen with the
joined user namespace's privileges), whether to create a user namespace (done
alone, first, so the parent can write the id maps before anything else is
created inside it), and the clone flags of every other new namespace.
"""

from __future__ import annotations

import os

from dockyard.runtime import syscalls

CLONE_FLAGS = {
    "pid": syscalls.CLONE_NEWPID,
    "network": syscalls.CLONE_NEWNET,
    "mount": syscalls.CLONE_NEWNS,
    "ipc": syscalls.CLONE_NEWIPC,
    "uts": syscalls.CLONE_NEWUTS,
    "user": syscalls.CLONE_NEWUSER,
    "cgroup": syscalls.CLONE_NEWCGROUP,
    "time": syscalls.CLONE_NEWTIME,
}
# The names under /proc/<pid>/ns/.
PROC_NAMES = {
    "pid": "pid", "network": "net", "mount": "mnt", "ipc": "ipc", "uts": "uts",
    "user": "user", "cgroup": "cgroup", "time": "time",
}
# Join order: user first (privileges in its namespaces), mount last among the
# ones that change what paths mean.
JOIN_ORDER = ("user", "ipc", "uts", "network", "pid", "cgroup", "time", "mount")


class NamespacePlan:
    __slots__ = (
        "gid_maps",
        "join",
        "new_flags",
        "new_user",
        "time_offsets",
        "types",
        "uid_maps",
    )

    def __init__(self, join: list[tuple[str, str]], new_user: bool, new_flags: int,
                 uid_maps: list[dict], gid_maps: list[dict], time_offsets: dict,
                 types: set[str]) -> None:
        self.join = join
        self.new_user = new_user
        self.new_flags = new_flags
        self.uid_maps = uid_maps
        self.gid_maps = gid_maps
        self.time_offsets = time_offsets
        self.types = types

    def is_new(self, ns_type: str) -> bool:
        return ns_type in self.types and all(t != ns_type for t, _ in self.join)


def plan(spec: dict) -> NamespacePlan:
    linux = spec.get("linux") or {}
    join: list[tuple[str, str]] = []
    flags = 0
    new_user = False
    types: set[str] = set()
    for ns in linux.get("namespaces") or []:
        t = ns["type"]
        types.add(t)
        if ns.get("path"):
            join.append((t, ns["path"]))
        elif t == "user":
            new_user = True
        else:
            flags |= CLONE_FLAGS[t]
    join.sort(key=lambda item: JOIN_ORDER.index(item[0]))
    return NamespacePlan(join, new_user, flags, linux.get("uidMappings") or [],
                         linux.get("gidMappings") or [], linux.get("timeOffsets") or {},
                         types)


def open_join_fds(join: list[tuple[str, str]]) -> list[tuple[str, int]]:
    """Open every namespace to join up front, so a bad path fails before any fork."""
    from dockyard.errors import InvalidArgument

    fds = []
    try:
        for t, path in join:
            try:
                fds.append((t, os.open(path, os.O_RDONLY | os.O_CLOEXEC)))
            except OSError as e:
                raise InvalidArgument(f"cannot open {t} namespace {path!r}: "
                                      f"{e.strerror}") from None
    except BaseException:
        for _, fd in fds:
            os.close(fd)
        raise
    return fds


def join_all(fds: list[tuple[str, int]]) -> None:
    for t, fd in fds:
        try:
            syscalls.setns(fd, CLONE_FLAGS[t])
        except OSError as e:
            raise OSError(e.errno, f"joining the {t} namespace: {e.strerror}") from None


def format_id_map(maps: list[dict]) -> str:
    return "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in maps)


def write_id_maps(pid: int, uid_maps: list[dict], gid_maps: list[dict]) -> None:
    """Write a new user namespace's maps from outside it (the parent's job).

    ``setgroups`` is set to ``deny`` only when we lack CAP_SETGID over the parent
    namespace (not root), the one case where the kernel requires it before an
    unprivileged gid_map write; as root, setgroups stays usable in the container.
    """
    if gid_maps:
        if os.geteuid() != 0:
            with open(f"/proc/{pid}/setgroups", "w") as f:
                f.write("deny")
        _write_map(f"/proc/{pid}/gid_map", format_id_map(gid_maps))
    if uid_maps:
        _write_map(f"/proc/{pid}/uid_map", format_id_map(uid_maps))


def _write_map(path: str, text: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)
    except OSError as e:
        raise OSError(e.errno, f"writing {path} ({text.strip()!r}): {e.strerror}") from None


def write_time_offsets(offsets: dict) -> None:
    """Set this (just unshared, still childless) time namespace's clock offsets."""
    lines = "".join(f"{clock} {off.get('secs', 0)} {off.get('nanosecs', 0)}\n"
                    for clock, off in offsets.items())
    if lines:
        _write_map("/proc/self/timens_offsets", lines)


def ns_paths_of(pid: int, types: set[str]) -> list[tuple[str, str]]:
    """The /proc paths of ``pid``'s namespaces that differ from ours, in join order."""
    out = []
    for t in JOIN_ORDER:
        if t not in types:
            continue
        theirs = f"/proc/{pid}/ns/{PROC_NAMES[t]}"
        try:
            if os.stat(theirs).st_ino == os.stat(f"/proc/self/ns/{PROC_NAMES[t]}").st_ino:
                continue
        except OSError:
            continue
        out.append((t, theirs))
    return out
