"""Helpers (no tests) for the cgroup integration tests: a held child process.

Named test_cgroups_* only because that is the file pattern this branch owns.

The child is ``busybox sh -c 'read go; <script>'``: it blocks on stdin until the
test has moved it into a cgroup and set limits, so everything the script does
happens under them. ``close()`` kills it (and anything left in its cgroup).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from dockyard.errors import DockyardError


class HeldChild:
    def __init__(self, busybox: Path, script: str) -> None:
        self.proc = subprocess.Popen(
            [str(busybox), "sh", "-c", f"read go; {script}"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.pid = self.proc.pid

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"go\n")
        self.proc.stdin.flush()

    def finish(self, timeout: float = 30) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out.decode(), err.decode()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()


def kill_all_and_destroy(manager) -> None:
    """Kill whatever is still in the cgroup (thawing it first), then remove it."""
    try:
        manager.thaw(timeout=2)
    except (DockyardError, OSError):
        pass
    for _ in range(50):
        try:
            pids = manager.pids()
        except OSError:
            pids = []
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.02)
    manager.destroy()


def proc_cgroups(pid: int) -> dict[str, str]:
    """controller (or ``name=x``, or "" for v2) -> path, from /proc/PID/cgroup."""
    out = {}
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, names, path = line.split(":", 2)
        for name in names.split(",") if names else [""]:
            out[name] = path
    return out
