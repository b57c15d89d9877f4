"""Where a running process's cgroup is, from ``/proc/<pid>/cgroup`` and the host's
cgroup mounts (``runtime/cgroups/paths.py``'s layout).

stats and top ask the kernel rather than a runtime's state file: a container may
run under dockyard-runtime or any runc-compatible runtime (whose state files
differ), and the init's own cgroup is the truth either way. The host's view is
read from the daemon's cgroup namespace, so the paths are host paths even when
the container has a cgroup namespace of its own.
"""

from __future__ import annotations

from dockyard.errors import Conflict


def parse_proc_cgroup(text: str, layout) -> tuple[int, dict[str, str]]:
    """(version, {controller: directory}) from a ``/proc/<pid>/cgroup`` text.

    v1 (and hybrid): one entry per mounted controller (``name=`` hierarchies too);
    pure v2: ``{"": directory}``."""
    dirs: dict[str, str] = {}
    unified = None
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hid, controllers, path = parts
        if hid == "0" and controllers == "":
            unified = path
            continue
        for name in controllers.split(","):
            hierarchy = layout.v1.get(name)
            if hierarchy is not None:
                dirs[name] = hierarchy.dir_for(path)
    if layout.v1:
        if not dirs:
            raise Conflict("the process is in no cgroup v1 hierarchy this host mounts")
        return 1, dirs
    if unified is None or layout.unified is None:
        raise Conflict("the process has no cgroup v2 path")
    return 2, {"": layout.unified_dir(unified)}


def cgroup_of(pid: int) -> tuple[int, dict[str, str]]:
    """The cgroup directories of a running process; Conflict when it is gone."""
    from dockyard.runtime.cgroups.paths import detect

    try:
        with open(f"/proc/{pid}/cgroup") as f:
            text = f.read()
    except (FileNotFoundError, ProcessLookupError):
        raise Conflict(f"process {pid} is not running") from None
    return parse_proc_cgroup(text, detect())


__all__ = ["cgroup_of", "parse_proc_cgroup"]
