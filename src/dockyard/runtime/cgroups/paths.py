"""Where cgroups are: the host's layout, and where a container's cgroup goes in it.

**The host** (v1, v2 or hybrid) is read once from ``/proc/self/mountinfo`` (where
each hierarchy is mounted, and which part of it the mount shows) and
``/proc/self/cgroup`` (where this process sits in each hierarchy). The parsing
functions take the file text, so unit tests feed them any layout.

**The spec's** ``linux.cgroupsPath`` has three shapes, handled without touching
the host:

* absolute (``/a/b``): the same path in every hierarchy;
* relative (``a/b``): under the runtime's own cgroup in each hierarchy, as runc
  does (this process's path from ``/proc/self/cgroup``, per controller);
* systemd (``slice:prefix:name``): mapped to the plain path systemd would use,
  ``/<parent slices>/<slice>/<prefix>-<name>.scope``.

None means ``/dockyard/<id>``. A ``..`` component is refused: a cgroups path must
never reach outside the place it names.

(One module, not two: it is on the runtime's start-up path, where every module
costs a file lookup and a load. Plain classes rather than dataclasses, for the
same reason.)
"""

from __future__ import annotations

import posixpath

from dockyard.errors import InvalidArgument

__all__ = ["CgroupPath", "Hierarchy", "Layout", "detect", "expand_slice", "parse_cgroups_path",
           "parse_layout"]


# --- the host's layout --------------------------------------------------------


class Hierarchy:
    """One mounted v1 hierarchy: its controllers (or ``name=x``), mount point and root.

    (Plain classes here, not dataclasses: this module is on the runtime's start-up
    path, and importing dataclasses costs more than the whole module.)
    """

    __slots__ = ("controllers", "mountpoint", "root")

    def __init__(self, controllers: tuple[str, ...], mountpoint: str, root: str = "/") -> None:
        self.controllers = controllers
        self.mountpoint = mountpoint
        self.root = root

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Hierarchy) and (self.controllers, self.mountpoint,
                                                 self.root) == (other.controllers,
                                                                other.mountpoint, other.root)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Hierarchy({self.controllers!r}, {self.mountpoint!r}, {self.root!r})"

    def dir_for(self, cgroup_path: str) -> str:
        """The directory of hierarchy path ``cgroup_path`` (absolute in the hierarchy)."""
        return _join_under(self.mountpoint, self.root, cgroup_path)


class Layout:
    """The host's cgroup layout as this process sees it.

    ``v1`` maps each v1 controller (and named hierarchy, e.g. ``name=systemd``) to
    its hierarchy; several keys share one hierarchy when co-mounted (``cpu,cpuacct``).
    ``unified`` is the cgroup2 mount, if any. ``own`` maps controller -> this
    process's cgroup path ("" key: the unified one).
    """

    __slots__ = ("own", "unified", "unified_root", "v1")

    def __init__(self, v1: dict[str, Hierarchy] | None = None, unified: str | None = None,
                 unified_root: str = "/", own: dict[str, str] | None = None) -> None:
        self.v1 = v1 or {}
        self.unified = unified
        self.unified_root = unified_root
        self.own = own or {}

    @property
    def mode(self) -> str:
        if self.v1:
            return "hybrid" if self.unified else "v1"
        if self.unified:
            return "v2"
        return "none"

    def hierarchies(self) -> list[Hierarchy]:
        """Each mounted v1 hierarchy once, in a stable order."""
        seen: dict[str, Hierarchy] = {}
        for h in self.v1.values():
            seen.setdefault(h.mountpoint, h)
        return sorted(seen.values(), key=lambda h: h.mountpoint)

    def unified_dir(self, cgroup_path: str) -> str:
        if self.unified is None:
            raise ValueError("no cgroup2 hierarchy is mounted")
        return _join_under(self.unified, self.unified_root, cgroup_path)


def _join_under(mountpoint: str, mount_root: str, cgroup_path: str) -> str:
    # A mount may show only a subtree (inside a container: root "/docker/abc"); a
    # path from /proc/self/cgroup is relative to the whole hierarchy.
    path = posixpath.normpath("/" + cgroup_path.lstrip("/"))
    root = posixpath.normpath(mount_root or "/")
    if root != "/" and (path == root or path.startswith(root + "/")):
        path = path[len(root):] or "/"
    return posixpath.normpath(mountpoint + "/" + path.lstrip("/")).rstrip("/") or "/"


def _unescape(text: str) -> str:
    return (text.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n")
            .replace("\\134", "\\"))


def parse_layout(mountinfo: str, proc_cgroup: str) -> Layout:
    """Build a :class:`Layout` from the text of mountinfo and /proc/self/cgroup."""
    v1: dict[str, Hierarchy] = {}
    unified: str | None = None
    unified_root = "/"
    for line in mountinfo.splitlines():
        fields = line.split()
        if " - " not in line or len(fields) < 10:
            continue
        sep = fields.index("-")
        fstype, super_opts = fields[sep + 1], fields[sep + 3]
        root, point = _unescape(fields[3]), _unescape(fields[4])
        if fstype == "cgroup2":
            if unified is None:
                unified, unified_root = point, root
        elif fstype == "cgroup":
            names = tuple(o for o in super_opts.split(",")
                          if o in V1_CONTROLLERS or o.startswith("name="))
            hierarchy = Hierarchy(names, point, root)
            for name in names:
                v1.setdefault(name, hierarchy)
    own: dict[str, str] = {}
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if parts[1] == "":
            own[""] = parts[2]
        for name in parts[1].split(","):
            if name:
                own[name] = parts[2]
    return Layout(v1=v1, unified=unified, unified_root=unified_root, own=own)


# v1 controllers the kernel can mount (super options also hold flags such as
# clone_children, noprefix, xattr or favordynmods, which are not controllers).
V1_CONTROLLERS = frozenset({"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer",
                            "net_cls", "net_prio", "blkio", "perf_event", "hugetlb",
                            "pids", "rdma", "misc", "debug"})


_detected: list[Layout] = []


def detect() -> Layout:
    """The running host's layout (read once per process)."""
    if not _detected:
        with open("/proc/self/mountinfo") as f:
            mountinfo = f.read()
        with open("/proc/self/cgroup") as f:
            proc_cgroup = f.read()
        _detected.append(parse_layout(mountinfo, proc_cgroup))
    return _detected[0]


# --- the spec's cgroupsPath ---------------------------------------------------

DEFAULT_PARENT = "/dockyard"
_UNIT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.\\-")


class CgroupPath:
    """A cleaned cgroups path; ``relative`` ones hang below the runtime's own cgroup."""

    __slots__ = ("path", "relative")

    def __init__(self, path: str, relative: bool = False) -> None:
        self.path = path
        self.relative = relative

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CgroupPath) and (self.path, self.relative) == \
            (other.path, other.relative)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"CgroupPath({self.path!r}, relative={self.relative})"

    def in_hierarchy(self, own: str) -> str:
        """The absolute hierarchy path, given this process's path ``own`` there."""
        if not self.relative:
            return self.path
        return posixpath.normpath(posixpath.join(own or "/", self.path))


def expand_slice(slice_name: str) -> str:
    """``a-b-c.slice`` -> ``/a.slice/a-b.slice/a-b-c.slice`` (systemd's nesting rule)."""
    if not slice_name.endswith(".slice") or "/" in slice_name:
        raise InvalidArgument(f"linux.cgroupsPath: invalid slice name {slice_name!r}")
    if slice_name == "-.slice":
        return "/"
    stem = slice_name[: -len(".slice")]
    if not stem or stem.startswith("-") or stem.endswith("-") or "--" in stem:
        raise InvalidArgument(f"linux.cgroupsPath: invalid slice name {slice_name!r}")
    parts = stem.split("-")
    return "/" + "/".join("-".join(parts[: i + 1]) + ".slice" for i in range(len(parts)))


def _is_systemd_form(raw: str) -> bool:
    return not raw.startswith("/") and raw.count(":") == 2


def _clean(raw: str) -> str:
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InvalidArgument(f"linux.cgroupsPath: {raw!r} must not contain '..'")
    for p in parts:
        if "\0" in p or "\n" in p:
            raise InvalidArgument(f"linux.cgroupsPath: {raw!r} has a bad character")
    return "/".join(parts)


def parse_cgroups_path(raw: str | None, container_id: str) -> CgroupPath:
    """Clean and classify ``linux.cgroupsPath`` (see the module docstring)."""
    if raw is None or raw == "":
        if not container_id or "/" in container_id or container_id in (".", ".."):
            raise InvalidArgument(f"container id {container_id!r} cannot name a cgroup")
        return CgroupPath(f"{DEFAULT_PARENT}/{container_id}")
    if not isinstance(raw, str):
        raise InvalidArgument("linux.cgroupsPath: must be a string")
    if _is_systemd_form(raw):
        slice_name, prefix, name = raw.split(":")
        for part in (prefix, name):
            if part and not set(part) <= _UNIT_CHARS:
                raise InvalidArgument(f"linux.cgroupsPath: bad systemd unit part {part!r}")
        if not name:
            raise InvalidArgument(f"linux.cgroupsPath: {raw!r} lacks a unit name")
        parent = expand_slice(slice_name or "system.slice")
        if name.endswith(".slice"):
            unit = name
        else:
            unit = f"{prefix}-{name}.scope" if prefix else f"{name}.scope"
        return CgroupPath("/" + _clean(f"{parent}/{unit}"))
    cleaned = _clean(raw)
    if not cleaned:
        raise InvalidArgument(f"linux.cgroupsPath: {raw!r} names the root cgroup")
    if raw.startswith("/"):
        return CgroupPath("/" + cleaned)
    return CgroupPath(cleaned, relative=True)
