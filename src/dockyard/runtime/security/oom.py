"""``process.oomScoreAdj``: how willingly the OOM killer picks the container.

Written to /proc/self/oom_score_adj, which children inherit. Lowering it below
the value the runtime started with needs CAP_SYS_RESOURCE; the kernel then says
EACCES, and the message says so rather than a bare errno.
"""

from __future__ import annotations

from dockyard.errors import InvalidArgument, SystemError_

__all__ = ["apply", "parse"]

_PATH = "/proc/self/oom_score_adj"


def parse(value: object, path: str = "process.oomScoreAdj") -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not -1000 <= value <= 1000:
        raise InvalidArgument(f"{path}: must be an integer in -1000..1000, got {value!r}")
    return value


def apply(value: int | None) -> None:
    if value is None:
        return
    try:
        with open(_PATH, "w") as f:
            f.write(str(value))
    except OSError as e:
        msg = f"writing {value} to {_PATH}: {e.strerror}"
        if e.errno in (1, 13):  # EPERM, EACCES
            msg += " (lowering oom_score_adj needs CAP_SYS_RESOURCE)"
        raise SystemError_(msg) from e
