"""A container's side of the network: the request, the result, and one endpoint's plumbing.

``ContainerNetRequest`` is what the engine hands the service at container start;
``ContainerNet`` what it gets back (the netns the spec joins, the files to bind,
Docker's ``NetworkSettings``). ``plug``/``unplug`` put one endpoint (a veth into a
network's bridge, with address, route, MTU and rate limit) into a sandbox's netns
and take it out again, all or nothing.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from dockyard.network import bandwidth, veth
from dockyard.network.state import EndpointRecord, NetworkRecord

__all__ = ["ContainerNet", "ContainerNetRequest", "mac_for", "plug", "unplug"]


@dataclass(frozen=True)
class ContainerNetRequest:
    container_id: str
    name: str
    hostname: str
    domainname: str
    network_mode: str            # "" / default / bridge / host / none / container:<id> / <net>
    endpoints: dict              # NetworkingConfig.EndpointsConfig
    port_bindings: dict
    publish_all: bool
    exposed_ports: dict
    dns: list[str]
    dns_search: list[str]
    dns_options: list[str]
    extra_hosts: list[str]
    files_dir: str               # <data_root>/containers/<id>
    network_rate: str = ""       # dockyard extension: egress=..,ingress=..
    joined_netns: str | None = None   # container:<id> mode: the other's netns path

    def to_json(self) -> dict:
        from dataclasses import asdict

        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict) -> ContainerNetRequest:
        from dataclasses import fields

        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in names})


@dataclass(frozen=True)
class ContainerNet:
    netns: str | None            # path the spec joins; None = the host's network
    files: dict[str, str] = field(default_factory=dict)
    settings: dict = field(default_factory=dict)


def mac_for(ipv4: str) -> str:
    """Docker's rule: 02:42 then the four bytes of the IPv4 address (unique per subnet)."""
    ip = ipaddress.ip_interface(ipv4).ip.packed
    return "02:42:" + ":".join(f"{b:02x}" for b in ip)


def plug(netns_path: str, net: NetworkRecord, ep: EndpointRecord,
         rate: bandwidth.RateLimit | None = None) -> EndpointRecord:
    """The veth into ``net``'s bridge, configured; ``ep.mac`` is filled in."""
    addresses = tuple(a for a in (ep.ipv4, ep.ipv6) if a)
    gateways: tuple[str, ...] = ()
    if ep.default_route and not net.internal:
        gateways = tuple(g for g in (ep.gateway, ep.gateway6) if g)
    info = veth.attach(veth.EndpointSpec(
        host_ifname=ep.host_ifname, netns_path=netns_path, bridge=net.bridge,
        addresses=addresses, gateways=gateways, mtu=net.mtu, ifname=ep.ifname,
        mac=ep.mac or None, isolated=not net.icc))
    ep.mac = info.mac
    if rate is not None:
        try:
            bandwidth.apply_limits(ep.host_ifname, rate, ep.ifb or None)
        except BaseException:
            veth.detach(ep.host_ifname)
            raise
    return ep


def unplug(ep: EndpointRecord) -> None:
    """Remove the endpoint's links (the veth pair, the ifb); absent ones are fine."""
    if ep.ifb:
        if ep.host_ifname and _exists(ep.host_ifname):
            bandwidth.clear_limits(ep.host_ifname, ep.ifb)
        else:
            _drop_link(ep.ifb)
    if ep.host_ifname:
        veth.detach(ep.host_ifname)


def _exists(ifname: str) -> bool:
    from dockyard.network.names import link_exists

    return link_exists(ifname)


def _drop_link(ifname: str) -> None:
    import subprocess

    if _exists(ifname):
        subprocess.run(["ip", "link", "del", ifname], capture_output=True, timeout=30)
