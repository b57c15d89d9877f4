"""From the spec's ``linux.cgroupsPath`` to one cgroup path per hierarchy.

The spec allows three shapes, all handled here without touching the host:

* absolute (``/a/b``): the same path in every hierarchy;
* relative (``a/b``): under the runtime's own cgroup in each hierarchy, as runc
  does (this process's path from ``/proc/self/cgroup``, per controller);
* systemd (``slice:prefix:name``): mapped to the plain path systemd would use,
  ``/<parent slices>/<slice>/<prefix>-<name>.scope``.

None means ``/dockyard/<id>``. A ``..`` component is refused: a cgroups path must
never reach outside the place it names.
"""

from __future__ import annotations

import posixpath

from dockyard.errors import InvalidArgument

__all__ = ["CgroupPath", "expand_slice", "parse_cgroups_path"]

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
