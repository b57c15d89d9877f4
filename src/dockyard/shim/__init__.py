"""The per-container monitor ("shim"), its pre-warmed zygote and the daemon's client.

One shim per running container: the parent (child subreaper) of the container's
init; it holds the container's stdio, writes the log, serves attach/kill/pause/
resize/wait on ``<bundle>/shim.sock``, records the exit status in ``exit.json``
and deletes the runtime container when it exits. Shims are forked from a zygote
(``python -m dockyard.shim.zygote``) that has the runtime imported already, so a
start costs a fork, not an interpreter; they survive the zygote and the daemon.

Modules: ``types`` (the request/result records), ``files`` (bundle file names,
``read_exit``/``shim_alive``), ``zygote`` (the server), ``launch`` (the shim
process's start), ``worker`` (its throw-away helper that creates and starts the
container), ``monitor`` (the shim's event loop), ``output`` (log + attach fan-out),
``runtimes`` (dockyard in-process or a runc-compatible binary), ``wire`` (JSON
lines, fd passing), ``client`` (asyncio: ``Zygote``, ``ShimClient``).
"""

from __future__ import annotations

__all__ = [
    "ExitStatus",
    "LogConfig",
    "ShimClient",
    "ShimRequest",
    "Zygote",
    "read_exit",
    "shim_alive",
]

_WHERE = {
    "ExitStatus": "dockyard.shim.types",
    "LogConfig": "dockyard.shim.types",
    "ShimRequest": "dockyard.shim.types",
    "ShimClient": "dockyard.shim.client",
    "Zygote": "dockyard.shim.client",
    "read_exit": "dockyard.shim.files",
    "shim_alive": "dockyard.shim.files",
}


def __getattr__(name: str):
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'dockyard.shim' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(where), name)
