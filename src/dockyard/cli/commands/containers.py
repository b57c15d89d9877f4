"""Container commands: the top-level verbs (run, ps, rm, ...) and ``container VERB``.

``dispatch(word, argv, ctx)`` is what ``cli/main.py`` calls: it finds the verb's
flag table and handler (imported only for that verb), parses with docker's rules
(``cli/flags.py``) and maps failures to docker's output and exit codes:
flag errors "unknown flag: --x / See 'dockyard run --help'." -> 125; a wrong
argument count -> 1; daemon errors "Error response from daemon: ..." -> 1 (125
for ``run``/``create``); a container's own status for ``run``/``start -a``/``exec``.

The lifecycle verbs that act on a list of containers live here; the streaming
ones in ``container_run.py``, the read-only ones in ``container_info.py``.
"""

from __future__ import annotations

import sys

from dockyard.cli.flags import ArgCountError, FlagError, HelpRequested, Opts, Spec

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_RUN = "dockyard.cli.commands.container_run"
_INFO = "dockyard.cli.commands.container_info"
_FILES = "dockyard.cli.commands.container_files"
_HERE = "dockyard.cli.commands.containers"

# verb -> (module, spec attribute, handler attribute)
VERBS: dict[str, tuple[str, str, str]] = {
    "run": (_RUN, "RUN_SPEC", "cmd_run"),
    "create": (_RUN, "CREATE_SPEC", "cmd_create"),
    "start": (_RUN, "START_SPEC", "cmd_start"),
    "attach": (_RUN, "ATTACH_SPEC", "cmd_attach"),
    "exec": (_RUN, "EXEC_SPEC", "cmd_exec"),
    "ps": (_INFO, "PS_SPEC", "cmd_ps"),
    "inspect": (_INFO, "INSPECT_SPEC", "cmd_inspect"),
    "object-inspect": (_INFO, "OBJECT_INSPECT_SPEC", "cmd_object_inspect"),
    "logs": (_INFO, "LOGS_SPEC", "cmd_logs"),
    "top": (_INFO, "TOP_SPEC", "cmd_top"),
    "stats": (_INFO, "STATS_SPEC", "cmd_stats"),
    "port": (_INFO, "PORT_SPEC", "cmd_port"),
    "diff": (_INFO, "DIFF_SPEC", "cmd_diff"),
    "cp": (_FILES, "CP_SPEC", "cmd_cp"),
    "export": (_FILES, "EXPORT_SPEC", "cmd_export"),
    "stop": (_HERE, "STOP_SPEC", "cmd_stop"),
    "restart": (_HERE, "RESTART_SPEC", "cmd_restart"),
    "kill": (_HERE, "KILL_SPEC", "cmd_kill"),
    "rm": (_HERE, "RM_SPEC", "cmd_rm"),
    "pause": (_HERE, "PAUSE_SPEC", "cmd_pause"),
    "unpause": (_HERE, "UNPAUSE_SPEC", "cmd_unpause"),
    "wait": (_HERE, "WAIT_SPEC", "cmd_wait"),
    "rename": (_HERE, "RENAME_SPEC", "cmd_rename"),
    "update": (_HERE, "UPDATE_SPEC", "cmd_update"),
    "prune": (_HERE, "PRUNE_SPEC", "cmd_prune"),
}
_ALIASES = {"ls": "ps", "list": "ps", "remove": "rm"}
# words whose daemon errors end with 125 (docker: run/create "StatusError")
_DAEMON_125 = frozenset({"run", "create"})

CONTAINER_HELP = """
Usage:  dockyard container COMMAND

Manage containers

Commands:
  attach      Attach local standard input, output, and error streams to a running container
  cp          Copy files/folders between a container and the local filesystem
  create      Create a new container
  diff        Inspect changes to files or directories on a container's filesystem
  exec        Execute a command in a running container
  export      Export a container's filesystem as a tar archive
  inspect     Display detailed information on one or more containers
  kill        Kill one or more running containers
  logs        Fetch the logs of a container
  ls          List containers
  pause       Pause all processes within one or more containers
  port        List port mappings or a specific mapping for the container
  prune       Remove all stopped containers
  rename      Rename a container
  restart     Restart one or more containers
  rm          Remove one or more containers
  run         Create and run a new container from an image
  start       Start one or more stopped containers
  stats       Display a live stream of container(s) resource usage statistics
  stop        Stop one or more running containers
  top         Display the running processes of a container
  unpause     Unpause all processes within one or more containers
  update      Update configuration of one or more containers
  wait        Block until one or more containers stop, then print their exit codes

Run 'dockyard container COMMAND --help' for more information on a command.
"""


def dispatch(word: str, argv: list[str], ctx: Any) -> int:
    if word == "container":
        if not argv or argv[0] in ("-h", "--help"):
            sys.stdout.write(CONTAINER_HELP)
            return 0 if argv else 1
        verb = _ALIASES.get(argv[0], argv[0])
        if verb not in VERBS:
            sys.stderr.write(f"dockyard: 'container {argv[0]}' is not a dockyard command.\n"
                             "See 'dockyard container --help'\n")
            return 1
        return run_verb(verb, argv[1:], ctx, f"dockyard container {argv[0]}")
    if word == "inspect":   # top-level: any object kind
        return run_verb("object-inspect", argv, ctx, "dockyard inspect")
    return run_verb(word, argv, ctx, f"dockyard {word}")


def _run_help(prog: str, message: str) -> str:
    return f"dockyard: {message}\n\nRun '{prog} --help' for more information\n"


class RunFailure(Exception):
    """An error ending a command with a given status (``run``: 125/126/127)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def run_verb(verb: str, argv: list[str], ctx: Any, prog: str) -> int:
    module_name, spec_name, func_name = VERBS[verb]
    __import__(module_name)
    module = sys.modules[module_name]
    return run_command(getattr(module, spec_name), getattr(module, func_name), argv, ctx,
                       prog, 125 if verb in _DAEMON_125 else 1)


def run_command(spec: Spec, func: Any, argv: list[str], ctx: Any, prog: str,
                fail: int = 1) -> int:
    """Parse ``argv`` with ``spec``, call ``func(opts, args, ctx)``, print errors
    docker's way; ``fail`` is the status for daemon errors (125 for run/create)."""
    from dockyard.cli.client import APIError, DaemonUnreachable
    from dockyard.errors import DockyardError

    try:
        opts, args = spec.parse(argv)
    except HelpRequested:
        sys.stdout.write(spec.help_text(prog))
        return 0
    except FlagError as e:
        sys.stderr.write(f"{e.message}\n\nUsage:  {prog} {spec.usage}\n\n"
                         f"Run '{prog} --help' for more information\n")
        return 125
    except ArgCountError as e:
        sys.stderr.write(e.text(prog))
        return 1
    try:
        return int(func(opts, args, ctx) or 0)
    except FlagError as e:   # a value docker checks after parsing (ports, conflicts)
        sys.stderr.write(_run_help(prog, e.message))
        return 125
    except APIError as e:
        if fail == 125:
            sys.stderr.write(_run_help(prog, f"Error response from daemon: {e.message}"))
        else:
            sys.stderr.write(f"Error response from daemon: {e.message}\n")
        return fail
    except DaemonUnreachable as e:
        sys.stderr.write(_run_help(prog, e.message) if fail == 125 else f"{e.message}\n")
        return fail
    except RunFailure as e:
        sys.stderr.write(_run_help(prog, e.message))
        return e.status
    except DockyardError as e:
        if getattr(ctx, "debug", False):
            import traceback
            traceback.print_exc()
        sys.stderr.write(f"Error: {e.message}\n")
        return fail
    finally:
        client = getattr(ctx, "_client", None)
        if client is not None:
            client.close()


# --- lifecycle verbs on lists of containers ----------------------------------------


def _each(client: Any, refs: list[str], method: str, suffix: str,
          params: dict[str, Any] | None = None, echo: bool = True) -> int:
    """Do one request per container; print each ref done, each error; 1 if any failed."""
    from dockyard.cli.client import APIError, quote

    status = 0
    for ref in refs:
        try:
            client.request(method, f"/containers/{quote(ref)}{suffix}", params).read()
            if echo:
                print(ref)
        except APIError as e:
            sys.stderr.write(f"Error response from daemon: {e.message}\n")
            status = 1
    return status


STOP_SPEC = Spec("[OPTIONS] CONTAINER [CONTAINER...]", [
    ("s signal", "str", "Signal to send to the container"),
    ("t time", "int", "Seconds to wait before killing the container"),
], min_args=1, description="Stop one or more running containers")
RESTART_SPEC = Spec("[OPTIONS] CONTAINER [CONTAINER...]", [
    ("s signal", "str", "Signal to send to the container"),
    ("t time", "int", "Seconds to wait before killing the container"),
], min_args=1, description="Restart one or more containers")
KILL_SPEC = Spec("[OPTIONS] CONTAINER [CONTAINER...]", [
    ("s signal", "str", "Signal to send to the container"),
], min_args=1, description="Kill one or more running containers")
RM_SPEC = Spec("[OPTIONS] CONTAINER [CONTAINER...]", [
    ("f force", "bool", "Force the removal of a running container (uses SIGKILL)"),
    ("l link", "bool", "Remove the specified link"),
    ("v volumes", "bool", "Remove anonymous volumes associated with the container"),
], min_args=1, description="Remove one or more containers")
PAUSE_SPEC = Spec("CONTAINER [CONTAINER...]", [], min_args=1,
                  description="Pause all processes within one or more containers")
UNPAUSE_SPEC = Spec("CONTAINER [CONTAINER...]", [], min_args=1,
                    description="Unpause all processes within one or more containers")
WAIT_SPEC = Spec("CONTAINER [CONTAINER...]", [], min_args=1,
                 description="Block until one or more containers stop, then print their "
                             "exit codes")
RENAME_SPEC = Spec("CONTAINER NEW_NAME", [], min_args=2, max_args=2,
                   description="Rename a container")
PRUNE_SPEC = Spec("[OPTIONS]", [
    ("- filter", "list", "Provide filter values (e.g. \"until=<timestamp>\")"),
    ("f force", "bool", "Do not prompt for confirmation"),
], max_args=0, description="Remove all stopped containers")
UPDATE_SPEC = Spec("[OPTIONS] CONTAINER [CONTAINER...]", [
    ("- blkio-weight", "int", "Block IO (relative weight), between 10 and 1000"),
    ("- cpu-period", "int", "Limit CPU CFS (Completely Fair Scheduler) period"),
    ("- cpu-quota", "int", "Limit CPU CFS (Completely Fair Scheduler) quota"),
    ("c cpu-shares", "int", "CPU shares (relative weight)"),
    ("- cpus", "str", "Number of CPUs"),
    ("- cpuset-cpus", "str", "CPUs in which to allow execution (0-3, 0,1)"),
    ("- cpuset-mems", "str", "MEMs in which to allow execution (0-3, 0,1)"),
    ("m memory", "str", "Memory limit"),
    ("- memory-reservation", "str", "Memory soft limit"),
    ("- memory-swap", "str", "Swap limit equal to memory plus swap: -1 to enable unlimited "
                             "swap"),
    ("- pids-limit", "int", "Tune container pids limit (set -1 for unlimited)"),
    ("- restart", "str", "Restart policy to apply when a container exits"),
], min_args=1, description="Update configuration of one or more containers")


def _stop_params(opts: Opts) -> dict[str, Any]:
    return {"t": opts.time, "signal": opts.signal}


def cmd_stop(opts: Opts, args: list[str], ctx: Any) -> int:
    return _each(ctx.client(), args, "POST", "/stop", _stop_params(opts))


def cmd_restart(opts: Opts, args: list[str], ctx: Any) -> int:
    return _each(ctx.client(), args, "POST", "/restart", _stop_params(opts))


def cmd_kill(opts: Opts, args: list[str], ctx: Any) -> int:
    return _each(ctx.client(), args, "POST", "/kill", {"signal": opts.signal})


def cmd_rm(opts: Opts, args: list[str], ctx: Any) -> int:
    return _each(ctx.client(), args, "DELETE", "",
                 {"force": opts.force or None, "v": opts.volumes or None,
                  "link": opts.link or None})


def cmd_pause(opts: Opts, args: list[str], ctx: Any) -> int:
    return _each(ctx.client(), args, "POST", "/pause")


def cmd_unpause(opts: Opts, args: list[str], ctx: Any) -> int:
    return _each(ctx.client(), args, "POST", "/unpause")


def cmd_wait(opts: Opts, args: list[str], ctx: Any) -> int:
    from dockyard.cli.client import APIError, quote

    client = ctx.client()
    status = 0
    for ref in args:
        try:
            doc = client.stream("POST", f"/containers/{quote(ref)}/wait").json() or {}
            print(doc.get("StatusCode", 0))
        except APIError as e:
            sys.stderr.write(f"Error response from daemon: {e.message}\n")
            status = 1
    return status


def cmd_rename(opts: Opts, args: list[str], ctx: Any) -> int:
    from dockyard.cli.client import quote

    old, new = args
    if not new.strip():
        raise FlagError("Error: Neither old nor new names may be empty")
    ctx.client().request("POST", f"/containers/{quote(old)}/rename", {"name": new}).read()
    return 0


def cmd_update(opts: Opts, args: list[str], ctx: Any) -> int:
    from dockyard.cli.client import APIError, quote
    from dockyard.cli.commands.container_opts import restart_policy
    from dockyard.cli.units import mem_bytes, nano_cpus

    body: dict[str, Any] = {}
    for dest, key in (("blkio_weight", "BlkioWeight"), ("cpu_period", "CpuPeriod"),
                      ("cpu_quota", "CpuQuota"), ("cpu_shares", "CpuShares"),
                      ("pids_limit", "PidsLimit")):
        if opts.given(dest):
            body[key] = getattr(opts, dest)
    for dest, key in (("cpuset_cpus", "CpusetCpus"), ("cpuset_mems", "CpusetMems")):
        if opts.given(dest):
            body[key] = getattr(opts, dest)
    if opts.cpus:
        body["NanoCpus"] = nano_cpus(opts.cpus)
    for dest, key in (("memory", "Memory"), ("memory_reservation", "MemoryReservation"),
                      ("memory_swap", "MemorySwap")):
        value = getattr(opts, dest)
        if value:
            body[key] = mem_bytes(value, "--" + dest.replace("_", "-"),
                                  allow_unlimited=dest == "memory_swap")
    if opts.restart:
        body["RestartPolicy"] = restart_policy(opts.restart)
    if not body:
        raise FlagError("you must provide one or more flags when using this command")
    client = ctx.client()
    status = 0
    for ref in args:
        try:
            doc = client.post(f"/containers/{quote(ref)}/update", None, body) or {}
            for w in doc.get("Warnings") or ():
                sys.stderr.write(f"WARNING: {w}\n")
            print(ref)
        except APIError as e:
            sys.stderr.write(f"Error response from daemon: {e.message}\n")
            status = 1
    return status


def filters_param(items: list[str] | None) -> dict[str, list[str]] | None:
    """``--filter k=v`` (repeatable) -> the API's ``{"k": ["v", ...]}`` JSON map."""
    if not items:
        return None
    out: dict[str, list[str]] = {}
    for item in items:
        k, eq, v = item.partition("=")
        if not eq:
            raise FlagError("bad format of filter (expected name=value)")
        out.setdefault(k.strip().lower(), []).append(v)
    return out


def confirm(question: str) -> bool:
    """docker's prompt: "Are you sure you want to continue? [y/N]"."""
    sys.stdout.write(f"{question}\nAre you sure you want to continue? [y/N] ")
    sys.stdout.flush()
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes")


def cmd_prune(opts: Opts, args: list[str], ctx: Any) -> int:
    from dockyard.cli.humanize import human_size

    if not opts.force and not confirm("WARNING! This will remove all stopped containers."):
        return 0
    doc = ctx.client().post("/containers/prune",
                            {"filters": filters_param(opts.filter)}) or {}
    deleted = doc.get("ContainersDeleted") or []
    if deleted:
        print("Deleted Containers:")
        for cid in deleted:
            print(cid)
        print()
    print(f"Total reclaimed space: {human_size(doc.get('SpaceReclaimed') or 0)}")
    return 0


__all__ = ["VERBS", "RunFailure", "confirm", "dispatch", "filters_param", "run_command",
           "run_verb"]
