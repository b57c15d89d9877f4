"""The registry server: the OCI distribution spec over dockyard's content store."""

from dockyard.registry.server.app import make_app, run, split_listen
from dockyard.registry.server.auth import Authorizer, load_htpasswd
from dockyard.registry.server.context import ServerConfig
from dockyard.registry.server.storage import RegistryStorage

__all__ = ["Authorizer", "RegistryStorage", "ServerConfig", "load_htpasswd", "make_app", "run",
           "split_listen"]
