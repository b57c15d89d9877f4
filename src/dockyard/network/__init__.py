"""The network room: bridges, veths, addresses, NAT, DNS and rate limits.

Input is a netns path plus settings (frozen dataclasses); this room never learns
what a container is and never imports the engine. The daemon composes it:

    ipam.Ipam            which subnet/address (pure; state persisted as JSON)
    bridge.create_bridge one Linux bridge per network (dy-<id>), gateway, MTU
    veth.attach          veth pair into a netns as eth0, address, default route
    nat.apply            the whole desired NAT/filter state, one nft transaction
    dockercompat         ACCEPT in DOCKER-USER when dockerd runs beside us
    dns.AsyncDnsServer   per-network names and aliases, forwarding the rest
                         (DnsServer: the same on threads, for tools and tests)
    resolvconf / hosts   /etc/resolv.conf, /etc/hosts, /etc/hostname content
    bandwidth            tc rate limits on the host end of a veth (+ an ifb)
    ports                hold published host ports; -P ephemeral ports

On top of the library, ``service.NetworkService`` is what the daemon uses (imported
from its own module, not re-exported here, so the library stays light):

    service              Docker's networks (bridge/host/none + user bridges), state
    state                the service's JSON state (networks, IPAM, sandboxes)
    netspec              network-create bodies and list/prune filters
    netns                per-container netns without forking (thread + unshare)
    endpoint*            a container's sandbox: veths, ports, files, NetworkSettings

pyroute2 and dnspython are imported only inside the functions that need them.
"""

from __future__ import annotations

from dockyard.network.bandwidth import RateLimit, apply_limits, clear_limits, parse_network_rate
from dockyard.network.bridge import BridgeSpec, create_bridge, delete_bridge, ensure_bridge
from dockyard.network.dns import DnsServer, NameTable, Upstream, host_resolvers
from dockyard.network.hosts import HostEntry, parse_add_host, render_hostname, render_hosts
from dockyard.network.ipam import (
    DEFAULT_POOLS,
    AddressPool,
    Ipam,
    IpamState,
    SubnetAllocation,
    SubnetRequest,
)
from dockyard.network.names import bridge_name, ifb_name, veth_name
from dockyard.network.nat import NatState, NetworkRules, PortMapping
from dockyard.network.nat import apply as apply_nat
from dockyard.network.nat import remove as remove_nat
from dockyard.network.ports import PortReservation, reserve, reserve_ephemeral
from dockyard.network.resolvconf import DnsSettings, render_resolv_conf
from dockyard.network.veth import EndpointInfo, EndpointSpec, attach, detach

__all__ = [
    "DEFAULT_POOLS",
    "AddressPool",
    "BridgeSpec",
    "DnsServer",
    "DnsSettings",
    "EndpointInfo",
    "EndpointSpec",
    "HostEntry",
    "Ipam",
    "IpamState",
    "NameTable",
    "NatState",
    "NetworkRules",
    "PortMapping",
    "PortReservation",
    "RateLimit",
    "SubnetAllocation",
    "SubnetRequest",
    "Upstream",
    "apply_limits",
    "apply_nat",
    "attach",
    "bridge_name",
    "clear_limits",
    "create_bridge",
    "delete_bridge",
    "detach",
    "ensure_bridge",
    "host_resolvers",
    "ifb_name",
    "parse_add_host",
    "parse_network_rate",
    "remove_nat",
    "render_hostname",
    "render_hosts",
    "render_resolv_conf",
    "reserve",
    "reserve_ephemeral",
    "veth_name",
]
