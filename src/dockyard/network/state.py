"""What the network service remembers across daemon restarts, as one JSON file.

Four parts, all plain dataclasses so the file stays readable:
- ``networks``: every network (predefined ones included) with Docker's settings;
- ``ipam``: the subnets and addresses handed out (``ipam.IpamState``);
- ``sandboxes``: per *running* container: its netns, endpoints (one per network),
  published ports, the request it was set up from (so ``restore`` and
  connect/disconnect can re-render its files);
- ``memberships``: per container, the networks it belongs to across stops
  (``network connect`` on a stopped container is remembered until ``forget``).

The file is replaced atomically (temp file, fsync, rename, fsync of the directory):
a crash leaves the old state or the new one, never half of either.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from dockyard.errors import InvalidArgument
from dockyard.network.ipam import IpamState

__all__ = ["EndpointRecord", "NetworkRecord", "SandboxRecord", "ServiceState", "StateFile"]

SCHEMA = 1


def _from(cls, raw: dict[str, Any]):
    """A dataclass from a dict, ignoring keys a newer writer may have added."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in raw.items() if k in names})


@dataclass
class NetworkRecord:
    id: str
    name: str
    driver: str                      # bridge | host | null
    created: str
    bridge: str = ""                 # the Linux bridge ("" for host / none)
    internal: bool = False
    attachable: bool = False
    enable_ipv6: bool = False
    icc: bool = True
    masquerade: bool = True
    mtu: int = 1500
    host_ip: str = ""                # default host address for published ports
    dns: bool = False                # embedded DNS (user-defined bridge networks)
    predefined: bool = False
    default_bridge: bool = False
    ipam_options: dict[str, str] = field(default_factory=dict)
    ipam_config: list[dict[str, str]] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)

    def to_docker(self, containers: dict[str, dict] | None = None) -> dict[str, Any]:
        """Docker's ``NetworkResource`` JSON (``GET /networks/{id}``)."""
        return {
            "Name": self.name,
            "Id": self.id,
            "Created": self.created,
            "Scope": "local",
            "Driver": self.driver,
            "EnableIPv6": self.enable_ipv6,
            "IPAM": {"Driver": "default", "Options": dict(self.ipam_options) or None,
                     "Config": [dict(c) for c in self.ipam_config]},
            "Internal": self.internal,
            "Attachable": self.attachable,
            "Ingress": False,
            "ConfigFrom": {"Network": ""},
            "ConfigOnly": False,
            "Containers": containers if containers is not None else {},
            "Options": dict(self.options),
            "Labels": dict(self.labels),
        }


@dataclass
class EndpointRecord:
    network_id: str
    endpoint_id: str
    ifname: str                      # inside the container: eth0, eth1, ...
    host_ifname: str = ""            # the veth's host end ("" for host / none)
    mac: str = ""
    ipv4: str = ""                   # address/prefix, e.g. 10.1.0.2/24
    ipv6: str = ""
    gateway: str = ""
    gateway6: str = ""
    default_route: bool = False      # this endpoint carries the default route
    aliases: list[str] = field(default_factory=list)
    dns_names: list[str] = field(default_factory=list)
    static_ipv4: str = ""            # IPAMConfig.IPv4Address as asked
    static_ipv6: str = ""
    ifb: str = ""                    # the ifb link of an egress rate limit


@dataclass
class SandboxRecord:
    container_id: str
    name: str
    mode: str                        # bridge-like | host | none | container
    netns: str | None
    sandbox_id: str
    files: dict[str, str] = field(default_factory=dict)
    endpoints: dict[str, EndpointRecord] = field(default_factory=dict)  # by network id
    ports: list[dict[str, Any]] = field(default_factory=list)   # nat.PortMapping fields
    exposed: list[str] = field(default_factory=list)            # "80/tcp" keys
    request: dict[str, Any] = field(default_factory=dict)       # ContainerNetRequest
    rate: str = ""

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        return doc

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> SandboxRecord:
        sb = _from(cls, raw)
        sb.endpoints = {k: _from(EndpointRecord, v) for k, v in raw.get("endpoints", {}).items()}
        return sb


@dataclass
class ServiceState:
    networks: dict[str, NetworkRecord] = field(default_factory=dict)
    ipam: IpamState = field(default_factory=IpamState)
    sandboxes: dict[str, SandboxRecord] = field(default_factory=dict)
    memberships: dict[str, dict[str, dict]] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({
            "schema": SCHEMA,
            "networks": {k: asdict(v) for k, v in self.networks.items()},
            "ipam": json.loads(self.ipam.to_json()),
            "sandboxes": {k: v.to_json() for k, v in self.sandboxes.items()},
            "memberships": self.memberships,
        }, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ServiceState:
        try:
            raw = json.loads(text)
            return cls(
                networks={k: _from(NetworkRecord, v) for k, v in raw["networks"].items()},
                ipam=IpamState.from_json(json.dumps(raw["ipam"])),
                sandboxes={k: SandboxRecord.from_json(v)
                           for k, v in raw.get("sandboxes", {}).items()},
                memberships=raw.get("memberships", {}),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise InvalidArgument(f"corrupt network state: {e}") from None

    def find_network(self, ref: str) -> NetworkRecord | None:
        """Docker's lookup order: full id, exact name, then a unique id prefix."""
        if ref in self.networks:
            return self.networks[ref]
        for n in self.networks.values():
            if n.name == ref:
                return n
        hits = [n for n in self.networks.values() if ref and n.id.startswith(ref)]
        return hits[0] if len(hits) == 1 else None


class StateFile:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / "state.json"

    def load(self) -> ServiceState:
        try:
            return ServiceState.from_json(self.path.read_text())
        except FileNotFoundError:
            return ServiceState()

    def save(self, state: ServiceState) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_name(f".state.json.{os.getpid()}")
        data = state.to_json().encode()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        dfd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
