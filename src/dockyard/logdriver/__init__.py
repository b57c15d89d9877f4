"""Container log drivers: what the shim writes and what ``docker logs`` reads back.

Writers (shim side, plain blocking file I/O, no asyncio) and readers (daemon side,
asyncio) of docker's on-disk formats:

- ``json-file``: one JSON object a line, ``{"log": ..., "stream": ..., "time": ...}``,
  byte-compatible with dockerd's writer, rotated to ``<path>.1``, ``<path>.2``, ...
  by ``max-size``/``max-file``;
- ``local``: length-framed binary records (docker's ``local`` driver record layout);
- ``none``: nothing is kept (reading is refused, as docker does).

Public names are loaded on first use (PEP 562): the shim imports only the writer
modules, the daemon only the reader.
"""

from __future__ import annotations

__all__ = [
    "DRIVERS",
    "JsonFileWriter",
    "LocalWriter",
    "LogEntry",
    "NullWriter",
    "frame",
    "open_writer",
    "read_logs",
]

DRIVERS = ("json-file", "local", "none")

_WHERE = {
    "JsonFileWriter": "dockyard.logdriver.jsonfile",
    "LocalWriter": "dockyard.logdriver.local",
    "NullWriter": "dockyard.logdriver.writers",
    "open_writer": "dockyard.logdriver.writers",
    "LogEntry": "dockyard.logdriver.entry",
    "frame": "dockyard.logdriver.entry",
    "read_logs": "dockyard.logdriver.reader",
}


def __getattr__(name: str):
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'dockyard.logdriver' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(where), name)
