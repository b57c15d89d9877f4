"""``/etc/hosts`` and ``/etc/hostname`` for a container (``--hostname``, ``--add-host``)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dockyard.errors import InvalidArgument

__all__ = ["HostEntry", "check_hostname", "parse_add_host", "render_hostname",
           "render_hosts"]

_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_DEFAULTS = (
    ("127.0.0.1", ("localhost",)),
    ("::1", ("localhost", "ip6-localhost", "ip6-loopback")),
    ("fe00::0", ("ip6-localnet",)),
    ("ff00::0", ("ip6-mcastprefix",)),
    ("ff02::1", ("ip6-allnodes",)),
    ("ff02::2", ("ip6-allrouters",)),
)


@dataclass(frozen=True)
class HostEntry:
    address: str
    names: tuple[str, ...]


def check_hostname(name: str) -> str:
    """RFC 1123: dot-separated labels of letters, digits, inner '-'; at most 253 bytes."""
    labels = name.rstrip(".").split(".")
    if not name or len(name) > 253 or not all(_LABEL.match(x) for x in labels):
        raise InvalidArgument(f"invalid hostname {name!r}: want RFC 1123 labels "
                              "(letters, digits, '-'; at most 63 per label)")
    return name


def parse_add_host(spec: str, host_gateway: str | None = None) -> HostEntry:
    """``name:ip`` or ``name=ip`` (the ip may be IPv6, with colons, or ``host-gateway``)."""
    sep = "=" if "=" in spec else ":"
    name, _, addr = spec.partition(sep)
    if not name or not addr:
        raise InvalidArgument(f"invalid --add-host {spec!r}: want NAME:IP")
    check_hostname(name)
    if addr == "host-gateway":
        if host_gateway is None:
            raise InvalidArgument("--add-host host-gateway: no host gateway is known")
        addr = host_gateway
    addr = addr.strip("[]")
    try:
        addr = str(ipaddress.ip_address(addr))
    except ValueError:
        raise InvalidArgument(f"invalid IP address in --add-host {spec!r}") from None
    return HostEntry(addr, (name,))


def render_hosts(hostname: str, addresses: Sequence[str] = (),
                 extra: Iterable[HostEntry] = (), aliases: Sequence[str] = (),
                 ipv6: bool = True) -> str:
    """Defaults, then ``--add-host`` entries, then the container's own addresses."""
    check_hostname(hostname)
    lines = [f"{a}\t{' '.join(n)}" for a, n in _DEFAULTS
             if ipv6 or ":" not in a]
    lines += [f"{e.address}\t{' '.join(e.names)}" for e in extra]
    names = " ".join(dict.fromkeys((hostname, *aliases)))
    lines += [f"{a}\t{names}" for a in addresses]
    return "\n".join(lines) + "\n"


def render_hostname(hostname: str) -> str:
    return check_hostname(hostname) + "\n"
