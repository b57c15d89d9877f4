"""NAT and filtering for dockyard's bridges, in dockyard's own nftables tables.

The daemon keeps a ``NatState`` (every bridge network and every published port)
and calls ``apply``; ``render`` turns the whole state into one ``nft -f`` script that
deletes and re-creates dockyard's tables, so the kernel swaps old rules for new in one
transaction: never a moment with half a ruleset, and nothing left from an earlier
state. Only the ``inet`` table named ``table`` is touched: docker's and iptables'
tables are never read or written here (``dockercompat`` handles the one hook into
iptables that coexistence with dockerd needs).

Choices:
- *127.0.0.1 bindings* are DNATed in the kernel (output hook), not proxied: the bridge
  has ``route_localnet=1`` (``bridge.py``) and packets from 127/8 leaving through the
  bridge are masqueraded so the container can answer. No proxy process to start,
  track or restart, and loopback throughput is the kernel's.
- *hairpin*: a container reaching a published port of its own network is DNATed in
  prerouting and masqueraded on the way back into the bridge (the bridge port has
  hairpin mode on, ``veth.py``), so replies pass back through the NAT.
- *isolation*: forwarding from one dockyard bridge to another is dropped; an
  ``internal`` network may not forward to or from anything but itself.
- *icc=false* is not a rule here: frames between two ports of one bridge are switched,
  never routed, so the bridge does it itself with port isolation
  (``EndpointSpec.isolated`` in ``veth.py``: isolated ports reach the gateway but not
  each other). ``NetworkRules.icc`` is kept so the state says what the network is.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
from dataclasses import dataclass, field

from dockyard.errors import Conflict, InvalidArgument, SystemError_, Unavailable
from dockyard.network.names import check_ifname

__all__ = ["NatState", "NetworkRules", "PortMapping", "apply", "remove", "render"]

MAX_RANGE_RULES = 4096


@dataclass(frozen=True)
class PortMapping:
    """``-p [host_ip:]host_port[-end]:container_port[-end][/proto]``; ports end-inclusive.

    ``host_ip`` None means every host address (0.0.0.0 and ::).
    """

    container_ip: str
    container_port: int
    host_port: int
    proto: str = "tcp"
    host_ip: str | None = None
    host_port_end: int | None = None
    container_port_end: int | None = None

    def validate(self) -> None:
        if self.proto not in ("tcp", "udp", "sctp"):
            raise InvalidArgument(f"invalid protocol {self.proto!r}: want tcp, udp or sctp")
        for p in (self.container_port, self.host_port, self.host_port_end,
                  self.container_port_end):
            if p is not None and not (isinstance(p, int) and 1 <= p <= 65535):
                raise InvalidArgument(f"invalid port {p!r}: must be 1..65535")
        if self.host_port_end is not None and self.host_port_end < self.host_port:
            raise InvalidArgument(f"invalid port range {self.host_port}-{self.host_port_end}")
        if self.container_port_end is not None:
            if self.container_port_end < self.container_port:
                raise InvalidArgument(
                    f"invalid port range {self.container_port}-{self.container_port_end}")
            if self.container_port_end - self.container_port != self.host_span - 1:
                raise InvalidArgument("host and container port ranges differ in length")
        if self.host_span > MAX_RANGE_RULES:
            raise InvalidArgument(f"port range longer than {MAX_RANGE_RULES}")
        for ip in (self.container_ip, self.host_ip):
            if ip is not None:
                try:
                    ipaddress.ip_address(ip)
                except ValueError:
                    raise InvalidArgument(f"invalid IP address {ip!r}") from None
        if self.host_ip is not None and ipaddress.ip_address(self.host_ip) == \
                ipaddress.IPv6Address("::1"):
            # IPv6 has no route_localnet: ::1 can never be routed out to a bridge
            raise InvalidArgument("publishing on ::1 is not supported (IPv6 cannot route "
                                  "loopback traffic to a container); use 127.0.0.1")
        if self.host_ip is not None and (ipaddress.ip_address(self.host_ip).version
                                         != ipaddress.ip_address(self.container_ip).version):
            raise InvalidArgument(f"host IP {self.host_ip} and container IP "
                                  f"{self.container_ip} are of different families")

    @property
    def host_span(self) -> int:
        return (self.host_port_end or self.host_port) - self.host_port + 1

    def pairs(self) -> list[tuple[int, int]]:
        """(host port, container port) per port; a single container port serves all."""
        if self.container_port_end is None:
            return [(self.host_port + i, self.container_port) for i in range(self.host_span)]
        return [(self.host_port + i, self.container_port + i) for i in range(self.host_span)]


@dataclass(frozen=True)
class NetworkRules:
    bridge: str
    subnets: tuple[str, ...]
    internal: bool = False
    icc: bool = True
    masquerade: bool = True


@dataclass(frozen=True)
class NatState:
    networks: tuple[NetworkRules, ...] = ()
    ports: tuple[PortMapping, ...] = field(default=())


def _fam(ip: str) -> str:
    return "ip6" if ipaddress.ip_address(ip).version == 6 else "ip"


def _check_ports(ports: tuple[PortMapping, ...]) -> None:
    """Two mappings may not claim the same host (address, port, protocol)."""
    seen: dict[tuple[str, int], list[PortMapping]] = {}
    for m in ports:
        m.validate()
        for hp, _ in m.pairs():
            for other in seen.get((m.proto, hp), []):
                a, b = m.host_ip, other.host_ip
                if a is None or b is None or a == b:
                    where = a or b or "0.0.0.0"
                    raise Conflict(f"Bind for {where}:{hp} failed: port is already allocated")
            seen.setdefault((m.proto, hp), []).append(m)


def _check_table(table: str) -> None:
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{0,63}", table):
        raise InvalidArgument(f"invalid nftables table name {table!r}")


def _validate(state: NatState, table: str) -> None:
    _check_table(table)
    bridges = set()
    for n in state.networks:
        check_ifname(n.bridge)
        if n.bridge in bridges:
            raise Conflict(f"bridge {n.bridge} listed twice")
        bridges.add(n.bridge)
        for s in n.subnets:
            try:
                ipaddress.ip_network(s)
            except ValueError:
                raise InvalidArgument(f"invalid subnet {s!r}") from None
    _check_ports(state.ports)


def _forward_rules(state: NatState) -> list[str]:
    names = [n.bridge for n in state.networks]
    out = []
    for n in state.networks:
        others = [b for b in names if b != n.bridge]
        if n.internal:
            out.append(f'iifname "{n.bridge}" oifname != "{n.bridge}" drop')
            out.append(f'oifname "{n.bridge}" iifname != "{n.bridge}" drop')
        elif others:
            out.append(f'iifname "{n.bridge}" oifname {{ {", ".join(map(_q, others))} }} drop')
    if names:
        bridges = "{ " + ", ".join(map(_q, names)) + " }"
        out.append(f"oifname {bridges} ct state established,related accept")
        out.append(f"oifname {bridges} ct status dnat accept")
        out.append(f"iifname {bridges} accept")
    return out


def _q(name: str) -> str:
    return f'"{name}"'


def _dnat_rules(state: NatState) -> list[str]:
    out = []
    for m in state.ports:
        fam = _fam(m.container_ip)
        match = f"{fam} daddr {m.host_ip} " if m.host_ip else f"meta nfproto {_nfproto(fam)} "
        target = f"[{m.container_ip}]" if fam == "ip6" else m.container_ip
        if m.container_port_end is None:
            dport = (f"{m.host_port}-{m.host_port_end}" if m.host_port_end
                     and m.host_port_end != m.host_port else str(m.host_port))
            out.append(f"{match}{m.proto} dport {dport} dnat {fam} to "
                       f"{target}:{m.container_port}")
        else:
            for hp, cp in m.pairs():
                out.append(f"{match}{m.proto} dport {hp} dnat {fam} to {target}:{cp}")
    return out


def _nfproto(fam: str) -> str:
    return "ipv6" if fam == "ip6" else "ipv4"


def _postrouting_rules(state: NatState) -> list[str]:
    out = []
    for n in state.networks:
        out.append(f'oifname "{n.bridge}" ip saddr 127.0.0.0/8 masquerade')
        for s in n.subnets:
            fam = "ip6" if ipaddress.ip_network(s).version == 6 else "ip"
            # hairpin: a container of this network reaching a published port here
            out.append(f'oifname "{n.bridge}" {fam} saddr {s} ct status dnat masquerade')
            if n.masquerade and not n.internal:
                out.append(f'{fam} saddr {s} oifname != "{n.bridge}" masquerade')
    return out


def render(state: NatState, table: str = "dockyard") -> str:
    """The complete ``nft -f`` script for ``state`` (idempotent: replaces the tables)."""
    _validate(state, table)
    lines = [
        f"table inet {table} {{}}",
        f"delete table inet {table}",
        f"table inet {table} {{",
        "  chain forward {",
        "    type filter hook forward priority -10; policy accept;",
        *(f"    {r}" for r in _forward_rules(state)),
        "  }",
        "  chain published {",
        *(f"    {r}" for r in _dnat_rules(state)),
        "  }",
        "  chain prerouting {",
        "    type nat hook prerouting priority -100; policy accept;",
        "    fib daddr type local jump published",
        "  }",
        "  chain output {",
        "    type nat hook output priority -100; policy accept;",
        "    fib daddr type local jump published",
        "  }",
        "  chain postrouting {",
        "    type nat hook postrouting priority 100; policy accept;",
        *(f"    {r}" for r in _postrouting_rules(state)),
        "  }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def _nft(script: str) -> None:
    nft = shutil.which("nft")
    if nft is None:
        raise Unavailable("the nft command is not installed (Debian package nftables)")
    proc = subprocess.run([nft, "-f", "-"], input=script, capture_output=True,
                          text=True, timeout=30)
    if proc.returncode != 0:
        raise SystemError_(f"nft rejected dockyard's ruleset: {proc.stderr.strip()}")


def apply(state: NatState, table: str = "dockyard") -> None:
    """Make the kernel's dockyard tables equal ``state``, in one transaction."""
    _nft(render(state, table))


def remove(table: str = "dockyard") -> None:
    """Delete dockyard's tables (creating them first makes this idempotent)."""
    _check_table(table)
    _nft(f"table inet {table} {{}}\ndelete table inet {table}\n")
