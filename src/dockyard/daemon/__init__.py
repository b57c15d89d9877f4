"""The daemon: ``dockyardd`` (main.py), its settings (config.py), serving (server.py)
and the backend the API handlers call (backend.py, transfer.py, events.py).

Names load lazily (PEP 562)."""

from __future__ import annotations

from dockyard._lazy import lazy_exports

_EXPORTS = {
    "Backend": "dockyard.daemon.backend",
    "DaemonConfig": "dockyard.daemon.config",
    "Event": "dockyard.daemon.events",
    "EventBus": "dockyard.daemon.events",
    "main": "dockyard.daemon.main",
    "serve": "dockyard.daemon.server",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
