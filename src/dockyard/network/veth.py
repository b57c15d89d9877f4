"""Plug a container's network namespace into a bridge with a veth pair.

The peer is created directly inside the target netns (the veth is born with its
peer in place, so no temporary name ever exists in the host namespace), named
``eth0`` there, addressed, given the default route via the gateway, and the
namespace's loopback is brought up. The host end is enslaved to the bridge with
hairpin mode on, so a container can reach itself through a published port.

The netns is given as a path (``/proc/PID/ns/net`` or a bind-mounted file): this
room never learns what a container is.
"""

from __future__ import annotations

import errno
import ipaddress
import os
from dataclasses import dataclass

from dockyard.errors import Conflict, NotFound, SystemError_
from dockyard.network.names import check_addresses, check_ifname, check_mtu

__all__ = ["EndpointInfo", "EndpointSpec", "attach", "detach"]


@dataclass(frozen=True)
class EndpointSpec:
    """``addresses`` carry their prefix (``10.88.0.2/24``); ``gateways`` are bare IPs."""

    host_ifname: str
    netns_path: str
    bridge: str
    addresses: tuple[str, ...] = ()
    gateways: tuple[str, ...] = ()
    mtu: int = 1500
    ifname: str = "eth0"
    mac: str | None = None
    hairpin: bool = True
    isolated: bool = False  # icc=false: this port may not talk to other isolated ports

    def validate(self) -> None:
        check_ifname(self.host_ifname)
        check_ifname(self.ifname)
        check_mtu(self.mtu)
        check_addresses(self.addresses, "endpoint address")
        check_addresses(self.gateways, "gateway", with_prefix=False)


@dataclass(frozen=True)
class EndpointInfo:
    host_ifname: str
    mac: str


def _open_netns(path: str) -> int:
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NotFound(f"network namespace {path} does not exist") from None
    except OSError as e:
        raise SystemError_(f"open network namespace {path}: {e}") from e


def attach(spec: EndpointSpec) -> EndpointInfo:
    """Create and configure the pair; on any failure the pair is deleted again."""
    from pyroute2 import IPRoute, NetlinkError

    spec.validate()
    fd = _open_netns(spec.netns_path)
    with IPRoute() as ipr:
        bridges = ipr.link_lookup(ifname=spec.bridge)
        if not bridges:
            os.close(fd)
            raise NotFound(f"bridge {spec.bridge} does not exist")
        try:
            ipr.link("add", ifname=spec.host_ifname, kind="veth",
                     peer={"ifname": spec.ifname, "net_ns_fd": fd})
        except NetlinkError as e:
            if e.code == errno.EEXIST:
                raise Conflict(f"interface {spec.host_ifname} or {spec.ifname} in "
                               f"{spec.netns_path} already exists") from e
            raise SystemError_(f"create veth {spec.host_ifname}: {e}") from e
        finally:
            os.close(fd)
        try:
            mac = _configure_peer(spec)
            host = ipr.link_lookup(ifname=spec.host_ifname)[0]
            ipr.link("set", index=host, mtu=spec.mtu, master=bridges[0])
            if spec.hairpin:
                ipr.brport("set", index=host, mode=1)  # IFLA_BRPORT_MODE = hairpin
            if spec.isolated:
                ipr.brport("set", index=host, isolated=1)
            ipr.link("set", index=host, state="up")
        except BaseException as e:
            _delete(ipr, spec.host_ifname)
            if isinstance(e, (NetlinkError, OSError)):
                raise SystemError_(f"configure endpoint {spec.host_ifname}: {e}") from e
            raise
    return EndpointInfo(spec.host_ifname, mac)


def _configure_peer(spec: EndpointSpec) -> str:
    """Inside the namespace, from a thread that joined it (``netns.run_in``): pyroute2's
    own ``netns=`` mode forks, which a multi-threaded daemon must not do."""
    from dockyard.network import netns

    return netns.run_in(spec.netns_path, lambda: _configure_here(spec))


def _configure_here(spec: EndpointSpec) -> str:
    from pyroute2 import IPRoute

    with IPRoute() as ns:
        lo = ns.link_lookup(ifname="lo")
        if lo:
            ns.link("set", index=lo[0], state="up")
        idx = ns.link_lookup(ifname=spec.ifname)[0]
        settings: dict[str, object] = {"mtu": spec.mtu}
        if spec.mac:
            settings["address"] = spec.mac
        ns.link("set", index=idx, **settings)
        for a in spec.addresses:
            iface = ipaddress.ip_interface(a)
            ns.addr("add", index=idx, address=str(iface.ip),
                    prefixlen=iface.network.prefixlen, **_nodad(iface))
        ns.link("set", index=idx, state="up")
        for gw in spec.gateways:
            family = 10 if ipaddress.ip_address(gw).version == 6 else 2
            dst = "::/0" if family == 10 else "0.0.0.0/0"
            ns.route("add", dst=dst, gateway=gw, family=family)
        return ns.get_links(idx)[0].get("address")


def _nodad(iface: ipaddress.IPv4Interface | ipaddress.IPv6Interface) -> dict[str, int]:
    """IPv6 addresses skip duplicate detection (IFA_F_NODAD): IPAM already made them
    unique, and a tentative address would make the first seconds of a container fail."""
    return {"flags": 0x02} if iface.version == 6 else {}


def _delete(ipr, name: str) -> bool:
    from pyroute2 import NetlinkError

    found = ipr.link_lookup(ifname=name)
    if not found:
        return False
    try:
        ipr.link("del", index=found[0])
    except NetlinkError as e:
        if e.code != errno.ENODEV:
            raise SystemError_(f"delete veth {name}: {e}") from e
        return False
    return True


def detach(host_ifname: str) -> bool:
    """Delete the pair by its host end (the peer goes with it); False if absent.

    When the container's netns is already gone the kernel has removed the pair.
    """
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        return _delete(ipr, host_ifname)
