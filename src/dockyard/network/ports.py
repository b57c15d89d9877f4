"""Host ports for published container ports: reserve them, pick ephemeral ones (-P).

A published port is served by DNAT (``nat.py``), so no process listens on it. To keep
another program from taking it later (and to refuse a port another program already
holds, with Docker's message), the daemon keeps a bound, unused socket per published
(host IP, port, protocol): ``PortReservation``. Closing it frees the port. ``-P``
picks from the kernel's ephemeral range (``ip_local_port_range``), like Docker.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from dockyard.errors import Conflict, InvalidArgument, Unavailable

__all__ = ["PortReservation", "ephemeral_range", "reserve", "reserve_ephemeral"]


def ephemeral_range(path: str | Path = "/proc/sys/net/ipv4/ip_local_port_range"
                    ) -> tuple[int, int]:
    try:
        lo, hi = (int(x) for x in Path(path).read_text().split())
        return lo, hi
    except (OSError, ValueError):
        return 49153, 60999  # docker's fallback range


@dataclass
class PortReservation:
    host_ip: str | None
    port: int
    proto: str
    _socks: list[socket.socket] = field(default_factory=list, repr=False)

    def close(self) -> None:
        for s in self._socks:
            s.close()
        self._socks.clear()

    def __enter__(self) -> PortReservation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _bind(host_ip: str | None, port: int, proto: str) -> list[socket.socket]:
    kind = {"tcp": socket.SOCK_STREAM, "udp": socket.SOCK_DGRAM}.get(proto)
    if kind is None:
        raise InvalidArgument(f"cannot reserve {proto} ports: want tcp or udp")
    if host_ip is None:
        targets = [(socket.AF_INET, "0.0.0.0")]
        if socket.has_ipv6:
            targets.append((socket.AF_INET6, "::"))
    else:
        ip = ipaddress.ip_address(host_ip)
        targets = [(socket.AF_INET6 if ip.version == 6 else socket.AF_INET, str(ip))]
    made: list[socket.socket] = []
    try:
        for family, addr in targets:
            s = socket.socket(family, kind)
            made.append(s)
            if family == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind((addr, port))
    except OSError:
        for s in made:
            s.close()
        raise
    return made


def reserve(host_ip: str | None, port: int, proto: str = "tcp") -> PortReservation:
    """Hold ``port``; Conflict with Docker's wording when something else has it."""
    if not 1 <= port <= 65535:
        raise InvalidArgument(f"invalid port {port}: must be 1..65535")
    try:
        return PortReservation(host_ip, port, proto, _bind(host_ip, port, proto))
    except OSError as e:
        where = host_ip or "0.0.0.0"
        raise Conflict(f"Bind for {where}:{port} failed: port is already allocated "
                       f"({e.strerror})") from e


def reserve_ephemeral(host_ip: str | None = None, proto: str = "tcp",
                      skip: Iterable[int] = (),
                      port_range: tuple[int, int] | None = None) -> PortReservation:
    """The first free port of the ephemeral range, held (``-P``)."""
    lo, hi = port_range or ephemeral_range()
    avoid = set(skip)
    for port in range(lo, hi + 1):
        if port in avoid:
            continue
        try:
            return PortReservation(host_ip, port, proto, _bind(host_ip, port, proto))
        except OSError:
            continue
    raise Unavailable(f"no free {proto} port in {lo}-{hi}")
