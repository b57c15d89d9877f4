"""``dockyard info|version|events`` and ``system info|df|events|prune|check``.

All but ``system check`` (the image store's own consistency check, which runs in
this process on the data root) ask the daemon.
"""

from __future__ import annotations

import sys
import time

from dockyard import __version__
from dockyard.cli.commands.containers import confirm, filters_param, run_command
from dockyard.cli.flags import Opts, Spec
from dockyard.cli.humanize import human_size

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

HELP = """
Usage:  dockyard system COMMAND

Manage dockyard

Commands:
  check       Verify the image store; report and clean damage
  df          Show dockyard disk usage
  events      Get real time events from the server
  info        Display system-wide information
  prune       Remove unused data

Run 'dockyard system COMMAND --help' for more information on a command.
"""

INFO_SPEC = Spec("[OPTIONS]", [
    ("f format", "str", "Format output using a custom template"),
], max_args=0, description="Display system-wide information")
VERSION_SPEC = Spec("[OPTIONS]", [
    ("f format", "str", "Format output using a custom template"),
], max_args=0, description="Show the dockyard version information")
DF_SPEC = Spec("[OPTIONS]", [
    ("- format", "str", "Format output using a custom template"),
    ("v verbose", "bool", "Show detailed information on space usage"),
], max_args=0, description="Show dockyard disk usage")
EVENTS_SPEC = Spec("[OPTIONS]", [
    ("f filter", "list", "Filter output based on conditions provided"),
    ("- format", "str", "Format the output using the given Go template"),
    ("- since", "str", "Show all events created since timestamp"),
    ("- until", "str", "Stream events until this timestamp"),
], max_args=0, description="Get real time events from the server")
PRUNE_SPEC = Spec("[OPTIONS]", [
    ("a all", "bool", "Remove all unused images not just dangling ones"),
    ("- filter", "list", "Provide filter values (e.g. \"label=<key>=<value>\")"),
    ("f force", "bool", "Do not prompt for confirmation"),
    ("- volumes", "bool", "Prune anonymous volumes"),
], max_args=0, description="Remove unused data")


def cmd_version(opts: Opts, args: list[str], ctx: Any) -> int:
    from dockyard.cli.client import API_VERSION, APIError, DaemonUnreachable

    client_doc = {"Version": __version__, "ApiVersion": API_VERSION,
                  "DefaultAPIVersion": API_VERSION, "Os": "linux",
                  "Arch": _arch(), "GoVersion": f"python{sys.version.split()[0]}"}
    server = None
    err = None
    try:
        server = ctx.client().get("/version")
    except (APIError, DaemonUnreachable) as e:
        err = e
    if opts.format:
        from dockyard.cli import gotemplate

        print(gotemplate.render(opts.format, {"Client": client_doc, "Server": server}))
    else:
        print("Client:")
        print(f" Version:           {client_doc['Version']}")
        print(f" API version:       {client_doc['ApiVersion']}")
        print(f" Python version:    {client_doc['GoVersion'][6:]}")
        print(f" OS/Arch:           linux/{client_doc['Arch']}")
        if server:
            print("\nServer:")
            for comp in server.get("Components") or []:
                d = comp.get("Details") or {}
                print(f" {comp.get('Name')}:")
                print(f"  Version:          {comp.get('Version')}")
                if "ApiVersion" in d:
                    print(f"  API version:      {d['ApiVersion']} (minimum version "
                          f"{d.get('MinAPIVersion', '')})")
                if "GoVersion" in d:
                    print(f"  Go version:       {d['GoVersion']}")
                if "Os" in d:
                    print(f"  OS/Arch:          {d['Os']}/{d.get('Arch', '')}")
                if "KernelVersion" in d:
                    print(f"  Kernel version:   {d['KernelVersion']}")
    if err is not None:
        sys.stderr.write(f"{err.message}\n")
        return 1
    return 0


def _arch() -> str:
    import os

    m = os.uname().machine
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(m, m)


def cmd_info(opts: Opts, args: list[str], ctx: Any) -> int:
    info = ctx.client().get("/info") or {}
    if opts.format:
        from dockyard.cli import gotemplate

        print(gotemplate.render(opts.format, info))
        return 0
    lines = ["Client:", f" Version:    {__version__}", " Context:    default",
             f" Debug Mode: {'true' if ctx.debug else 'false'}", "", "Server:"]
    g = info.get
    lines += [f" Containers: {g('Containers', 0)}", f"  Running: {g('ContainersRunning', 0)}",
              f"  Paused: {g('ContainersPaused', 0)}", f"  Stopped: {g('ContainersStopped', 0)}",
              f" Images: {g('Images', 0)}", f" Server Version: {g('ServerVersion', '')}",
              f" Storage Driver: {g('Driver', '')}"]
    for k, v in g("DriverStatus") or []:
        lines.append(f"  {k}: {v}")
    lines += [f" Logging Driver: {g('LoggingDriver', '')}",
              f" Cgroup Driver: {g('CgroupDriver', '')}",
              f" Cgroup Version: {g('CgroupVersion', '')}"]
    runtimes = ", ".join(sorted((g("Runtimes") or {}).keys()))
    lines += [f" Runtimes: {runtimes}", f" Default Runtime: {g('DefaultRuntime', '')}",
              f" Kernel Version: {g('KernelVersion', '')}",
              f" Operating System: {g('OperatingSystem', '')}",
              f" OSType: {g('OSType', '')}", f" Architecture: {g('Architecture', '')}",
              f" CPUs: {g('NCPU', 0)}",
              f" Total Memory: {_bytes(g('MemTotal', 0))}", f" Name: {g('Name', '')}",
              f" ID: {g('ID', '')}", f" Docker Root Dir: {g('DockerRootDir', '')}",
              f" Debug Mode: {'true' if g('Debug') else 'false'}",
              f" Experimental: {'true' if g('ExperimentalBuild') else 'false'}",
              f" Live Restore Enabled: {'true' if g('LiveRestoreEnabled') else 'false'}"]
    print("\n".join(lines))
    for w in g("Warnings") or []:
        sys.stderr.write(f"{w}\n")
    return 0


def _bytes(n: int) -> str:
    from dockyard.cli.commands.container_info import bytes_size

    return bytes_size(n)


def df_rows(doc: dict[str, Any]) -> list[dict[str, str]]:
    """docker system df's four rows from /system/df."""
    def reclaim(total: int, r: int) -> str:
        pct = f" ({int(r * 100 / total)}%)" if total > 0 else ""
        return human_size(r, 4) + pct

    images = doc.get("Images") or []
    layers = int(doc.get("LayersSize") or 0)
    used = sum(max(0, (i.get("Size") or 0) - max(0, i.get("SharedSize") or 0))
               for i in images if (i.get("Containers") or 0) > 0)
    img_active = sum(1 for i in images if (i.get("Containers") or 0) > 0)
    ctrs = doc.get("Containers") or []
    c_size = sum(c.get("SizeRw") or 0 for c in ctrs)
    c_rec = sum(c.get("SizeRw") or 0 for c in ctrs if c.get("State") != "running")
    vols = doc.get("Volumes") or []
    v_size = sum(max(0, (v.get("UsageData") or {}).get("Size") or 0) for v in vols)
    v_active = sum(1 for v in vols if ((v.get("UsageData") or {}).get("RefCount") or 0) > 0)
    v_rec = sum(max(0, (v.get("UsageData") or {}).get("Size") or 0) for v in vols
                if ((v.get("UsageData") or {}).get("RefCount") or 0) == 0)
    cache = doc.get("BuildCache") or []
    b_size = sum(b.get("Size") or 0 for b in cache)
    b_rec = sum(b.get("Size") or 0 for b in cache if not b.get("InUse")
                and not b.get("Shared"))
    return [
        {"Type": "Images", "TotalCount": str(len(images)), "Active": str(img_active),
         "Size": human_size(layers, 4), "Reclaimable": reclaim(layers, max(0, layers - used))},
        {"Type": "Containers", "TotalCount": str(len(ctrs)),
         "Active": str(sum(1 for c in ctrs if c.get("State") == "running")),
         "Size": human_size(c_size, 4), "Reclaimable": reclaim(c_size, c_rec)},
        {"Type": "Local Volumes", "TotalCount": str(len(vols)), "Active": str(v_active),
         "Size": human_size(v_size, 4), "Reclaimable": reclaim(v_size, v_rec)},
        {"Type": "Build Cache", "TotalCount": str(len(cache)),
         "Active": str(sum(1 for b in cache if b.get("InUse"))),
         "Size": human_size(b_size, 4), "Reclaimable": human_size(b_rec, 4)},
    ]


def cmd_df(opts: Opts, args: list[str], ctx: Any) -> int:
    from dockyard.cli import gotemplate

    doc = ctx.client().get("/system/df") or {}
    fmt = opts.format or ("table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t"
                          "{{.Reclaimable}}")
    sys.stdout.write(gotemplate.render_rows(fmt, df_rows(doc), {
        "Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE",
        "Reclaimable": "RECLAIMABLE"}))
    return 0


def format_event(ev: dict[str, Any]) -> str:
    """docker events' line: time, type, action, id, (sorted attributes)."""
    nano = ev.get("timeNano") or int(ev.get("time") or 0) * 10**9
    secs, frac = divmod(int(nano), 10**9)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(secs)) + f".{frac:09d}"
    off = time.strftime("%z", time.localtime(secs))
    stamp += "Z" if off in ("+0000", "-0000") else f"{off[:3]}:{off[3:]}"
    actor = ev.get("Actor") or {}
    attrs = actor.get("Attributes") or {}
    line = f"{stamp} {ev.get('Type', '')} {ev.get('Action', ev.get('status', ''))} " \
           f"{actor.get('ID', ev.get('id', ''))}"
    if attrs:
        line += " (" + ", ".join(f"{k}={attrs[k]}" for k in sorted(attrs)) + ")"
    return line


def cmd_events(opts: Opts, args: list[str], ctx: Any) -> int:
    from dockyard.cli.commands.container_info import timestamp_param

    params = {"since": timestamp_param(opts.since), "until": timestamp_param(opts.until),
              "filters": filters_param(opts.filter)}
    resp = ctx.client().stream("GET", "/events", params)
    try:
        for ev in resp.iter_json():
            if opts.format:
                from dockyard.cli import gotemplate

                sys.stdout.write(gotemplate.render(opts.format, ev) + "\n")
            else:
                sys.stdout.write(format_event(ev) + "\n")
            sys.stdout.flush()
    finally:
        resp.close()
    return 0


def cmd_prune(opts: Opts, args: list[str], ctx: Any) -> int:
    from dockyard.cli.client import APIError

    what = ["all stopped containers", "all networks not used by at least one container"]
    if opts.volumes:
        what.append("all anonymous volumes not used by at least one container")
    what.append("all images without at least one container associated to them"
                if opts.all else "all dangling images")
    what.append("unused build cache")
    if not opts.force and not confirm("WARNING! This will remove:\n"
                                      + "".join(f"  - {w}\n" for w in what).rstrip("\n")):
        return 0
    client = ctx.client()
    filters = filters_param(opts.filter)
    total = 0
    doc = client.post("/containers/prune", {"filters": filters}) or {}
    _deleted("Deleted Containers:", doc.get("ContainersDeleted"))
    total += doc.get("SpaceReclaimed") or 0
    doc = client.post("/networks/prune", {"filters": filters}) or {}
    _deleted("Deleted Networks:", doc.get("NetworksDeleted"))
    if opts.volumes:
        doc = client.post("/volumes/prune", {"filters": filters}) or {}
        _deleted("Deleted Volumes:", doc.get("VolumesDeleted"))
        total += doc.get("SpaceReclaimed") or 0
    img_filters = dict(filters or {})
    img_filters["dangling"] = ["false" if opts.all else "true"]
    doc = client.post("/images/prune", {"filters": img_filters}) or {}
    gone = []
    for item in doc.get("ImagesDeleted") or []:
        for k, v in item.items():
            gone.append(f"{k.lower()}: {v}")
    _deleted("Deleted Images:", gone)
    total += doc.get("SpaceReclaimed") or 0
    try:
        doc = client.post("/build/prune", {"all": opts.all or None}) or {}
        total += doc.get("SpaceReclaimed") or 0
    except APIError:
        pass   # no builder on this daemon yet
    print(f"Total reclaimed space: {human_size(total)}")
    return 0


def _deleted(title: str, items: list[str] | None) -> None:
    if items:
        print(title)
        for x in items:
            print(x)
        print()


def _check(argv: list[str], ctx: Any) -> int:
    """``system check`` stays the image room's in-process command."""
    import argparse

    from dockyard.cli import main as climain
    from dockyard.cli.commands import images

    parser = argparse.ArgumentParser(prog="dockyard system")
    sub = parser.add_subparsers(dest="verb")
    images._add_check(sub)
    ns = parser.parse_args(argv)
    return climain._run(ns, ctx)


_VERBS = {"info": (INFO_SPEC, cmd_info), "df": (DF_SPEC, cmd_df),
          "events": (EVENTS_SPEC, cmd_events), "prune": (PRUNE_SPEC, cmd_prune)}


def dispatch(word: str, argv: list[str], ctx: Any) -> int:
    if word == "version":
        return run_command(VERSION_SPEC, cmd_version, argv, ctx, "dockyard version")
    if word in ("info", "events"):
        return run_command(*_VERBS[word], argv, ctx, f"dockyard {word}")
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write(HELP)
        return 0 if argv else 1
    if argv[0] == "check":
        return _check(argv, ctx)
    entry = _VERBS.get(argv[0])
    if entry is None:
        sys.stderr.write(f"dockyard: 'system {argv[0]}' is not a dockyard command.\n"
                         "See 'dockyard system --help'\n")
        return 1
    return run_command(entry[0], entry[1], argv[1:], ctx, f"dockyard system {argv[0]}")


__all__ = ["df_rows", "dispatch", "format_event"]
