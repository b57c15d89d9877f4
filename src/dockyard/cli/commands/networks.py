"""``dockyard network create|ls|inspect|rm|prune|connect|disconnect`` over the API."""

from __future__ import annotations

import sys

from dockyard.cli.client import APIError, quote
from dockyard.cli.commands.containers import confirm, filters_param, run_command
from dockyard.cli.flags import FlagError, Opts, Spec

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

HELP = """
Usage:  dockyard network COMMAND

Manage networks

Commands:
  connect     Connect a container to a network
  create      Create a network
  disconnect  Disconnect a container from a network
  inspect     Display detailed information on one or more networks
  ls          List networks
  prune       Remove all unused networks
  rm          Remove one or more networks

Run 'dockyard network COMMAND --help' for more information on a command.
"""

CREATE_SPEC = Spec("[OPTIONS] NETWORK", [
    ("- attachable", "bool", "Enable manual container attachment"),
    ("- aux-address", "list", "Auxiliary IPv4 or IPv6 addresses used by Network driver"),
    ("d driver", "str", "Driver to manage the Network (default \"bridge\")"),
    ("- gateway", "list", "IPv4 or IPv6 Gateway for the master subnet"),
    ("- internal", "bool", "Restrict external access to the network"),
    ("- ip-range", "list", "Allocate container ip from a sub-range"),
    ("- ipam-driver", "str", "IP Address Management Driver (default \"default\")"),
    ("- ipam-opt", "list", "Set IPAM driver specific options"),
    ("- ipv6", "bool", "Enable IPv6 networking"),
    ("- label", "list", "Set metadata on a network"),
    ("o opt", "list", "Set driver specific options"),
    ("- subnet", "list", "Subnet in CIDR format that represents a network segment"),
], min_args=1, max_args=1, description="Create a network")
LS_SPEC = Spec("[OPTIONS]", [
    ("f filter", "list", "Provide filter values (e.g. \"driver=bridge\")"),
    ("- format", "str", "Format output using a custom template"),
    ("- no-trunc", "bool", "Do not truncate the output"),
    ("q quiet", "bool", "Only display network IDs"),
], max_args=0, description="List networks")
INSPECT_SPEC = Spec("[OPTIONS] NETWORK [NETWORK...]", [
    ("f format", "str", "Format output using a custom template"),
    ("v verbose", "bool", "Verbose output for diagnostics"),
], min_args=1, description="Display detailed information on one or more networks")
RM_SPEC = Spec("NETWORK [NETWORK...]", [
    ("f force", "bool", "Do not error if the network does not exist"),
], min_args=1, description="Remove one or more networks")
PRUNE_SPEC = Spec("[OPTIONS]", [
    ("- filter", "list", "Provide filter values (e.g. \"until=<timestamp>\")"),
    ("f force", "bool", "Do not prompt for confirmation"),
], max_args=0, description="Remove all unused networks")
CONNECT_SPEC = Spec("[OPTIONS] NETWORK CONTAINER", [
    ("- alias", "list", "Add network-scoped alias for the container"),
    ("- driver-opt", "list", "driver options for the network"),
    ("- ip", "str", "IPv4 address (e.g., \"172.30.100.104\")"),
    ("- ip6", "str", "IPv6 address (e.g., \"2001:db8::33\")"),
    ("- link", "list", "Add link to another container"),
    ("- link-local-ip", "list", "Add a link-local address for the container"),
], min_args=2, max_args=2, description="Connect a container to a network")
DISCONNECT_SPEC = Spec("[OPTIONS] NETWORK CONTAINER", [
    ("f force", "bool", "Force the container to disconnect from a network"),
], min_args=2, max_args=2, description="Disconnect a container from a network")

HEADERS = {"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE",
           "IPv6": "IPV6", "Internal": "INTERNAL", "Labels": "LABELS",
           "CreatedAt": "CREATED AT"}


def _kv(items: list[str] | None) -> dict[str, str]:
    out = {}
    for item in items or ():
        k, _, v = item.partition("=")
        out[k] = v
    return out


def ipam_config(opts: Opts) -> list[dict[str, Any]]:
    """docker's consolidateIpam: each --gateway/--ip-range/--aux-address belongs to the
    --subnet that contains it (here: in the order given, one per subnet)."""
    subnets = opts.subnet or []
    gateways = opts.gateway or []
    ranges = opts.ip_range or []
    aux = _kv(opts.aux_address)
    if (gateways or ranges or aux) and not subnets:
        raise FlagError("gateway/ip-range/aux-address need a --subnet")
    if len(gateways) > len(subnets) or len(ranges) > len(subnets):
        raise FlagError("cannot configure multiple gateways or ranges for one subnet")
    out = []
    for i, subnet in enumerate(subnets):
        entry: dict[str, Any] = {"Subnet": subnet}
        if i < len(ranges):
            entry["IPRange"] = ranges[i]
        if i < len(gateways):
            entry["Gateway"] = gateways[i]
        if aux and i == 0:
            entry["AuxiliaryAddresses"] = aux
        out.append(entry)
    return out


def cmd_create(opts: Opts, args: list[str], ctx: Any) -> int:
    body = {"Name": args[0], "CheckDuplicate": True, "Driver": opts.driver or "bridge",
            "Options": _kv(opts.opt), "Internal": bool(opts.internal),
            "Attachable": bool(opts.attachable), "EnableIPv6": bool(opts.ipv6),
            "Labels": _kv(opts.label),
            "IPAM": {"Driver": opts.ipam_driver or "default", "Config": ipam_config(opts),
                     "Options": _kv(opts.ipam_opt)}}
    doc = ctx.client().post("/networks/create", None, body) or {}
    if doc.get("Warning"):
        sys.stderr.write(f"WARNING: {doc['Warning']}\n")
    print(doc.get("Id", ""))
    return 0


def network_row(n: dict[str, Any], trunc: bool) -> dict[str, str]:
    ident = n.get("Id") or ""
    return {"ID": ident[:12] if trunc else ident, "Name": n.get("Name") or "",
            "Driver": n.get("Driver") or "", "Scope": n.get("Scope") or "local",
            "IPv6": "true" if n.get("EnableIPv6") else "false",
            "Internal": "true" if n.get("Internal") else "false",
            "Labels": ",".join(f"{k}={v}" for k, v in (n.get("Labels") or {}).items()),
            "CreatedAt": n.get("Created") or ""}


def cmd_ls(opts: Opts, args: list[str], ctx: Any) -> int:
    from dockyard.cli import gotemplate

    nets = ctx.client().get("/networks", {"filters": filters_param(opts.filter)}) or []
    nets = sorted(nets, key=lambda n: n.get("Name") or "")
    trunc = not opts.no_trunc
    if opts.quiet and not opts.format:
        for n in nets:
            print(network_row(n, trunc)["ID"])
        return 0
    fmt = opts.format or "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
    sys.stdout.write(gotemplate.render_rows(fmt, [network_row(n, trunc) for n in nets],
                                            HEADERS))
    return 0


def cmd_inspect(opts: Opts, args: list[str], ctx: Any) -> int:
    from dockyard.cli.commands.container_info import inspect_objects

    return inspect_objects(ctx, args, ["network"], opts.format)


def cmd_rm(opts: Opts, args: list[str], ctx: Any) -> int:
    client = ctx.client()
    status = 0
    for name in args:
        try:
            client.request("DELETE", f"/networks/{quote(name)}").read()
            print(name)
        except APIError as e:
            if opts.force and e.status == 404:
                continue
            sys.stderr.write(f"Error response from daemon: {e.message}\n")
            status = 1
    return status


def cmd_prune(opts: Opts, args: list[str], ctx: Any) -> int:
    if not opts.force and not confirm("WARNING! This will remove all custom networks not "
                                      "used by at least one container."):
        return 0
    doc = ctx.client().post("/networks/prune", {"filters": filters_param(opts.filter)}
                            ) or {}
    deleted = doc.get("NetworksDeleted") or []
    if deleted:
        print("Deleted Networks:")
        for name in deleted:
            print(name)
    return 0


def cmd_connect(opts: Opts, args: list[str], ctx: Any) -> int:
    endpoint: dict[str, Any] = {}
    if opts.alias:
        endpoint["Aliases"] = opts.alias
    if opts.link:
        endpoint["Links"] = opts.link
    if opts.driver_opt:
        endpoint["DriverOpts"] = _kv(opts.driver_opt)
    ipam = {k: v for k, v in (("IPv4Address", opts.ip), ("IPv6Address", opts.ip6)) if v}
    if opts.link_local_ip:
        ipam["LinkLocalIPs"] = opts.link_local_ip
    if ipam:
        endpoint["IPAMConfig"] = ipam
    ctx.client().request("POST", f"/networks/{quote(args[0])}/connect", None,
                         {"Container": args[1], "EndpointConfig": endpoint}).read()
    return 0


def cmd_disconnect(opts: Opts, args: list[str], ctx: Any) -> int:
    ctx.client().request("POST", f"/networks/{quote(args[0])}/disconnect", None,
                         {"Container": args[1], "Force": bool(opts.force)}).read()
    return 0


_VERBS = {"create": (CREATE_SPEC, cmd_create), "ls": (LS_SPEC, cmd_ls),
          "list": (LS_SPEC, cmd_ls), "inspect": (INSPECT_SPEC, cmd_inspect),
          "rm": (RM_SPEC, cmd_rm), "remove": (RM_SPEC, cmd_rm),
          "prune": (PRUNE_SPEC, cmd_prune), "connect": (CONNECT_SPEC, cmd_connect),
          "disconnect": (DISCONNECT_SPEC, cmd_disconnect)}


def dispatch(word: str, argv: list[str], ctx: Any) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write(HELP)
        return 0 if argv else 1
    entry = _VERBS.get(argv[0])
    if entry is None:
        sys.stderr.write(f"dockyard: 'network {argv[0]}' is not a dockyard command.\n"
                         "See 'dockyard network --help'\n")
        return 1
    return run_command(entry[0], entry[1], argv[1:], ctx, f"dockyard network {argv[0]}")


__all__ = ["dispatch", "ipam_config", "network_row"]
