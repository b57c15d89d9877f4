"""IP address management: which subnet a network gets, which address a container gets.

Pure bookkeeping, no kernel calls: the daemon stores ``IpamState.to_json()`` and hands
in the host's own routes/addresses (``dockyard.network.hostnets``) as ``reserved``, so
a new network never shadows a LAN the host already reaches.

Vocabulary (Docker's):
- *pool*: a base prefix cut into equal-sized subnets (``default-address-pools`` in
  daemon.json: ``{"base": "10.10.0.0/16", "size": 24}``).
- *subnet*: what one network owns; its *gateway* is the bridge's address (first usable
  address unless asked), its *ip-range* the part containers are allocated from.
- a *static* request (``--ip``) must lie in the subnet, outside the gateway, and free.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from dockyard.errors import Conflict, InvalidArgument, NotFound, Unavailable

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

__all__ = [
    "DEFAULT_POOLS",
    "AddressPool",
    "Ipam",
    "IpamState",
    "SubnetAllocation",
    "SubnetRequest",
    "parse_address",
    "parse_subnet",
]


def parse_subnet(text: str, what: str = "subnet") -> IPNetwork:
    """A CIDR, strictly: host bits set (``10.0.0.1/24``) is an error, as in Docker."""
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError as e:
        raise InvalidArgument(f"invalid {what} {text!r}: {e}") from None
    except TypeError:
        raise InvalidArgument(f"invalid {what} {text!r}: not a string") from None


def parse_address(text: str, what: str = "address") -> IPAddress:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise InvalidArgument(f"invalid {what} {text!r}: not an IPv4 or IPv6 address") \
            from None


@dataclass(frozen=True)
class AddressPool:
    """``base`` cut into ``/size`` subnets, tried in order."""

    base: str
    size: int

    def network(self) -> IPNetwork:
        net = parse_subnet(self.base, "address pool base")
        limit = 32 if net.version == 4 else 128
        if not net.prefixlen <= self.size <= limit:
            raise InvalidArgument(
                f"invalid address pool {self.base} size {self.size}: size must be "
                f"between {net.prefixlen} and {limit}")
        return net

    @classmethod
    def from_daemon_json(cls, entry: object) -> AddressPool:
        if not isinstance(entry, dict) or "base" not in entry or "size" not in entry:
            raise InvalidArgument(
                f"invalid default-address-pools entry {entry!r}: want {{'base', 'size'}}")
        size = entry["size"]
        if not isinstance(size, int) or isinstance(size, bool):
            raise InvalidArgument(f"invalid default-address-pools size {size!r}")
        pool = cls(str(entry["base"]), size)
        pool.network()
        return pool


# Docker's built-in defaults: 172.17-31.x.x as /16s, then 192.168.x.x as /20s.
DEFAULT_POOLS: tuple[AddressPool, ...] = (
    AddressPool("172.17.0.0/16", 16), AddressPool("172.18.0.0/15", 16),
    AddressPool("172.20.0.0/14", 16), AddressPool("172.24.0.0/14", 16),
    AddressPool("172.28.0.0/14", 16), AddressPool("192.168.0.0/16", 20),
)


@dataclass(frozen=True)
class SubnetRequest:
    """What a network asks for in one address family; all fields optional for v4."""

    subnet: str | None = None
    gateway: str | None = None
    ip_range: str | None = None
    ipv6: bool = False  # with no subnet: allocate from the v6 pools


@dataclass
class SubnetAllocation:
    """One subnet owned by one network, and the addresses handed out in it."""

    subnet: str
    gateway: str
    ip_range: str | None = None
    allocated: list[str] = field(default_factory=list)
    auxiliary: bool = False  # True when the caller chose the subnet (never reused by pools)

    @property
    def network(self) -> IPNetwork:
        return ipaddress.ip_network(self.subnet)

    def usable(self) -> IPNetwork:
        return ipaddress.ip_network(self.ip_range) if self.ip_range else self.network


@dataclass
class IpamState:
    """Everything IPAM remembers; the daemon persists it as JSON."""

    networks: dict[str, list[SubnetAllocation]] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"networks": {
            nid: [vars(a) for a in allocs] for nid, allocs in sorted(self.networks.items())
        }}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> IpamState:
        try:
            raw = json.loads(text)
            nets = {nid: [SubnetAllocation(**a) for a in allocs]
                    for nid, allocs in raw["networks"].items()}
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise InvalidArgument(f"corrupt IPAM state: {e}") from None
        return cls(nets)


def _first_host(net: IPNetwork) -> IPAddress:
    if net.num_addresses <= 2:
        return net.network_address
    return net.network_address + 1


def _is_reserved(ip: IPAddress, alloc: SubnetAllocation) -> bool:
    net = alloc.network
    if ip == ipaddress.ip_address(alloc.gateway):
        return True
    if net.num_addresses > 2 and ip == net.network_address:
        return True
    return net.version == 4 and net.num_addresses > 2 and ip == net.broadcast_address


class Ipam:
    """Allocate and release subnets and addresses over an ``IpamState``.

    ``reserved`` are prefixes the host already uses (its routes and addresses); a
    pool subnet overlapping one is skipped, an explicit subnet overlapping one is
    refused only when it overlaps another dockyard network (the user asked for it).
    """

    def __init__(self, state: IpamState | None = None,
                 pools: Iterable[AddressPool] = DEFAULT_POOLS,
                 v6_pools: Iterable[AddressPool] = (),
                 reserved: Iterable[IPNetwork] = ()) -> None:
        self.state = state or IpamState()
        self.pools = tuple(pools)
        self.v6_pools = tuple(v6_pools)
        for p in (*self.pools, *self.v6_pools):
            p.network()
        self.reserved = tuple(reserved)

    # -- networks ---------------------------------------------------------------
    def _owned(self) -> list[IPNetwork]:
        return [a.network for allocs in self.state.networks.values() for a in allocs]

    def _overlapping(self, net: IPNetwork) -> str | None:
        for nid, allocs in self.state.networks.items():
            for a in allocs:
                if a.network.version == net.version and a.network.overlaps(net):
                    return f"{a.subnet} (network {nid})"
        return None

    def allocate_network(self, network_id: str,
                         requests: Iterable[SubnetRequest] = (SubnetRequest(),)
                         ) -> list[SubnetAllocation]:
        """Give ``network_id`` one subnet per request; all or nothing."""
        if network_id in self.state.networks:
            raise Conflict(f"network {network_id} already has addresses allocated")
        made: list[SubnetAllocation] = []
        self.state.networks[network_id] = made
        try:
            for req in requests:
                made.append(self._allocate_subnet(req))
        except BaseException:
            del self.state.networks[network_id]
            raise
        return list(made)

    def _allocate_subnet(self, req: SubnetRequest) -> SubnetAllocation:
        if req.subnet is None:
            if req.gateway or req.ip_range:
                raise InvalidArgument("gateway and ip-range need an explicit subnet")
            net = self._from_pools(6 if req.ipv6 else 4)
            return SubnetAllocation(str(net), str(_first_host(net)))
        net = parse_subnet(req.subnet)
        clash = self._overlapping(net)
        if clash:
            raise Conflict(f"subnet {net} overlaps with {clash}: pool overlaps with other one "
                           "on this address space")
        ip_range = None
        if req.ip_range:
            rng = parse_subnet(req.ip_range, "ip-range")
            if rng.version != net.version or not rng.subnet_of(net):  # type: ignore[arg-type]
                raise InvalidArgument(f"ip-range {rng} is not inside subnet {net}")
            ip_range = str(rng)
        if req.gateway:
            gw = parse_address(req.gateway, "gateway")
            if gw not in net:
                raise InvalidArgument(f"gateway {gw} is not inside subnet {net}")
        else:
            gw = _first_host(net)
        return SubnetAllocation(str(net), str(gw), ip_range, auxiliary=True)

    def _from_pools(self, version: int) -> IPNetwork:
        pools = self.pools if version == 4 else self.v6_pools
        if not pools:
            raise InvalidArgument("no IPv6 address pool is configured: give an IPv6 subnet")
        taken = [n for n in (*self._owned(), *self.reserved) if n.version == version]
        for pool in pools:
            base = pool.network()
            for cand in base.subnets(new_prefix=pool.size):
                if not any(cand.overlaps(t) for t in taken):
                    return cand
        raise Unavailable("all predefined address pools have been fully subnetted")

    def release_network(self, network_id: str) -> None:
        if self.state.networks.pop(network_id, None) is None:
            raise NotFound(f"network {network_id} has no addresses allocated")

    def subnets(self, network_id: str) -> list[SubnetAllocation]:
        try:
            return list(self.state.networks[network_id])
        except KeyError:
            raise NotFound(f"network {network_id} has no addresses allocated") from None

    # -- addresses --------------------------------------------------------------
    def allocate_address(self, network_id: str, static: str | None = None,
                         version: int = 4) -> IPAddress:
        """Hand out ``static`` if free, else the lowest free address of the ip-range."""
        allocs = self.subnets(network_id)
        if static is not None:
            ip = parse_address(static, "IP address")
            for a in allocs:
                if ip in a.network:
                    return self._take_static(a, ip)
            raise InvalidArgument(
                f"address {ip} is not in any subnet of network {network_id} "
                f"({', '.join(a.subnet for a in allocs)})")
        for a in allocs:
            if a.network.version == version:
                return self._take_next(a)
        raise InvalidArgument(f"network {network_id} has no IPv{version} subnet")

    def _take_static(self, a: SubnetAllocation, ip: IPAddress) -> IPAddress:
        if _is_reserved(ip, a):
            raise InvalidArgument(f"address {ip} is reserved in {a.subnet} "
                                  "(network, broadcast or gateway address)")
        if str(ip) in a.allocated:
            raise Conflict(f"address {ip} is already in use")
        a.allocated.append(str(ip))
        return ip

    def _take_next(self, a: SubnetAllocation) -> IPAddress:
        used = set(a.allocated)
        for ip in a.usable():
            if str(ip) not in used and not _is_reserved(ip, a):
                a.allocated.append(str(ip))
                return ip
            if len(used) > 65536 * 4:  # pragma: no cover - absurd sizes
                break
        raise Unavailable(f"no available IPv{a.network.version} addresses in {a.usable()}")

    def release_address(self, network_id: str, address: str) -> None:
        ip = str(parse_address(address))
        for a in self.subnets(network_id):
            if ip in a.allocated:
                a.allocated.remove(ip)
                return
        raise NotFound(f"address {ip} is not allocated in network {network_id}")
