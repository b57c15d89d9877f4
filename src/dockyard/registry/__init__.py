"""The registry room: a distribution-API client (pull, push, login) and server.

Public face (imported lazily, so ``import dockyard.registry`` costs nothing
until a name is used; aiohttp loads only with the client or server)::

    pull(name, images, ...)         -> list[PullResult]   (async)
    push(name, images, ...)         -> PushResult         (async)
    login(server, Credential)       -> domain             (sync)
    RegistryClient                  one registry host, over an aiohttp session
    RegistryConfig                  insecure registries, mirrors (daemon.json)
    CredentialStore, Credential     ~/.docker/config.json and its helpers
    ProgressEvent, JsonMessages, TerminalProgress   progress reporting
    collect                         registry GC (``dockyard registry gc``)

The server lives in :mod:`dockyard.registry.server` (``make_app``, ``run``).
"""

from __future__ import annotations

from dockyard._lazy import lazy_exports

_EXPORTS = {
    "pull": "dockyard.registry.pull",
    "PullResult": "dockyard.registry.pull",
    "push": "dockyard.registry.push",
    "PushResult": "dockyard.registry.push",
    "login": "dockyard.registry.login",
    "RegistryClient": "dockyard.registry.client",
    "RegistryConfig": "dockyard.registry.config",
    "Credential": "dockyard.registry.credentials",
    "CredentialStore": "dockyard.registry.credentials",
    "ProgressEvent": "dockyard.registry.progress",
    "JsonMessages": "dockyard.registry.progress",
    "TerminalProgress": "dockyard.registry.progress",
    "collect": "dockyard.registry.gc",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
