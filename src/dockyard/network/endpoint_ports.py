"""Docker's ``PortBindings``/``ExposedPorts``/``-P`` turned into DNAT mappings and held
host ports, all or nothing.

- key ``"80/tcp"`` (or ``"80"``, or a range ``"8000-8010/udp"``);
- binding ``{"HostIp": "", "HostPort": ""}``: empty or ``0`` port means an ephemeral
  one; ``"8000-8010"`` for one container port means the first free port in the range;
  an empty or ``0.0.0.0`` address means every IPv4 address of the host (the daemon's
  ``ip`` setting, or the network's ``host_binding_ipv4``, can narrow that default);
- ``publish_all`` (``-P``) publishes every exposed port without a binding on an
  ephemeral port.

Every host port is held by a bound socket (``ports.reserve``), so a port another
program (or container) has is a clear Conflict and nothing else takes ours later.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from dockyard.errors import Conflict, InvalidArgument
from dockyard.network import ports
from dockyard.network.nat import PortMapping

__all__ = ["PortPlan", "parse_port_key", "plan_ports", "ports_json"]


def parse_port_key(key: str) -> tuple[int, int, str]:
    """``"80/tcp"`` -> (80, 80, "tcp"); ``"80-82/udp"`` -> (80, 82, "udp")."""
    text, _, proto = str(key).partition("/")
    proto = (proto or "tcp").lower()
    if proto not in ("tcp", "udp", "sctp"):
        raise InvalidArgument(f"invalid proto: {proto}")
    lo, dash, hi = text.partition("-")
    try:
        start = int(lo)
        end = int(hi) if dash else start
    except ValueError:
        raise InvalidArgument(f"invalid containerPort: {text}") from None
    if not (1 <= start <= end <= 65535):
        raise InvalidArgument(f"invalid containerPort: {text}")
    return start, end, proto


def _host_range(text: str) -> tuple[int, int] | None:
    """None for an ephemeral port; (start, end) otherwise."""
    text = (text or "").strip()
    if text in ("", "0"):
        return None
    lo, dash, hi = text.partition("-")
    try:
        start = int(lo)
        end = int(hi) if dash else start
    except ValueError:
        raise InvalidArgument(f"invalid hostPort: {text}") from None
    if not (1 <= start <= end <= 65535):
        raise InvalidArgument(f"invalid hostPort: {text}")
    return start, end


def _host_ip(text: str | None, default: str) -> str | None:
    value = (text or "").strip().strip("[]") or default
    if value in ("", "0.0.0.0"):
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise InvalidArgument(f"invalid host IP address: {value}") from None


@dataclass
class PortPlan:
    mappings: list[PortMapping] = field(default_factory=list)
    holds: list[ports.PortReservation] = field(default_factory=list)
    exposed: list[str] = field(default_factory=list)

    def close(self) -> None:
        for h in self.holds:
            h.close()
        self.holds.clear()

    def mapping_dicts(self) -> list[dict]:
        return [asdict(m) for m in self.mappings]


def _reserve(plan: PortPlan, host_ip: str | None, port: int, proto: str) -> None:
    if proto == "sctp":
        return  # no socket type to hold an SCTP port with: DNAT only
    plan.holds.append(ports.reserve(host_ip, port, proto))


def _ephemeral(plan: PortPlan, host_ip: str | None, proto: str,
               port_range: tuple[int, int] | None = None) -> int:
    if proto == "sctp":
        raise InvalidArgument("an SCTP port must be published on an explicit host port")
    taken = [h.port for h in plan.holds if h.proto == proto]
    hold = ports.reserve_ephemeral(host_ip, proto, skip=taken, port_range=port_range)
    plan.holds.append(hold)
    return hold.port


def plan_ports(container_ip: str, port_bindings: dict | None, exposed_ports: dict | None,
               publish_all: bool, default_host_ip: str = "",
               ephemeral_range: tuple[int, int] | None = None) -> PortPlan:
    """The mappings for one container, with every host port held; on error none are."""
    plan = PortPlan()
    bindings = dict(port_bindings or {})
    keys = list(dict.fromkeys([*(exposed_ports or {}), *bindings]))
    fam = ipaddress.ip_address(container_ip).version
    try:
        for key in keys:
            c_start, c_end, proto = parse_port_key(key)
            plan.exposed.append(f"{c_start}/{proto}" if c_start == c_end
                                else f"{c_start}-{c_end}/{proto}")
            binds = bindings.get(key)
            if not binds:
                if not (publish_all and key in (exposed_ports or {})):
                    continue
                binds = [{}]
            for b in binds:
                if b is not None and not isinstance(b, dict):
                    raise InvalidArgument(f"invalid port binding for {key}: {b!r}")
                b = b or {}
                host_ip = _host_ip(b.get("HostIp"), default_host_ip)
                if host_ip is not None and ipaddress.ip_address(host_ip).version != fam:
                    raise InvalidArgument(
                        f"cannot publish {key} on {host_ip}: the container has no "
                        f"IPv{ipaddress.ip_address(host_ip).version} address")
                _plan_one(plan, container_ip, c_start, c_end, proto, host_ip,
                          _host_range(str(b.get("HostPort") or "")), ephemeral_range)
        for m in plan.mappings:
            m.validate()
        _check_overlap(plan.mappings)
    except BaseException:
        plan.close()
        raise
    return plan


def _plan_one(plan: PortPlan, cip: str, c_start: int, c_end: int, proto: str,
              host_ip: str | None, host: tuple[int, int] | None,
              eph: tuple[int, int] | None) -> None:
    span = c_end - c_start + 1
    if span == 1:
        if host is None:
            port = _ephemeral(plan, host_ip, proto, eph)
        elif host[0] == host[1]:
            port = host[0]
            _reserve(plan, host_ip, port, proto)
        else:  # a host range for one container port: the first free one
            port = _ephemeral(plan, host_ip, proto, host)
        plan.mappings.append(PortMapping(cip, c_start, port, proto, host_ip))
        return
    if host is None:
        starts = [_ephemeral(plan, host_ip, proto, eph) for _ in range(span)]
        for i, hp in enumerate(starts):
            plan.mappings.append(PortMapping(cip, c_start + i, hp, proto, host_ip))
        return
    if host[1] - host[0] + 1 != span:
        raise InvalidArgument(f"invalid ranges specified for container and host ports: "
                              f"{c_start}-{c_end} and {host[0]}-{host[1]}")
    for hp in range(host[0], host[1] + 1):
        _reserve(plan, host_ip, hp, proto)
    plan.mappings.append(PortMapping(cip, c_start, host[0], proto, host_ip,
                                     host_port_end=host[1], container_port_end=c_end))


def _check_overlap(mappings: Iterable[PortMapping]) -> None:
    seen: set[tuple[str, str | None, int]] = set()
    for m in mappings:
        for hp, _ in m.pairs():
            k = (m.proto, m.host_ip, hp)
            if k in seen:
                raise Conflict(f"Bind for {m.host_ip or '0.0.0.0'}:{hp} failed: port is "
                               "already allocated")
            seen.add(k)


def ports_json(mappings: Iterable[dict], exposed: Iterable[str]) -> dict:
    """Docker's ``NetworkSettings.Ports``: every exposed port, null when unpublished."""
    out: dict[str, list[dict] | None] = {}
    for key in exposed:
        start, end, proto = parse_port_key(key)
        for p in range(start, end + 1):
            out.setdefault(f"{p}/{proto}", None)
    for raw in mappings:
        m = PortMapping(**raw)
        for hp, cp in m.pairs():
            key = f"{cp}/{m.proto}"
            entries = out.get(key) or []
            entries.append({"HostIp": m.host_ip or "0.0.0.0", "HostPort": str(hp)})
            out[key] = entries
    return out
