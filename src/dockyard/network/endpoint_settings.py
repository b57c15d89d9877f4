"""Docker's ``NetworkSettings`` (container inspect) and a network's ``Containers`` entry,
rendered from the service's records.

Docker fills the top-level ``IPAddress``/``Gateway``/``MacAddress``/``EndpointID``
only for the default ``bridge`` network; every network, that one included, appears
under ``Networks`` by name.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from dockyard.network.endpoint_ports import ports_json
from dockyard.network.state import EndpointRecord, NetworkRecord, SandboxRecord

__all__ = ["container_entry", "empty_settings", "endpoint_settings", "network_settings"]


def _split(addr: str) -> tuple[str, int]:
    if not addr:
        return "", 0
    iface = ipaddress.ip_interface(addr)
    return str(iface.ip), iface.network.prefixlen


def endpoint_settings(ep: EndpointRecord, net: NetworkRecord, config: Mapping | None = None
                      ) -> dict:
    ip, plen = _split(ep.ipv4)
    ip6, plen6 = _split(ep.ipv6)
    ipam = None
    if ep.static_ipv4 or ep.static_ipv6:
        ipam = {"IPv4Address": ep.static_ipv4, "IPv6Address": ep.static_ipv6}
    return {
        "IPAMConfig": ipam,
        "Links": (config or {}).get("Links"),
        "Aliases": list(ep.aliases) or None,
        "NetworkID": net.id,
        "EndpointID": ep.endpoint_id,
        "Gateway": ep.gateway,
        "IPAddress": ip,
        "IPPrefixLen": plen,
        "IPv6Gateway": ep.gateway6,
        "GlobalIPv6Address": ip6,
        "GlobalIPv6PrefixLen": plen6,
        "MacAddress": ep.mac,
        "DriverOpts": (config or {}).get("DriverOpts"),
    }


def empty_settings(sandbox_key: str = "", sandbox_id: str = "") -> dict:
    return {
        "Bridge": "", "SandboxID": sandbox_id, "HairpinMode": False,
        "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0, "Ports": {},
        "SandboxKey": sandbox_key, "SecondaryIPAddresses": None,
        "SecondaryIPv6Addresses": None, "EndpointID": "", "Gateway": "",
        "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "IPAddress": "",
        "IPPrefixLen": 0, "IPv6Gateway": "", "MacAddress": "", "Networks": {},
    }


def network_settings(sb: SandboxRecord, networks: Mapping[str, NetworkRecord]) -> dict:
    out = empty_settings(sb.netns or "", sb.sandbox_id)
    out["Ports"] = ports_json(sb.ports, sb.exposed)
    configs = sb.request.get("endpoints") or {}
    for nid, ep in sb.endpoints.items():
        net = networks.get(nid)
        if net is None:
            continue
        cfg = configs.get(net.name) or configs.get(net.id) or {}
        doc = endpoint_settings(ep, net, cfg)
        out["Networks"][net.name] = doc
        if net.default_bridge:
            for key in ("EndpointID", "Gateway", "IPAddress", "IPPrefixLen", "IPv6Gateway",
                        "GlobalIPv6Address", "GlobalIPv6PrefixLen", "MacAddress"):
                out[key] = doc[key]
    return out


def container_entry(name: str, ep: EndpointRecord) -> dict:
    """One ``Containers`` entry of a network inspect."""
    return {"Name": name, "EndpointID": ep.endpoint_id, "MacAddress": ep.mac,
            "IPv4Address": ep.ipv4, "IPv6Address": ep.ipv6}
