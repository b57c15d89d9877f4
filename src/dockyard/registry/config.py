"""Client-side registry settings from ``/etc/dockyard/daemon.json``.

``insecure-registries`` (``host[:port]`` or a CIDR) may be spoken to over plain
HTTP or HTTPS without certificate checks; loopback addresses always may, as
docker allows. ``registry-mirrors`` are tried, in order, before Docker Hub for
``docker.io`` images (only for pulls, as docker does).
"""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from dockyard.errors import InvalidArgument

DEFAULT_PATH = Path("/etc/dockyard/daemon.json")
DOCKER_HUB_HOST = "registry-1.docker.io"


@dataclass(frozen=True)
class RegistryConfig:
    insecure: tuple[str, ...] = ()
    mirrors: tuple[str, ...] = ()
    _nets: tuple = field(default=(), compare=False, repr=False)

    @classmethod
    def from_dict(cls, doc: dict) -> RegistryConfig:
        insecure = doc.get("insecure-registries") or []
        mirrors = doc.get("registry-mirrors") or []
        if not isinstance(insecure, list) or not all(isinstance(x, str) for x in insecure):
            raise InvalidArgument("daemon.json: insecure-registries must be a list of strings")
        if not isinstance(mirrors, list) or not all(isinstance(x, str) for x in mirrors):
            raise InvalidArgument("daemon.json: registry-mirrors must be a list of URLs")
        nets = []
        for entry in insecure:
            if "/" in entry and "://" not in entry:
                try:
                    nets.append(ipaddress.ip_network(entry, strict=False))
                except ValueError:
                    raise InvalidArgument(f"daemon.json: bad CIDR {entry!r}") from None
        for m in mirrors:
            if not m.startswith(("http://", "https://")):
                raise InvalidArgument(f"daemon.json: registry mirror {m!r} needs a scheme")
        return cls(tuple(insecure), tuple(m.rstrip("/") for m in mirrors), tuple(nets))

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> RegistryConfig:
        p = Path(path or os.environ.get("DOCKYARD_DAEMON_CONFIG", DEFAULT_PATH))
        try:
            text = p.read_text()
        except FileNotFoundError:
            return cls()
        try:
            doc = json.loads(text)
        except ValueError as e:
            raise InvalidArgument(f"{p}: not valid JSON: {e}") from None
        if not isinstance(doc, dict):
            raise InvalidArgument(f"{p}: expected a JSON object")
        return cls.from_dict(doc)

    def is_insecure(self, host: str) -> bool:
        """May ``host[:port]`` be used over HTTP / without TLS verification?"""
        if host in self.insecure:
            return True
        name = _hostname(host)
        if name == "localhost":
            return True
        try:
            ip = ipaddress.ip_address(name)
        except ValueError:
            return name in self.insecure
        if ip.is_loopback:
            return True
        return name in self.insecure or any(ip in n for n in self._nets)

    def endpoints(self, domain: str) -> list[str]:
        """Base URLs to pull ``domain``'s images from, best first. An insecure host
        gets HTTPS first and HTTP as fallback (the client drops what fails)."""
        if domain == "docker.io":
            return [*self.mirrors, f"https://{DOCKER_HUB_HOST}"]
        if self.is_insecure(domain):
            return [f"https://{domain}", f"http://{domain}"]
        return [f"https://{domain}"]


def _hostname(host: str) -> str:
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


__all__ = ["RegistryConfig"]
