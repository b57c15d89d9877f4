"""Sizes and durations the way the Docker CLI prints them (go-units)."""

from __future__ import annotations

import time

_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB")


def human_size(size: float, precision: int = 3) -> str:
    """Decimal units, ``precision`` significant digits: 2131456 -> ``2.13MB``."""
    size = float(size)
    i = 0
    while size >= 1000 and i < len(_UNITS) - 1:
        size /= 1000
        i += 1
    return f"{size:.{precision}g}{_UNITS[i]}"


def human_duration_seconds(seconds: float) -> str:
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = s // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = round(s / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{hours // 24 // 365} years"


def human_duration(created_unix: int) -> str:
    """``2 hours ago`` for a Unix time; ``N/A`` when unknown (0)."""
    if not created_unix:
        return "N/A"
    return human_duration_seconds(time.time() - created_unix) + " ago"


__all__ = ["human_duration", "human_duration_seconds", "human_size"]
