"""A network's Linux bridge: created with its gateway addresses and MTU, removed whole.

The bridge also gets ``route_localnet=1`` (for its own interface only): a port
published on 127.0.0.1 is DNATed from the loopback to a container behind this
bridge, and the kernel drops 127/8 sources leaving a non-loopback device without it
(``nat.py`` masquerades those packets so the container can answer).
"""

from __future__ import annotations

import errno
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from dockyard.errors import Conflict, SystemError_
from dockyard.network.names import check_addresses, check_ifname, check_mtu

__all__ = ["BridgeSpec", "bridge_exists", "create_bridge", "delete_bridge", "ensure_bridge"]

_CONF = Path("/proc/sys/net/ipv4/conf")


@dataclass(frozen=True)
class BridgeSpec:
    """``gateways`` are interface addresses with prefix, e.g. ``10.88.0.1/24``."""

    name: str
    gateways: tuple[str, ...] = ()
    mtu: int = 1500
    route_localnet: bool = True

    def validate(self) -> None:
        check_ifname(self.name)
        check_mtu(self.mtu)
        check_addresses(self.gateways, "gateway address")


def _iproute():
    from pyroute2 import IPRoute

    return IPRoute()


def _netlink_error(what: str, e: Exception) -> Exception:
    code = getattr(e, "code", None)
    if code == errno.EEXIST:
        return Conflict(f"{what}: already exists")
    return SystemError_(f"{what}: {e}")


def _nodad(iface: ipaddress.IPv4Interface | ipaddress.IPv6Interface) -> dict[str, int]:
    """IPv6 gateways skip duplicate detection (IFA_F_NODAD): usable at once."""
    return {"flags": 0x02} if iface.version == 6 else {}


def _random_mac() -> str:
    import secrets

    raw = bytearray(secrets.token_bytes(6))
    raw[0] = (raw[0] & 0xFC) | 0x02   # unicast, locally administered
    return ":".join(f"{b:02x}" for b in raw)


def bridge_exists(name: str) -> bool:
    with _iproute() as ipr:
        return bool(ipr.link_lookup(ifname=name))


def create_bridge(spec: BridgeSpec) -> int:
    """Create, address and bring up the bridge; on any failure nothing is left."""
    from pyroute2 import NetlinkError

    spec.validate()
    with _iproute() as ipr:
        try:
            ipr.link("add", ifname=spec.name, kind="bridge")
        except NetlinkError as e:
            raise _netlink_error(f"create bridge {spec.name}", e) from e
        try:
            index = ipr.link_lookup(ifname=spec.name)[0]
            # An explicit address: otherwise the bridge takes the lowest MAC of its
            # ports and changes it when a container joins, and every neighbour's ARP
            # entry for the gateway goes stale (lost packets for seconds).
            ipr.link("set", index=index, mtu=spec.mtu, address=_random_mac())
            for gw in spec.gateways:
                iface = ipaddress.ip_interface(gw)
                ipr.addr("add", index=index, address=str(iface.ip),
                         prefixlen=iface.network.prefixlen, **_nodad(iface))
            if spec.route_localnet:
                (_CONF / spec.name / "route_localnet").write_text("1\n")
            ipr.link("set", index=index, state="up")
            return index
        except BaseException as e:
            try:
                ipr.link("del", ifname=spec.name)
            except NetlinkError:
                pass
            if isinstance(e, (NetlinkError, OSError)):
                raise _netlink_error(f"set up bridge {spec.name}", e) from e
            raise


def ensure_bridge(spec: BridgeSpec) -> int:
    """Create the bridge, or bring an existing one (a daemon restart) to ``spec``:
    missing gateway addresses added, addresses not in ``spec`` removed, MTU set, up.
    Running containers keep their ports: the bridge itself is never re-made."""
    from pyroute2 import NetlinkError

    spec.validate()
    with _iproute() as ipr:
        found = ipr.link_lookup(ifname=spec.name)
        if not found:
            return create_bridge(spec)
        index = found[0]
        link = ipr.get_links(index)[0]
        if link.get_attr("IFLA_LINKINFO").get_attr("IFLA_INFO_KIND") != "bridge":
            raise Conflict(f"{spec.name} exists and is not a bridge")
        have = {(a.get("IFA_ADDRESS"), a["prefixlen"]) for a in ipr.get_addr(index=index)}
        want = {(str(ipaddress.ip_interface(g).ip), ipaddress.ip_interface(g).network.prefixlen)
                for g in spec.gateways}
        try:
            for addr, plen in have - want:
                # an address some earlier state gave this bridge: it must not keep
                # routing a subnet this network no longer owns
                if addr and not ipaddress.ip_address(addr).is_link_local:
                    ipr.addr("del", index=index, address=addr, prefixlen=plen)
            ipr.link("set", index=index, mtu=spec.mtu)
            for gw in spec.gateways:
                iface = ipaddress.ip_interface(gw)
                if (str(iface.ip), iface.network.prefixlen) not in have:
                    ipr.addr("add", index=index, address=str(iface.ip),
                             prefixlen=iface.network.prefixlen, **_nodad(iface))
            if spec.route_localnet:
                (_CONF / spec.name / "route_localnet").write_text("1\n")
            ipr.link("set", index=index, state="up")
        except (NetlinkError, OSError) as e:
            raise _netlink_error(f"restore bridge {spec.name}", e) from e
        return index


def delete_bridge(name: str) -> bool:
    """Remove the bridge (its ports are detached by the kernel); False if absent."""
    from pyroute2 import NetlinkError

    with _iproute() as ipr:
        found = ipr.link_lookup(ifname=name)
        if not found:
            return False
        try:
            ipr.link("del", index=found[0])
        except NetlinkError as e:
            if e.code == errno.ENODEV:
                return False
            raise SystemError_(f"delete bridge {name}: {e}") from e
        return True
