"""Kernel link names for dockyard's bridges and veths, built from a prefix.

Linux allows 15 bytes (IFNAMSIZ - 1). The daemon uses prefix ``dy``; tests pass the
session token so a leak check, and other sessions, can tell their links apart.
"""

from __future__ import annotations

import re

from dockyard.errors import InvalidArgument

IFNAMSIZ_MAX = 15
_VALID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

__all__ = ["bridge_name", "check_addresses", "check_ifname", "check_mtu", "ifb_name",
           "link_exists", "link_names", "veth_name"]


def check_ifname(name: str) -> str:
    """Refuse a name the kernel would refuse (or truncate), with the reason."""
    if not name or len(name.encode()) > IFNAMSIZ_MAX:
        raise InvalidArgument(f"interface name {name!r} must be 1 to {IFNAMSIZ_MAX} bytes")
    if not _VALID.match(name) or name in (".", ".."):
        raise InvalidArgument(f"interface name {name!r} may hold only letters, digits, "
                              "'_', '.', '-'")
    return name


def _join(prefix: str, sep: str, ident: str) -> str:
    room = IFNAMSIZ_MAX - len(prefix) - len(sep)
    if room < 4:
        raise InvalidArgument(f"link name prefix {prefix!r} is too long (leaves {room} "
                              "characters for the id)")
    return check_ifname(f"{prefix}{sep}{ident[:room]}")


def bridge_name(network_id: str, prefix: str = "dy") -> str:
    """``dy-<short id>``: Docker's ``br-<id>`` in dockyard's own namespace of names."""
    return _join(prefix, "-", network_id)


def veth_name(endpoint_id: str, prefix: str = "dy") -> str:
    """The host end of a container's veth: ``dyv<short endpoint id>``."""
    return _join(prefix, "v", endpoint_id)


def ifb_name(endpoint_id: str, prefix: str = "dy") -> str:
    """The ifb link shaping a container's egress (``bandwidth.py``): ``dyi<short id>``."""
    return _join(prefix, "i", endpoint_id)


def check_mtu(mtu: int) -> int:
    if not 68 <= mtu <= 65535:
        raise InvalidArgument(f"invalid MTU {mtu}: must be 68..65535")
    return mtu


def check_addresses(values, what: str, *, with_prefix: bool = True) -> None:
    """Each value must be an address (``with_prefix``: an address/prefix, ``10.0.0.1/24``)."""
    import ipaddress

    parse = ipaddress.ip_interface if with_prefix else ipaddress.ip_address
    for value in values:
        try:
            parse(value)
        except ValueError:
            raise InvalidArgument(f"invalid {what} {value!r}") from None


def link_exists(name: str) -> bool:
    """Whether the calling thread's network namespace has a link ``name``. An ioctl, not
    /sys/class/net: sysfs shows the namespace it was mounted in, which is not ours
    when the daemon itself runs in a namespace entered with ``nsenter --net``."""
    import socket

    try:
        socket.if_nametoindex(name)
    except OSError:
        return False
    return True


def link_names() -> list[str]:
    """Every link of the calling thread's network namespace."""
    import socket

    return [name for _, name in socket.if_nameindex()]
