"""cgroups v1 and v2 behind one interface (:class:`CgroupManager`).

The runtime's parent process calls ``create_manager(spec cgroupsPath, id)``,
``apply(pid)`` and ``set(linux.resources)``; the manager's ``to_state()`` goes into
the container's state file and ``load_manager`` rebuilds it for later verbs
(``pause``/``resume``, ``ps``, ``update``, ``delete``, the daemon's stats).

Only what ``create`` needs is imported eagerly; the Protocol, the stats types and
the resource validation load on first use (typing, dataclasses and logging cost
more start-up time than the whole package).
"""

from __future__ import annotations

from dockyard.errors import InvalidArgument, Unavailable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from .manager import CgroupManager
    from .paths import CgroupPath, Layout
    from .stats import CgroupStats

__all__ = ["CgroupManager", "CgroupStats", "create_manager", "load_manager", "validate"]


def __getattr__(name: str) -> object:
    if name == "CgroupManager":
        from .manager import CgroupManager

        return CgroupManager
    if name == "CgroupStats":
        from .stats import CgroupStats

        return CgroupStats
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def validate(resources: Mapping[str, Any] | None) -> None:
    """Raise InvalidArgument (naming the JSON path) for values no cgroup can take."""
    from .resources import validate as check

    check(resources)


def _unified_path(layout: Layout, cg: CgroupPath) -> str:
    """The cgroup path relative to the cgroup2 mount (mount roots accounted for)."""
    assert layout.unified is not None
    full = layout.unified_dir(cg.in_hierarchy(layout.own.get("", "/")))
    return full[len(layout.unified.rstrip("/")):] or "/"


def create_manager(cgroups_path: str | None, container_id: str, *,
                   layout: Layout | None = None) -> CgroupManager:
    """The manager for a container; nothing is created until ``apply``."""
    from .paths import detect, parse_cgroups_path

    layout = layout or detect()
    cg = parse_cgroups_path(cgroups_path, container_id)
    mode = layout.mode
    if mode == "none":
        raise Unavailable("no cgroup hierarchy is mounted on this host")
    from .v2 import V2Manager

    # The default parent (/dockyard) is shared by all our containers: whoever leaves
    # it empty removes it, not only whoever made it.
    default = not cgroups_path
    if mode == "v2":
        path = _unified_path(layout, cg)
        shared = [f"{layout.unified}{path.rsplit('/', 1)[0]}"] if default else []
        return V2Manager(layout.unified or "/", path, shared=shared)
    from .v1 import V1Manager

    dirs = {}
    for name, hierarchy in layout.v1.items():
        dirs[name] = hierarchy.dir_for(cg.in_hierarchy(layout.own.get(name, "/")))
        if dirs[name] == hierarchy.mountpoint.rstrip("/"):
            raise InvalidArgument(f"linux.cgroupsPath {cgroups_path!r} names the root "
                                  f"of the {name} hierarchy")
    unified = None
    if mode == "hybrid":
        path = _unified_path(layout, cg)
        shared = [f"{layout.unified}{path.rsplit('/', 1)[0]}"] if default else []
        unified = V2Manager(layout.unified or "/", path, controllers=(), shared=shared,
                            enable_in_root=False)
    shared = sorted({d.rsplit("/", 1)[0] for d in dirs.values()}) if default else []
    return V1Manager(dirs, shared=shared, unified=unified)


def load_manager(saved: Mapping[str, Any]) -> CgroupManager:
    """Rebuild a manager from its ``to_state()`` (as kept in the state file)."""
    if not isinstance(saved, dict) or saved.get("version") not in (1, 2):
        raise InvalidArgument(f"not a saved cgroup manager state: {saved!r}")
    if saved["version"] == 2:
        from .v2 import V2Manager

        return V2Manager.from_state(saved)
    from .v1 import V1Manager

    return V1Manager.from_state(saved)
