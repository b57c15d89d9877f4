"""Read-only container verbs: ps, inspect, logs, top, stats, port, diff, cp, export.

Output follows the Docker CLI: the same columns, truncations and ``--format``
fields (``{{json .}}`` of a ps row has docker's keys, sorted), inspect's JSON
re-indented token by token from the daemon's bytes (like Go's ``json.Indent``,
so the docker CLI and this one print the same text for the same daemon).
"""

from __future__ import annotations

import sys
import time

from dockyard.cli import jsonfast
from dockyard.cli.client import APIError, APINotFound, quote
from dockyard.cli.flags import FlagError, Opts, Spec
from dockyard.cli.humanize import human_duration_seconds, human_size

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# --- shared formatting -------------------------------------------------------------


def ellipsis(text: str, width: int) -> str:
    """docker's formatter.Ellipsis: cut to ``width`` display cells ending in '…'."""
    if len(text) <= width:
        return text
    return text[:width - 1] + "…"


def go_quote(text: str) -> str:
    """strconv.Quote for the printable text ps shows."""
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def join_host_port(ip: str, port: int | str) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def displayable_ports(ports: list[dict[str, Any]]) -> str:
    """docker's DisplayablePorts: group consecutive ports, host mappings last."""
    def key(p: dict[str, Any]) -> tuple:
        return (p.get("PrivatePort") or 0, p.get("IP") or "", p.get("PublicPort") or 0,
                p.get("Type") or "")

    groups: dict[str, list[int]] = {}
    order: list[str] = []
    result: list[str] = []
    mappings: list[str] = []
    for p in sorted(ports or [], key=key):
        cur = int(p.get("PrivatePort") or 0)
        ptype = p.get("Type") or "tcp"
        ip = p.get("IP") or ""
        portkey = ptype
        if ip:
            public = int(p.get("PublicPort") or 0)
            if public != cur:
                mappings.append(f"{join_host_port(ip, public)}->{cur}/{ptype}")
                continue
            portkey = f"{ip}/{ptype}"
        g = groups.get(portkey)
        if g is None:
            groups[portkey] = [cur, cur]
            order.append(portkey)
            continue
        if cur == g[1] + 1:
            g[1] = cur
            continue
        result.append(_form_group(portkey, g[0], g[1]))
        groups[portkey] = [cur, cur]
    for portkey in order:
        g = groups[portkey]
        result.append(_form_group(portkey, g[0], g[1]))
    return ", ".join(result + mappings)


def _form_group(key: str, first: int, last: int) -> str:
    ip, _, gtype = key.rpartition("/")
    group = str(first) if first == last else f"{first}-{last}"
    if ip:
        group = f"{ip}:{group}->{group}"
    return f"{group}/{gtype}"


def _created_at(ts: int) -> str:
    t = time.gmtime(ts)
    return time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", t)


def _familiar_image(image: str, image_id: str, trunc: bool) -> str:
    """docker ps' IMAGE: a short id for an id, the familiar name without digest."""
    if not image:
        return "<no image>"
    if not trunc:
        return image
    short = _short(image_id)
    if short and short == _short(image):
        return short
    name = image.split("@", 1)[0]
    for prefix in ("docker.io/library/", "docker.io/"):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def _short(ident: str) -> str:
    ident = ident.split(":", 1)[1] if ident.startswith("sha256:") else ident
    return ident[:12] if len(ident) >= 12 and all(c in "0123456789abcdef" for c in ident) \
        else ""


def ps_row(c: dict[str, Any], trunc: bool, now: float | None = None) -> dict[str, str]:
    """One ``docker ps`` row with every field ``--format`` can name, as docker prints it."""
    now = time.time() if now is None else now
    names = [n[1:] if n.startswith("/") else n for n in c.get("Names") or []]
    if trunc:
        for n in names:
            if "/" not in n:
                names = [n]
                break
    command = c.get("Command") or ""
    if trunc:
        command = ellipsis(command, 20)
    created = int(c.get("Created") or 0)
    size = ""
    if c.get("SizeRw") is not None or c.get("SizeRootFs") is not None:
        srw = human_size(c.get("SizeRw") or 0)
        size = srw
        if (c.get("SizeRootFs") or 0) > 0:
            size = f"{srw} (virtual {human_size(c['SizeRootFs'])})"
    labels = c.get("Labels") or {}
    mounts = []
    for m in c.get("Mounts") or []:
        name = m.get("Name") or m.get("Source") or ""
        if trunc and m.get("Name"):
            name = ellipsis(name, 15)
        mounts.append(name)
    nets = sorted(((c.get("NetworkSettings") or {}).get("Networks") or {}).keys())
    ident = c.get("Id") or ""
    from dockyard.cli.gotemplate import Row

    return Row({
        "Command": go_quote(command),
        "CreatedAt": _created_at(created),
        "ID": ident[:12] if trunc else ident,
        "Image": _familiar_image(c.get("Image") or "", c.get("ImageID") or "", trunc),
        "Labels": ",".join(f"{k}={v}" for k, v in labels.items()),
        "LocalVolumes": str(sum(1 for m in c.get("Mounts") or []
                                if m.get("Driver") == "local")),
        "Mounts": ",".join(mounts),
        "Names": ",".join(names),
        "Networks": ",".join(nets),
        "Platform": None,
        "Ports": displayable_ports(c.get("Ports") or []),
        "RunningFor": human_duration_seconds(now - created) + " ago",
        "Size": size,
        "State": c.get("State") or "",
        "Status": c.get("Status") or "",
    }, {"Label": lambda key: str(labels.get(key, ""))})


PS_HEADERS = {"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND",
              "RunningFor": "CREATED", "CreatedAt": "CREATED AT", "Status": "STATUS",
              "Ports": "PORTS", "Names": "NAMES", "Size": "SIZE", "Labels": "LABELS",
              "Mounts": "MOUNTS", "Networks": "NETWORKS", "LocalVolumes": "LOCAL VOLUMES",
              "State": "STATE"}
PS_DEFAULT = ("table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t"
              "{{.Ports}}\t{{.Names}}")

PS_SPEC = Spec("[OPTIONS]", [
    ("a all", "bool", "Show all containers (default shows just running)"),
    ("f filter", "list", "Filter output based on conditions provided"),
    ("- format", "str", "Format output using a custom template"),
    ("n last", "int", "Show n last created containers (includes all states)"),
    ("l latest", "bool", "Show the latest created container (includes all states)"),
    ("- no-trunc", "bool", "Don't truncate output"),
    ("q quiet", "bool", "Only display container IDs"),
    ("s size", "bool", "Display total file sizes"),
], max_args=0, description="List containers")


def cmd_ps(opts: Opts, args: list[str], ctx: Any) -> int:
    from dockyard.cli import gotemplate
    from dockyard.cli.commands.containers import filters_param

    fmt = opts.format
    limit = 1 if opts.latest else (opts.last if opts.last is not None else -1)
    size = bool(opts.size)
    if fmt and not opts.quiet and not opts.given("size"):
        # docker asks for sizes when the template uses .Size ({{json .}} uses them all)
        squeezed = " ".join(fmt.replace("{{", " {{ ").split())
        size = ".Size" in fmt or "{{ json . }}" in squeezed or "{{ json .}}" in squeezed
    params = {"all": True if (opts.all or limit > 0) else None,
              "limit": limit if limit > 0 else None, "size": size or None,
              "filters": filters_param(opts.filter)}
    items = ctx.client().get("/containers/json", params) or []
    trunc = not opts.no_trunc
    if opts.quiet and not fmt:
        for c in items:
            print(c["Id"][:12] if trunc else c["Id"])
        return 0
    if not fmt:
        fmt = PS_DEFAULT + ("\t{{.Size}}" if opts.size else "")
    elif fmt == "table":
        fmt = PS_DEFAULT
    now = time.time()
    rows = [ps_row(c, trunc, now) for c in items]
    sys.stdout.write(gotemplate.render_rows(fmt, rows, PS_HEADERS))
    return 0


# --- inspect ----------------------------------------------------------------------


def indent_json(raw: str, indent: str = "    ") -> str:
    """Go's json.Indent: re-indent JSON text keeping every token as written."""
    out: list[str] = []
    depth = 0
    need_indent = False
    i = 0
    n = len(raw)
    while i < n:
        ch = raw[i]
        if ch == '"':
            j = i + 1
            while j < n and raw[j] != '"':
                j += 2 if raw[j] == "\\" else 1
            token = raw[i:j + 1]
            i = j + 1
            if need_indent:
                out.append("\n" + indent * depth)
                need_indent = False
            out.append(token)
            continue
        i += 1
        if ch in " \t\r\n":
            continue
        if ch in "{[":
            if need_indent:
                out.append("\n" + indent * depth)
            out.append(ch)
            depth += 1
            need_indent = True
        elif ch in "}]":
            depth -= 1
            if need_indent:   # empty object or array stays compact
                need_indent = False
            else:
                out.append("\n" + indent * depth)
            out.append(ch)
        elif ch == ",":
            out.append(",\n" + indent * depth)
        elif ch == ":":
            out.append(": ")
        else:
            if need_indent:
                out.append("\n" + indent * depth)
                need_indent = False
            out.append(ch)
    return "".join(out)


INSPECT_SPEC = Spec("[OPTIONS] CONTAINER [CONTAINER...]", [
    ("f format", "str", "Format output using a custom template"),
    ("s size", "bool", "Display total file sizes"),
], min_args=1, description="Display detailed information on one or more containers")
OBJECT_INSPECT_SPEC = Spec("[OPTIONS] NAME|ID [NAME|ID...]", [
    ("f format", "str", "Format output using a custom template"),
    ("s size", "bool", "Display total file sizes if the type is container"),
    ("- type", "str", "Return JSON for specified type"),
], min_args=1, description="Return low-level information on Docker objects")

_KINDS = {
    "container": ("/containers/{}/json", "No such container"),
    "image": ("/images/{}/json", "No such image"),
    "volume": ("/volumes/{}", "No such volume"),
    "network": ("/networks/{}", "No such network"),
}


def inspect_objects(ctx: Any, refs: list[str], kinds: list[str], fmt: str | None,
                    size: bool = False) -> int:
    """Fetch each ref as the first kind that has it; print docker's way."""
    from dockyard.cli import gotemplate

    client = ctx.client()
    raws: list[str] = []
    status = 0
    for ref in refs:
        found = None
        for kind in kinds:
            path, _ = _KINDS[kind]
            params = {"size": True} if kind == "container" and size else None
            try:
                found = client.request("GET", path.format(quote(ref)), params).read()
                break
            except APINotFound:
                continue
        if found is None:
            if len(kinds) > 1:
                sys.stderr.write(f"Error: No such object: {ref}\n")
            else:
                sys.stderr.write(f"Error response from daemon: {_KINDS[kinds[0]][1]}: "
                                 f"{ref}\n")
            status = 1
            continue
        raws.append(found.decode("utf-8", "replace").strip())
    if fmt:
        for raw in raws:
            try:
                print(gotemplate.render(fmt, jsonfast.loads(raw)))
            except APIError:
                raise
    else:
        print(indent_json("[" + ",".join(raws) + "]"))
    return status


def cmd_inspect(opts: Opts, args: list[str], ctx: Any) -> int:
    return inspect_objects(ctx, args, ["container"], opts.format, bool(opts.size))


def cmd_object_inspect(opts: Opts, args: list[str], ctx: Any) -> int:
    if opts.type:
        if opts.type not in _KINDS:
            raise FlagError(f'"{opts.type}" is not a valid value for --type')
        kinds = [opts.type]
    else:
        kinds = ["container", "image", "volume", "network"]
    return inspect_objects(ctx, args, kinds, opts.format, bool(opts.size))


# --- logs -------------------------------------------------------------------------

LOGS_SPEC = Spec("[OPTIONS] CONTAINER", [
    ("- details", "bool", "Show extra details provided to logs"),
    ("f follow", "bool", "Follow log output"),
    ("- since", "str", "Show logs since timestamp (e.g. \"2013-01-02T13:23:37Z\") or "
                       "relative (e.g. \"42m\" for 42 minutes)"),
    ("n tail", "str", "Number of lines to show from the end of the logs (default \"all\")"),
    ("t timestamps", "bool", "Show timestamps"),
    ("- until", "str", "Show logs before a timestamp (e.g. \"2013-01-02T13:23:37Z\") or "
                       "relative (e.g. \"42m\" for 42 minutes)"),
], min_args=1, max_args=1, description="Fetch the logs of a container")


def timestamp_param(value: str | None, now: float | None = None) -> str | None:
    """docker's GetTimestamp: a duration ago, a Unix time, or an RFC 3339 date."""
    if not value:
        return None
    from dockyard.cli.units import duration_ns

    now = time.time() if now is None else now
    v = value.strip()
    if v and v.replace(".", "", 1).isdigit():
        return v
    try:
        return f"{now - duration_ns(v) / 1e9:.9f}"
    except FlagError:
        pass
    import datetime as dt

    text = v.replace("Z", "+00:00")
    for fmt_ in (None, "%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"):
        try:
            d = dt.datetime.fromisoformat(text) if fmt_ is None else \
                dt.datetime.strptime(text, fmt_)
        except ValueError:
            continue
        if d.tzinfo is None:
            d = d.replace(tzinfo=dt.UTC)
        return f"{d.timestamp():.9f}"
    raise FlagError(f'invalid value for "since"/"until": {value}')


def cmd_logs(opts: Opts, args: list[str], ctx: Any) -> int:
    from dockyard.cli.commands.container_run import Demux, _write_all

    client = ctx.client()
    info = client.get(f"/containers/{quote(args[0])}/json")
    tty = bool((info.get("Config") or {}).get("Tty"))
    params = {"stdout": True, "stderr": True, "follow": opts.follow or None,
              "timestamps": opts.timestamps or None, "details": opts.details or None,
              "since": timestamp_param(opts.since), "until": timestamp_param(opts.until),
              "tail": opts.tail or "all"}
    resp = client.stream("GET", f"/containers/{info['Id']}/logs", params)
    demux = None if tty else Demux()
    try:
        for chunk in resp.iter_raw():
            if demux is not None:
                demux.feed(chunk)
            else:
                _write_all(1, chunk)
    finally:
        resp.close()
    return 0


# --- top / port / diff ------------------------------------------------------------

TOP_SPEC = Spec("CONTAINER [ps OPTIONS]", [], min_args=1, interspersed=False,
                description="Display the running processes of a container")
PORT_SPEC = Spec("CONTAINER [PRIVATE_PORT[/PROTO]]", [], min_args=1, max_args=2,
                 description="List port mappings or a specific mapping for the container")
DIFF_SPEC = Spec("CONTAINER", [], min_args=1, max_args=1,
                 description="Inspect changes to files or directories on a container's "
                             "filesystem")


def cmd_top(opts: Opts, args: list[str], ctx: Any) -> int:
    from dockyard.cli import gotemplate

    params = {"ps_args": " ".join(args[1:])} if len(args) > 1 else None
    doc = ctx.client().get(f"/containers/{quote(args[0])}/top", params) or {}
    lines = ["\t".join(doc.get("Titles") or [])]
    lines += ["\t".join(p) for p in doc.get("Processes") or []]
    sys.stdout.write(gotemplate.align(lines, 20))
    return 0


def cmd_port(opts: Opts, args: list[str], ctx: Any) -> int:
    info = ctx.client().get(f"/containers/{quote(args[0])}/json")
    ports = (info.get("NetworkSettings") or {}).get("Ports") or {}
    if len(args) == 2:
        want = args[1] if "/" in args[1] else args[1] + "/tcp"
        bindings = ports.get(want)
        if not bindings:
            sys.stderr.write(f"Error: No public port '{want}' published for {args[0]}\n")
            return 1
        for b in bindings:
            print(join_host_port(b.get("HostIp") or "0.0.0.0", b.get("HostPort")))
        return 0

    def order(k: str) -> tuple[int, str]:
        p, _, proto = k.partition("/")
        return (int(p) if p.isdigit() else 0, proto)

    for key in sorted(ports, key=order):
        for b in ports[key] or []:
            print(f"{key} -> {join_host_port(b.get('HostIp') or '0.0.0.0', b.get('HostPort'))}")
    return 0


def cmd_diff(opts: Opts, args: list[str], ctx: Any) -> int:
    changes = ctx.client().get(f"/containers/{quote(args[0])}/changes") or []
    for ch in changes:
        kind = {0: "C", 1: "A", 2: "D"}.get(ch.get("Kind"), "?")
        print(f"{kind} {ch.get('Path')}")
    return 0


# --- stats ------------------------------------------------------------------------

STATS_SPEC = Spec("[OPTIONS] [CONTAINER...]", [
    ("a all", "bool", "Show all containers (default shows just running)"),
    ("- format", "str", "Format output using a custom template"),
    ("- no-stream", "bool", "Disable streaming stats and only pull the first result"),
    ("- no-trunc", "bool", "Do not truncate output"),
], description="Display a live stream of container(s) resource usage statistics")
STATS_DEFAULT = ("table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t"
                 "{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}")
STATS_HEADERS = {"ID": "CONTAINER ID", "Container": "CONTAINER", "Name": "NAME",
                 "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %",
                 "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS"}
_BIN = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def bytes_size(size: float) -> str:
    """go-units BytesSize: binary units, 4 significant digits (``1.5MiB``)."""
    size = float(size)
    i = 0
    while size >= 1024 and i < len(_BIN) - 1:
        size /= 1024
        i += 1
    return f"{size:.4g}{_BIN[i]}"


def stats_row(ref: str, s: dict[str, Any], trunc: bool = True) -> dict[str, str]:
    """docker stats' columns from one stats JSON (cgroup v1 or v2 memory stats)."""
    cpu = s.get("cpu_stats") or {}
    pre = s.get("precpu_stats") or {}
    cpu_delta = ((cpu.get("cpu_usage") or {}).get("total_usage") or 0) - \
        ((pre.get("cpu_usage") or {}).get("total_usage") or 0)
    sys_delta = (cpu.get("system_cpu_usage") or 0) - (pre.get("system_cpu_usage") or 0)
    ncpu = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage")
                                         or []) or 1
    cpu_pct = cpu_delta / sys_delta * ncpu * 100.0 if sys_delta > 0 and cpu_delta > 0 \
        else 0.0
    mem = s.get("memory_stats") or {}
    mstats = mem.get("stats") or {}
    usage = mem.get("usage") or 0
    for key in ("total_inactive_file", "inactive_file"):
        if key in mstats and mstats[key] < usage:
            usage -= mstats[key]
            break
    limit = mem.get("limit") or 0
    mem_pct = usage / limit * 100.0 if limit else 0.0
    rx = tx = 0
    for net in (s.get("networks") or {}).values():
        rx += net.get("rx_bytes") or 0
        tx += net.get("tx_bytes") or 0
    rd = wr = 0
    for e in (s.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []:
        op = (e.get("op") or "").lower()
        if op == "read":
            rd += e.get("value") or 0
        elif op == "write":
            wr += e.get("value") or 0
    ident = (s.get("id") or ref)
    name = (s.get("name") or "").lstrip("/")
    return {
        "Container": ref, "ID": ident[:12] if trunc else ident, "Name": name or "--",
        "CPUPerc": f"{cpu_pct:.2f}%",
        "MemUsage": f"{bytes_size(usage)} / {bytes_size(limit)}",
        "MemPerc": f"{mem_pct:.2f}%",
        "NetIO": f"{human_size(rx)} / {human_size(tx)}",
        "BlockIO": f"{human_size(rd)} / {human_size(wr)}",
        "PIDs": str((s.get("pids_stats") or {}).get("current") or 0),
    }


def cmd_stats(opts: Opts, args: list[str], ctx: Any) -> int:
    from dockyard.cli import gotemplate

    client = ctx.client()
    refs = list(args)
    if not refs:
        refs = [c["Id"] for c in client.get("/containers/json",
                                            {"all": opts.all or None}) or []]
    fmt = opts.format or STATS_DEFAULT
    trunc = not opts.no_trunc
    if opts.no_stream:
        rows = []
        status = 0
        for ref in refs:
            try:
                s = client.get(f"/containers/{quote(ref)}/stats", {"stream": False})
            except APIError as e:
                if args:
                    sys.stderr.write(f"Error response from daemon: {e.message}\n")
                    status = 1
                continue
            rows.append(stats_row(ref, s or {}, trunc))
        sys.stdout.write(gotemplate.render_rows(fmt, rows, STATS_HEADERS))
        return status
    return _stats_stream(client, refs, fmt, trunc, explicit=bool(args))


def _stats_stream(client: Any, refs: list[str], fmt: str, trunc: bool,
                  explicit: bool) -> int:
    """docker stats' live view: one ``stream=1`` response per container, all read as
    they come (select), the table redrawn once a second."""
    import select

    from dockyard.cli import gotemplate

    streams: dict[int, tuple[str, Any, Any]] = {}
    latest: dict[str, dict[str, str]] = {}
    status = 0
    for ref in refs:
        try:
            resp = client.stream("GET", f"/containers/{quote(ref)}/stats", {"stream": True})
        except APIError as e:
            if explicit:
                sys.stderr.write(f"Error response from daemon: {e.message}\n")
                status = 1
            continue
        streams[resp.conn.fileno()] = (ref, resp, resp.iter_json())
        latest[ref] = stats_row(ref, {}, trunc)
    if not streams:
        return status
    next_draw = 0.0
    try:
        while streams:
            buffered = [fd for fd, (_, r, _) in streams.items() if r.conn.buf]
            ready = buffered or select.select(list(streams), [], [], 1.0)[0]
            for fd in ready:
                ref, resp, values = streams[fd]
                try:
                    latest[ref] = stats_row(ref, next(values) or {}, trunc)
                except StopIteration:   # the container went away
                    resp.close()
                    del streams[fd]
            now = time.monotonic()
            if now >= next_draw:
                rows = [latest[r] for r in refs if r in latest]
                sys.stdout.write("\033[2J\033[H" + gotemplate.render_rows(fmt, rows,
                                                                           STATS_HEADERS))
                sys.stdout.flush()
                next_draw = now + 1.0
    finally:
        for _, resp, _ in streams.values():
            resp.close()
    return status


__all__ = ["INSPECT_SPEC", "OBJECT_INSPECT_SPEC", "PS_SPEC", "bytes_size", "cmd_inspect",
           "cmd_object_inspect", "cmd_ps", "displayable_ports", "indent_json",
           "inspect_objects", "ps_row", "stats_row", "timestamp_param"]
