"""``until`` for ``POST /images/prune``: an adapter until the images room's
ImageFilters learns it (reported to img-store).

dockerd accepts a Unix timestamp (``1700000000.5``), an RFC 3339 time or a Go
duration before now (``24h``, ``1h30m``, ``90s``). ``prune_until`` runs the
room's own ``prune`` with the images created at or after ``until`` hidden from
it, so the room's pruning rules (dangling, children, containers) stay in one place.
"""

from __future__ import annotations

import re
import time
from typing import Any

from dockyard.errors import InvalidArgument

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")


def parse_until(text: str, now: float | None = None) -> float:
    """Seconds since the epoch."""
    now = time.time() if now is None else now
    value = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    if re.fullmatch(r"(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+", value):
        seconds = sum(float(n) * _UNITS[u] for n, u in _DURATION.findall(value))
        return now - seconds
    from dockyard.image.service import created_timestamp

    if re.fullmatch(r"\d{4}-\d{2}-\d{2}([T ].*)?", value):
        ts = created_timestamp(value if "T" in value or " " in value else value + "T00:00:00Z")
        if ts:
            return ts
    raise InvalidArgument(f"invalid filter 'until={text}': expected a Unix time, an RFC 3339 "
                          "time or a duration such as 24h")


def prune_until(svc: Any, all_images: bool, filters: Any, until: float) -> Any:
    """``svc.prune`` over the images created before ``until`` only."""
    from dockyard.image.service import created_timestamp

    original = svc.list_images

    def older(*args: Any, **kwargs: Any) -> list[Any]:
        return [s for s in original(*args, **kwargs)
                if created_timestamp(s.record.created) < until]

    svc.list_images = older   # this service object lives for this one call only
    try:
        return svc.prune(all_images=all_images, filters=filters)
    finally:
        svc.list_images = original


__all__ = ["parse_until", "prune_until"]
