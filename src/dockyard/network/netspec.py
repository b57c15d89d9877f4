"""``POST /networks/create`` bodies checked and turned into a record, and the filters of
``GET /networks`` and ``POST /networks/prune``; pure (no kernel, no state).

Docker's words are kept where clients show them: an unknown driver is
``plugin "x" not found``, ``host``/``null`` may exist once, an IPAM config without a
subnet but with a gateway is refused, ``EnableIPv6`` needs an IPv6 subnet (or
``fixed-cidr-v6``), option values are strings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from dockyard.errors import Forbidden, InvalidArgument, NotFound
from dockyard.network.ipam import SubnetRequest, parse_address, parse_subnet
from dockyard.network.names import check_ifname, check_mtu
from dockyard.network.state import NetworkRecord

__all__ = ["CreateRequest", "matches", "parse_bool_option", "parse_create"]

NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
OPT_BRIDGE = "com.docker.network.bridge.name"
OPT_MTU = "com.docker.network.driver.mtu"
OPT_ICC = "com.docker.network.bridge.enable_icc"
OPT_MASQ = "com.docker.network.bridge.enable_ip_masquerade"
OPT_HOST_IP = "com.docker.network.bridge.host_binding_ipv4"
OPT_DEFAULT = "com.docker.network.bridge.default_bridge"
LIST_FILTERS = {"name", "id", "driver", "label", "type", "scope", "dangling"}
PRUNE_FILTERS = {"until", "label", "label!"}


def parse_bool_option(value: object, key: str) -> bool:
    text = str(value).strip().lower()
    if text in ("1", "t", "true", "yes", "on"):
        return True
    if text in ("0", "f", "false", "no", "off"):
        return False
    raise InvalidArgument(f"invalid value {value!r} for option {key}: want true or false")


@dataclass
class CreateRequest:
    record: NetworkRecord          # id/created/bridge filled by the service
    subnets: list[SubnetRequest]
    bridge_given: bool


def _str_map(raw: object, what: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidArgument(f"invalid {what}: expected a JSON object")
    out = {}
    for k, v in raw.items():
        if not isinstance(v, (str, int, float, bool)):
            raise InvalidArgument(f"invalid {what} value for {k!r}")
        out[str(k)] = v if isinstance(v, str) else str(v).lower()
    return out


def _ipam(raw: object, enable_ipv6: bool, v6_pool: bool) -> tuple[list[SubnetRequest],
                                                                   list[dict], dict]:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InvalidArgument("invalid IPAM: expected a JSON object")
    driver = raw.get("Driver") or "default"
    if driver != "default":
        raise NotFound(f'plugin "{driver}" not found')
    configs = raw.get("Config") or []
    if not isinstance(configs, list):
        raise InvalidArgument("invalid IPAM Config: expected a list")
    reqs: list[SubnetRequest] = []
    shown: list[dict] = []
    for c in configs:
        if not isinstance(c, dict):
            raise InvalidArgument("invalid IPAM Config entry: expected a JSON object")
        subnet, gw, rng = c.get("Subnet") or None, c.get("Gateway") or None, \
            c.get("IPRange") or None
        if subnet is None:
            if gw or rng:
                raise InvalidArgument("ipam config: a gateway or ip-range needs a subnet")
            continue
        net = parse_subnet(str(subnet), "subnet")
        if gw is not None:
            parse_address(str(gw), "gateway")
        if rng is not None:
            parse_subnet(str(rng), "ip-range")
        if c.get("AuxiliaryAddresses"):
            raise InvalidArgument("ipam config: AuxiliaryAddresses are not supported")
        reqs.append(SubnetRequest(str(net), gw and str(gw), rng and str(rng),
                                  ipv6=net.version == 6))
        entry = {"Subnet": str(net)}
        if rng:
            entry["IPRange"] = str(rng)
        if gw:
            entry["Gateway"] = str(gw)
        shown.append(entry)
    if not any(not r.ipv6 for r in reqs):
        reqs.insert(0, SubnetRequest())
    if enable_ipv6 and not any(r.ipv6 for r in reqs):
        if not v6_pool:
            raise InvalidArgument("EnableIPv6 needs an IPv6 subnet (IPAM Config) or "
                                  "the daemon's fixed-cidr-v6 / an IPv6 address pool")
        reqs.append(SubnetRequest(ipv6=True))
    if not enable_ipv6 and any(r.ipv6 for r in reqs):
        raise InvalidArgument("an IPv6 subnet needs EnableIPv6")
    return reqs, shown, _str_map(raw.get("Options"), "IPAM Options")


def parse_create(body: object, default_mtu: int, v6_pool: bool) -> CreateRequest:
    if not isinstance(body, dict):
        raise InvalidArgument("invalid network config: expected a JSON object")
    name = body.get("Name")
    if not isinstance(name, str) or not name:
        raise InvalidArgument("network name cannot be empty")
    if not NAME.match(name):
        raise InvalidArgument(f"invalid network name {name!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-]"
                              " are allowed")
    driver = body.get("Driver") or "bridge"
    if driver in ("host", "null"):
        raise Forbidden(f'only one instance of "{driver}" network is allowed')
    if driver != "bridge":
        raise NotFound(f'plugin "{driver}" not found')
    if body.get("Ingress"):
        raise Forbidden("ingress networks need swarm mode, which dockyard does not have")
    if body.get("ConfigOnly") or (body.get("ConfigFrom") or {}).get("Network"):
        raise InvalidArgument("config-only networks are not supported")
    ipv6 = bool(body.get("EnableIPv6"))
    subnets, shown, ipam_opts = _ipam(body.get("IPAM"), ipv6, v6_pool)
    options = _str_map(body.get("Options"), "Options")
    labels = _str_map(body.get("Labels"), "Labels")
    bridge = options.get(OPT_BRIDGE, "")
    if bridge:
        check_ifname(bridge)
    mtu = default_mtu
    if OPT_MTU in options:
        try:
            mtu = check_mtu(int(options[OPT_MTU]))
        except ValueError:
            raise InvalidArgument(f"invalid MTU {options[OPT_MTU]!r}") from None
    host_ip = options.get(OPT_HOST_IP, "")
    if host_ip:
        parse_address(host_ip, "host binding address")
    rec = NetworkRecord(
        id="", name=name, driver="bridge", created="", bridge=bridge,
        internal=bool(body.get("Internal")), attachable=bool(body.get("Attachable")),
        enable_ipv6=ipv6,
        icc=parse_bool_option(options.get(OPT_ICC, "true"), OPT_ICC),
        masquerade=parse_bool_option(options.get(OPT_MASQ, "true"), OPT_MASQ),
        mtu=mtu, host_ip=host_ip, dns=True, ipam_options=ipam_opts, ipam_config=shown,
        options=options, labels=labels)
    return CreateRequest(rec, subnets, bool(bridge))


def _label_match(labels: Mapping[str, str], want: str) -> bool:
    key, eq, value = want.partition("=")
    return key in labels and (not eq or labels[key] == value)


def matches(net: NetworkRecord, filters: Mapping[str, list[str]], in_use: bool) -> bool:
    """Docker's ``GET /networks`` filters (each key: any value matches; keys AND)."""
    for key, values in filters.items():
        if not values:
            continue
        if key == "name" and not any(v in net.name for v in values):
            return False
        if key == "id" and not any(net.id.startswith(v) for v in values):
            return False
        if key == "driver" and net.driver not in values:
            return False
        if key == "label" and not all(_label_match(net.labels, v) for v in values):
            return False
        if key == "label!" and any(_label_match(net.labels, v) for v in values):
            return False
        if key == "scope" and "local" not in values:
            return False
        if key == "type":
            for v in values:
                if v not in ("custom", "builtin"):
                    raise InvalidArgument(f"invalid filter: 'type'='{v}'")
            kind = "builtin" if net.predefined else "custom"
            if kind not in values:
                return False
        if key == "dangling":
            want = parse_bool_option(values[-1], "dangling")
            dangling = not in_use and not net.predefined
            if want != dangling:
                return False
    return True


def created_before(net: NetworkRecord, until: float) -> bool:
    """``until``: created strictly before this Unix time (Docker's prune filter)."""
    from datetime import datetime

    text = net.created.rstrip("Z")
    whole, _, frac = text.partition(".")
    try:
        ts = datetime.fromisoformat(whole + "+00:00").timestamp()
    except ValueError:
        return True
    return ts + float("0." + (frac or "0")) < until
