"""``dockyard-runtime``: runc's command line over the verbs in ``runtime/container``.

Each command parses its options, calls one verb, prints the result. Errors are
:class:`dockyard.errors.DockyardError` (or OSError) mapped to exit status 1 once,
here: the message goes to stderr and, with ``--log``, to the log file, in runc's
JSON shape under ``--log-format json`` (containerd reads the last error there).

Start-up time is most of a ``run``'s cost, so this module imports only os and
sys (the parser is ``runtime/argv.py``, not argparse: see why there); each
command imports its verb when it runs.
"""

from __future__ import annotations

import os
import sys

Namespace = object  # the parsed command line (types.SimpleNamespace from argv.parse)


class Globals:
    __slots__ = ("debug", "log", "log_format", "root", "systemd_cgroup")

    def __init__(self, ns: Namespace) -> None:
        self.root = ns.root
        self.log = ns.log
        self.log_format = ns.log_format
        self.debug = ns.debug
        self.systemd_cgroup = ns.systemd_cgroup

    def store(self):
        from dockyard.runtime.state import StateStore

        return StateStore(self.root)

    def emit(self, level: str, msg: str) -> None:
        """Write one log record: to the --log file (text or JSON), else stderr."""
        if self.log:
            import time

            if self.log_format == "json":
                t = time.time()
                stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + \
                    f".{int(t % 1 * 1e9):09d}Z"
                from dockyard.runtime import fastjson

                line = fastjson.dumps({"level": level, "msg": msg, "time": stamp})
            else:
                line = f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} " \
                       f"[{level}] {msg}"
            try:
                with open(self.log, "a") as f:
                    f.write(line + "\n")
            except OSError:
                pass
        if level in ("error", "warning") or self.debug:
            print(f"{level}: {msg}" if level != "error" else msg, file=sys.stderr)

    def warn(self, msg: str) -> None:
        self.emit("warning", msg.removeprefix("warning: "))


# --- commands ---------------------------------------------------------------------------

def cmd_create(g: Globals, a: Namespace) -> int:
    from dockyard.runtime.process import warm_cgroup_migration

    warm_cgroup_migration()  # first: it overlaps what follows
    from dockyard.runtime.container.create import CreateOptions, create

    create(g.store(), a.id, CreateOptions(a.bundle, a.pid_file, a.console_socket,
                                          a.no_pivot))
    return 0


def cmd_run(g: Globals, a: Namespace) -> int:
    from dockyard.runtime.process import warm_cgroup_migration

    warm_cgroup_migration()  # first: it overlaps what follows
    from dockyard.runtime.container.create import CreateOptions
    from dockyard.runtime.container.run import run

    return run(g.store(), a.id, CreateOptions(a.bundle, a.pid_file, a.console_socket,
                                              a.no_pivot), detach=a.detach, warn=g.warn)


def cmd_start(g: Globals, a: Namespace) -> int:
    from dockyard.runtime.container.start import start

    start(g.store(), a.id, warn=g.warn)
    return 0


def cmd_state(g: Globals, a: Namespace) -> int:
    from dockyard.runtime.container.state import state
    from dockyard.runtime.fastjson import dumps_indented

    print(dumps_indented(state(g.store(), a.id)))
    return 0


def cmd_kill(g: Globals, a: Namespace) -> int:
    from dockyard.runtime.container.kill import kill, parse_signal

    kill(g.store(), a.id, parse_signal(a.signal or "SIGTERM"), all_processes=a.all)
    return 0


def cmd_delete(g: Globals, a: Namespace) -> int:
    from dockyard.runtime.container.delete import delete

    for cid in a.ids:
        delete(g.store(), cid, force=a.force, warn=g.warn)
    return 0


def cmd_list(g: Globals, a: Namespace) -> int:
    from dockyard.runtime.container.list import format_table, list_states

    states = list_states(g.store())
    if a.quiet:
        sys.stdout.write("".join(s["id"] + "\n" for s in states))
    elif a.format == "json":
        from dockyard.runtime.fastjson import dumps

        print(dumps(states))
    else:
        sys.stdout.write(format_table(states))
    return 0


def cmd_ps(g: Globals, a: Namespace) -> int:
    from dockyard.runtime.container.ps import pids, table

    found = pids(g.store(), a.id)
    if a.format == "json":
        from dockyard.runtime.fastjson import dumps

        print(dumps(found))
    else:
        sys.stdout.write(table(found, a.ps_args))
    return 0


def cmd_exec(g: Globals, a: Namespace) -> int:
    from dockyard.runtime.process import warm_cgroup_migration

    warm_cgroup_migration()  # the exec'd process joins the container's cgroup
    from dockyard.runtime.container.exec import ExecOptions, build_process, exec_

    store = g.store()
    base = store.load(a.id).config.get("process")
    process = build_process(base, process_file=a.process, args=a.command, tty=a.tty,
                            cwd=a.cwd, env=a.env, user=a.user, caps=a.cap,
                            no_new_privs=a.no_new_privs,
                            additional_gids=a.additional_gids)
    return exec_(store, a.id, process, ExecOptions(a.detach, a.pid_file, a.console_socket),
                 warn=g.warn)


def cmd_pause(g: Globals, a: Namespace) -> int:
    from dockyard.runtime.container.pause import pause

    pause(g.store(), a.id)
    return 0


def cmd_resume(g: Globals, a: Namespace) -> int:
    from dockyard.runtime.container.pause import resume

    resume(g.store(), a.id)
    return 0


def cmd_update(g: Globals, a: Namespace) -> int:
    from dockyard.runtime.container.update import read_resources, update

    resources = read_resources(a.resources) if a.resources else _resources_from_flags(a)
    update(g.store(), a.id, resources)
    return 0


def _resources_from_flags(a: Namespace) -> dict:
    res: dict = {}
    if a.memory is not None:
        res.setdefault("memory", {})["limit"] = a.memory
    if a.pids_limit is not None:
        res["pids"] = {"limit": a.pids_limit}
    for key, attr in (("shares", "cpu_shares"), ("quota", "cpu_quota"),
                      ("period", "cpu_period"), ("cpus", "cpuset_cpus"),
                      ("mems", "cpuset_mems")):
        if getattr(a, attr) is not None:
            res.setdefault("cpu", {})[key] = getattr(a, attr)
    if not res:
        from dockyard.errors import InvalidArgument

        raise InvalidArgument("update: give --resources FILE (or -) or a resource flag")
    return res


def cmd_spec(g: Globals, a: Namespace) -> int:
    from dockyard.runtime.default_spec import write_spec

    write_spec(a.bundle, rootless=a.rootless)
    return 0


def cmd_features(g: Globals, a: Namespace) -> int:
    import json

    from dockyard.runtime.features import features

    print(json.dumps(features(), indent=2))
    return 0


# --- the command line, declared once (parsed by runtime/argv.py) ---------------------------

def _tables():
    from dockyard.runtime.argv import Command, Opt

    global_opts = (
        Opt("--root", kind="value", default="/run/dockyard-runtime", help="state directory"),
        Opt("--log", kind="value", default="", help="log file"),
        Opt("--log-format", kind="value", default="text", choices=("text", "json"),
            help="log record format"),
        Opt("--debug", help="debug output"),
        Opt("--systemd-cgroup", help="accepted (cgroup paths are plain paths)"),
        Opt("--rootless", kind="value", default="auto", help="accepted"),
        Opt("--criu", kind="value", default="", help="accepted (no checkpointing)"),
    )
    create_opts = (
        Opt("--bundle", "-b", kind="value", default=".", help="bundle directory"),
        Opt("--pid-file", kind="value", help="write the init's pid here"),
        Opt("--console-socket", kind="value", help="unix socket receiving the pty master"),
        Opt("--no-pivot", help="MS_MOVE + chroot instead of pivot_root"),
        Opt("--no-new-keyring", help="accepted (no session keyrings)"),
        Opt("--preserve-fds", kind="value", type=int, default=0, help="accepted"),
        Opt("--no-subreaper", help="accepted"),
    )
    commands = [
        Command("create", cmd_create, "create a container", create_opts),
        Command("run", cmd_run, "create and start a container, wait unless --detach",
                (*create_opts, Opt("--detach", "-d", help="do not wait"),
                 Opt("--keep", help="accepted"))),
        Command("start", cmd_start, "start a created container"),
        Command("state", cmd_state, "print a container's state (JSON)"),
        Command("kill", cmd_kill, "send a signal (name or number) to a container",
                (Opt("--all", "-a", help="to every process of its cgroup"),),
                (("id", "one"), ("signal", "optional"))),
        Command("delete", cmd_delete, "delete containers",
                (Opt("--force", "-f", help="kill it first if it still runs"),),
                (("ids", "many"),)),
        Command("list", cmd_list, "list containers",
                (Opt("--format", "-f", kind="value", default="table",
                     choices=("table", "json")),
                 Opt("--quiet", "-q", help="ids only")), ()),
        Command("ps", cmd_ps, "processes of a container",
                (Opt("--format", "-f", kind="value", default="table",
                     choices=("table", "json")),), (("id", "one"), ("ps_args", "rest"))),
        Command("exec", cmd_exec, "run a process in a running container", (
            Opt("--process", "-p", kind="value", help="process.json"),
            Opt("--tty", "-t", help="allocate a terminal"),
            Opt("--detach", "-d", help="do not wait"),
            Opt("--pid-file", kind="value"),
            Opt("--console-socket", kind="value"),
            Opt("--cwd", kind="value"),
            Opt("--env", "-e", kind="append", help="NAME=VALUE"),
            Opt("--user", "-u", kind="value", help="UID[:GID]"),
            Opt("--additional-gids", "-g", kind="append", type=int),
            Opt("--cap", "-c", kind="append", help="add a capability"),
            Opt("--no-new-privs", help="set no_new_privs"),
            Opt("--preserve-fds", kind="value", type=int, default=0, help="accepted"),
            Opt("--apparmor", kind="value", help="accepted"),
            Opt("--process-label", kind="value", help="accepted"),
            Opt("--ignore-paused", help="accepted"),
        ), (("id", "one"), ("command", "rest"))),
        Command("pause", cmd_pause, "freeze a container"),
        Command("resume", cmd_resume, "thaw a paused container"),
        Command("update", cmd_update, "change a container's resources", (
            Opt("--resources", "-r", kind="value", help="linux.resources JSON file or -"),
            Opt("--memory", kind="value", type=int),
            Opt("--pids-limit", kind="value", type=int),
            Opt("--cpu-shares", kind="value", type=int),
            Opt("--cpu-quota", kind="value", type=int),
            Opt("--cpu-period", kind="value", type=int),
            Opt("--cpuset-cpus", kind="value"),
            Opt("--cpuset-mems", kind="value"),
        )),
        Command("spec", cmd_spec, "write a default config.json",
                (Opt("--bundle", "-b", kind="value", default="."),
                 Opt("--rootless", help="for an unprivileged user")), ()),
        Command("features", cmd_features, "print what this runtime supports (JSON)", (), ()),
    ]
    return global_opts, {c.name: c for c in commands}


def parse_args(argv: list[str]):
    from dockyard.runtime.argv import parse

    global_opts, commands = _tables()
    return parse(argv, global_opts, commands, "dockyard-runtime",
                 "dockyard-runtime 0.1.0\nspec: 1.2.0")


def main(argv: list[str] | None = None) -> int:
    import gc

    # A command is short-lived and makes no garbage cycles worth collecting; left on,
    # the collector scans the freshly imported modules' objects ~7 times per `run`
    # (~1.7 ms). A foreground run/exec turns it back on while it waits.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _main(argv)
    finally:
        if was_enabled:  # an in-process caller (tests) gets its collector back
            gc.enable()


def _main(argv: list[str] | None) -> int:
    from dockyard.runtime.argv import UsageError

    if argv is None:
        argv = sys.argv[1:]
    try:
        args = parse_args(argv)
    except UsageError as e:
        print(f"dockyard-runtime: {e} (see --help)", file=sys.stderr)
        return 2
    g = Globals(args)
    try:
        return args.fn(g, args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `state X | head`: the reader went away; say nothing, like runc.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except Exception as e:
        from dockyard.errors import DockyardError

        if isinstance(e, DockyardError):
            msg = e.message
        elif isinstance(e, OSError):
            msg = str(e) if not e.strerror or not e.filename else \
                f"{e.filename}: {e.strerror}"
        else:
            if g.debug:
                raise
            msg = f"internal error: {type(e).__name__}: {e}"
        g.emit("error", msg)
        return 1


if __name__ == "__main__":
    sys.exit(main())
