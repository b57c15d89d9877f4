"""The prefixes the host already uses, so IPAM's pools skip them.

Every address's subnet and every route's destination (default routes excepted: a
default route overlaps everything and says nothing about local use).
"""

from __future__ import annotations

import ipaddress

from dockyard.network.ipam import IPNetwork

__all__ = ["host_networks"]


def host_networks(netns: str | None = None) -> list[IPNetwork]:
    from pyroute2 import IPRoute

    found: set[IPNetwork] = set()
    kw = {"netns": netns, "flags": 0} if netns else {}
    with IPRoute(**kw) as ipr:
        for a in ipr.get_addr():
            ip = a.get("IFA_ADDRESS") or a.get("IFA_LOCAL")
            if ip:
                net = ipaddress.ip_interface(f"{ip}/{a['prefixlen']}").network
                if not net.is_loopback and not net.is_link_local:
                    found.add(net)
        for family in (2, 10):
            for r in ipr.get_routes(family=family, table=254):
                dst = r.get("RTA_DST")
                if dst and r["dst_len"] > 0:
                    net = ipaddress.ip_network(f"{dst}/{r['dst_len']}", strict=False)
                    if not net.is_link_local and not net.is_multicast:
                        found.add(net)
    return sorted(found, key=lambda n: (n.version, n))
