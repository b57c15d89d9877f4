"""The Docker Engine API over the daemon's backend: one thin module per resource.

``make_app(backend)`` (app.py) builds the aiohttp application; errors.py holds
the one table from dockyard's error kinds to Docker's status codes. Names load
lazily (PEP 562) so importing the package does not import aiohttp.
"""

from __future__ import annotations

from dockyard._lazy import lazy_exports

_EXPORTS = {
    "API_VERSION": "dockyard.api.app",
    "MIN_API_VERSION": "dockyard.api.app",
    "make_app": "dockyard.api.app",
    "route_table": "dockyard.api.app",
    "STATUS_BY_KIND": "dockyard.api.errors",
    "status_for": "dockyard.api.errors",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
