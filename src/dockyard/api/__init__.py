"""The Docker Engine API over the daemon's backend: one thin module per resource.

``make_app(backend)`` (app.py) builds the aiohttp application; errors.py holds
the one table from dockyard's error kinds to Docker's status codes. Names load
lazily (PEP 562) so importing the package does not import aiohttp.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "API_VERSION": "dockyard.api.app",
    "MIN_API_VERSION": "dockyard.api.app",
    "make_app": "dockyard.api.app",
    "route_table": "dockyard.api.app",
    "STATUS_BY_KIND": "dockyard.api.errors",
    "status_for": "dockyard.api.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dockyard.api' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return __all__
