"""The daemon: ``dockyardd`` (main.py), its settings (config.py), serving (server.py)
and the backend the API handlers call (backend.py, transfer.py, events.py).

Names load lazily (PEP 562)."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Backend": "dockyard.daemon.backend",
    "DaemonConfig": "dockyard.daemon.config",
    "Event": "dockyard.daemon.events",
    "EventBus": "dockyard.daemon.events",
    "main": "dockyard.daemon.main",
    "serve": "dockyard.daemon.server",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dockyard.daemon' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return __all__
