"""Leftovers of builds whose process died (``kill -9`` of the CLI or the daemon).

Every scratch directory a build makes under ``<exec_root>/build`` is named
``<kind>-<pid>-...`` (bundles, views, contexts). A later build removes those of
dead processes: their mounts first (a RUN's rootfs, a COPY --from view), then
the directory; and it deletes stopped ``build-*`` containers left in the
builder's runtime state directory. The snapshots they used are not named by any
live lease, so the image store's GC removes them.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from pathlib import Path

from dockyard.pids import alive as _alive

_NAME = re.compile(r"^(?:b|v|ctx|add)-(\d+)-")


def scratch_prefix(kind: str) -> str:
    return f"{kind}-{os.getpid()}-"


def clean_stale(build_dir: Path) -> int:
    """Remove dead builds' scratch directories (unmounting first); returns how many."""
    from dockyard.image.mount import is_mountpoint_under, unmount

    n = 0
    try:
        entries = list(os.scandir(build_dir))
    except FileNotFoundError:
        return 0
    for e in entries:
        m = _NAME.match(e.name)
        if m is None or _alive(int(m.group(1))) or not e.is_dir(follow_symlinks=False):
            continue
        for point in sorted(is_mountpoint_under(e.path), key=len, reverse=True):
            with contextlib.suppress(Exception):
                unmount(point)
        if is_mountpoint_under(e.path):
            continue   # still busy: try again next time
        shutil.rmtree(e.path, ignore_errors=True)
        n += 1
    _delete_stopped_containers(build_dir / "runtime")
    return n


def _delete_stopped_containers(state_root: Path) -> None:
    if not state_root.is_dir():
        return
    from dockyard.build.runner import runtime_command

    for entry in os.scandir(state_root):
        if not entry.name.startswith("build-"):
            continue
        state = Path(entry.path) / "state.json"
        pid = 0
        with contextlib.suppress(OSError, ValueError):
            import json

            doc = json.loads(state.read_text())
            pid = int(doc.get("pid") or doc.get("init_process_pid") or 0)
        if pid and _alive(pid):
            continue
        subprocess.run([*runtime_command(), "--root", str(state_root), "delete", "--force",
                        entry.name], capture_output=True, timeout=60)


__all__ = ["clean_stale", "scratch_prefix"]
