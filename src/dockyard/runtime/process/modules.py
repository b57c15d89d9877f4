"""Where the rootfs, cgroups and security seams come from.

Those packages are built on other branches (runtime-internals.md); until one is
merged, a minimal private fallback in :mod:`fallback` stands in, so the
lifecycle can be exercised end to end. Once merged, the real module wins.
"""

from __future__ import annotations

import importlib
from types import ModuleType

_cache: dict[str, ModuleType] = {}


def _load(name: str) -> ModuleType:
    if name in _cache:
        return _cache[name]
    full = f"dockyard.runtime.{name}"
    try:
        mod = importlib.import_module(full)
    except ModuleNotFoundError as e:
        if e.name != full:
            raise
        from dockyard.runtime.process import fallback

        mod = getattr(fallback, name)
    _cache[name] = mod
    return mod


def rootfs() -> ModuleType:
    return _load("rootfs")


def cgroups() -> ModuleType:
    return _load("cgroups")


def security() -> ModuleType:
    return _load("security")
