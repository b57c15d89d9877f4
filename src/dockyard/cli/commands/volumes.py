"""``dockyard volume create|ls|inspect|rm|prune``: docker's verbs over the API."""

from __future__ import annotations

import sys

from dockyard.cli.client import APIError, quote
from dockyard.cli.commands.containers import confirm, filters_param, run_command
from dockyard.cli.flags import Opts, Spec

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

HELP = """
Usage:  dockyard volume COMMAND

Manage volumes

Commands:
  create      Create a volume
  inspect     Display detailed information on one or more volumes
  ls          List volumes
  prune       Remove unused local volumes
  rm          Remove one or more volumes

Run 'dockyard volume COMMAND --help' for more information on a command.
"""

CREATE_SPEC = Spec("[OPTIONS] [VOLUME]", [
    ("d driver", "str", "Specify volume driver name (default \"local\")"),
    ("- label", "list", "Set metadata for a volume"),
    ("- name", "str", "Specify volume name"),
    ("o opt", "list", "Set driver specific options"),
], max_args=1, description="Create a volume")
LS_SPEC = Spec("[OPTIONS]", [
    ("f filter", "list", "Provide filter values (e.g. \"dangling=true\")"),
    ("- format", "str", "Format output using a custom template"),
    ("q quiet", "bool", "Only display volume names"),
], max_args=0, description="List volumes")
INSPECT_SPEC = Spec("[OPTIONS] VOLUME [VOLUME...]", [
    ("f format", "str", "Format output using a custom template"),
], min_args=1, description="Display detailed information on one or more volumes")
RM_SPEC = Spec("[OPTIONS] VOLUME [VOLUME...]", [
    ("f force", "bool", "Force the removal of one or more volumes"),
], min_args=1, description="Remove one or more volumes")
PRUNE_SPEC = Spec("[OPTIONS]", [
    ("a all", "bool", "Remove all unused volumes, not just anonymous ones"),
    ("- filter", "list", "Provide filter values (e.g. \"label=<label>\")"),
    ("f force", "bool", "Do not prompt for confirmation"),
], max_args=0, description="Remove unused local volumes")

HEADERS = {"Driver": "DRIVER", "Name": "VOLUME NAME", "Scope": "SCOPE",
           "Mountpoint": "MOUNTPOINT", "Labels": "LABELS", "Links": "LINKS", "Size": "SIZE"}


def _kv(items: list[str] | None) -> dict[str, str]:
    out = {}
    for item in items or ():
        k, _, v = item.partition("=")
        out[k] = v
    return out


def cmd_create(opts: Opts, args: list[str], ctx: Any) -> int:
    from dockyard.cli.flags import FlagError

    name = opts.name or ""
    if args:
        if name and name != args[0]:
            raise FlagError("conflicting options: either specify --name or provide "
                            "positional arg, not both")
        name = args[0]
    body = {"Name": name, "Driver": opts.driver or "local", "DriverOpts": _kv(opts.opt),
            "Labels": _kv(opts.label)}
    doc = ctx.client().post("/volumes/create", None, body)
    print(doc.get("Name", name))
    return 0


def volume_row(v: dict[str, Any]) -> dict[str, str]:
    from dockyard.cli.humanize import human_size

    usage = v.get("UsageData") or {}
    return {"Driver": v.get("Driver") or "", "Name": v.get("Name") or "",
            "Scope": v.get("Scope") or "local", "Mountpoint": v.get("Mountpoint") or "",
            "Labels": ",".join(f"{k}={x}" for k, x in (v.get("Labels") or {}).items()),
            "Links": str(usage.get("RefCount", "N/A")) if usage else "N/A",
            "Size": human_size(usage["Size"]) if usage.get("Size", -1) >= 0 and usage
            else "N/A"}


def cmd_ls(opts: Opts, args: list[str], ctx: Any) -> int:
    from dockyard.cli import gotemplate

    doc = ctx.client().get("/volumes", {"filters": filters_param(opts.filter)}) or {}
    vols = sorted(doc.get("Volumes") or [], key=lambda v: v.get("Name") or "")
    for w in doc.get("Warnings") or ():
        sys.stderr.write(f"WARNING: {w}\n")
    if opts.quiet and not opts.format:
        for v in vols:
            print(v.get("Name"))
        return 0
    fmt = opts.format or "table {{.Driver}}\t{{.Name}}"
    sys.stdout.write(gotemplate.render_rows(fmt, [volume_row(v) for v in vols], HEADERS))
    return 0


def cmd_inspect(opts: Opts, args: list[str], ctx: Any) -> int:
    from dockyard.cli.commands.container_info import inspect_objects

    return inspect_objects(ctx, args, ["volume"], opts.format)


def cmd_rm(opts: Opts, args: list[str], ctx: Any) -> int:
    client = ctx.client()
    status = 0
    for name in args:
        try:
            client.request("DELETE", f"/volumes/{quote(name)}",
                           {"force": opts.force or None}).read()
            print(name)
        except APIError as e:
            sys.stderr.write(f"Error response from daemon: {e.message}\n")
            status = 1
    return status


def cmd_prune(opts: Opts, args: list[str], ctx: Any) -> int:
    from dockyard.cli.humanize import human_size

    what = "all local volumes not used by at least one container" if opts.all else \
        "all anonymous local volumes not used by at least one container"
    if not opts.force and not confirm(f"WARNING! This will remove {what}."):
        return 0
    filters = filters_param(opts.filter) or {}
    if opts.all:
        filters["all"] = ["true"]
    doc = ctx.client().post("/volumes/prune", {"filters": filters or None}) or {}
    deleted = doc.get("VolumesDeleted") or []
    if deleted:
        print("Deleted Volumes:")
        for name in deleted:
            print(name)
        print()
    print(f"Total reclaimed space: {human_size(doc.get('SpaceReclaimed') or 0)}")
    return 0


_VERBS = {"create": (CREATE_SPEC, cmd_create), "ls": (LS_SPEC, cmd_ls),
          "list": (LS_SPEC, cmd_ls), "inspect": (INSPECT_SPEC, cmd_inspect),
          "rm": (RM_SPEC, cmd_rm), "remove": (RM_SPEC, cmd_rm),
          "prune": (PRUNE_SPEC, cmd_prune)}


def dispatch(word: str, argv: list[str], ctx: Any) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write(HELP)
        return 0 if argv else 1
    entry = _VERBS.get(argv[0])
    if entry is None:
        sys.stderr.write(f"dockyard: 'volume {argv[0]}' is not a dockyard command.\n"
                         "See 'dockyard volume --help'\n")
        return 1
    return run_command(entry[0], entry[1], argv[1:], ctx, f"dockyard volume {argv[0]}")


__all__ = ["dispatch", "volume_row"]
