"""What every handler shares: storage, limits, switches."""

from __future__ import annotations

from dataclasses import dataclass, field

from dockyard.registry.server.auth import Authorizer
from dockyard.registry.server.storage import RegistryStorage

DEFAULT_MAX_MANIFEST = 4 << 20      # distribution's limit too
DEFAULT_MAX_BLOB = 16 << 30


@dataclass
class ServerConfig:
    delete_enabled: bool = False
    max_manifest_size: int = DEFAULT_MAX_MANIFEST
    max_blob_size: int = DEFAULT_MAX_BLOB
    authorizer: Authorizer = field(default_factory=Authorizer)


@dataclass
class ServerContext:
    storage: RegistryStorage
    config: ServerConfig


def upload_location(name: str, uid: str) -> str:
    return f"/v2/{name}/blobs/uploads/{uid}"


def range_header(size: int) -> str:
    """The ``Range`` an upload reports: bytes received so far, inclusive."""
    return f"0-{max(size - 1, 0)}"


__all__ = ["ServerConfig", "ServerContext", "range_header", "upload_location"]
