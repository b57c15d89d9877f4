"""Is a process still there? One answer for the rooms that keep pids in their state
(leases, probes, daemons, builds, stats)."""

from __future__ import annotations

import os


def alive(pid: int) -> bool:
    """True while ``pid`` exists (a process we may not signal exists too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


__all__ = ["alive"]
