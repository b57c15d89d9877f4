"""``dockyard-runtime``: runc's command line over the verbs in ``runtime/container``.

Each command parses its options, calls one verb, prints the result. Errors are
:class:`dockyard.errors.DockyardError` (or OSError) mapped to exit status 1 once,
here: the message goes to stderr and, with ``--log``, to the log file, in runc's
JSON shape under ``--log-format json`` (containerd reads the last error there).

Start-up time is most of a ``run``'s cost, so this module imports only argparse,
json, os and sys; each command imports its verb when it runs.
"""

from __future__ import annotations

import argparse
import json
import sys


class Globals:
    __slots__ = ("debug", "log", "log_format", "root", "systemd_cgroup")

    def __init__(self, ns: argparse.Namespace) -> None:
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
                line = json.dumps({"level": level, "msg": msg, "time": stamp})
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

def cmd_create(g: Globals, a: argparse.Namespace) -> int:
    from dockyard.runtime.container.create import CreateOptions, create

    create(g.store(), a.id, CreateOptions(a.bundle, a.pid_file, a.console_socket,
                                          a.no_pivot))
    return 0


def cmd_run(g: Globals, a: argparse.Namespace) -> int:
    from dockyard.runtime.container.create import CreateOptions
    from dockyard.runtime.container.run import run

    return run(g.store(), a.id, CreateOptions(a.bundle, a.pid_file, a.console_socket,
                                              a.no_pivot), detach=a.detach, warn=g.warn)


def cmd_start(g: Globals, a: argparse.Namespace) -> int:
    from dockyard.runtime.container.start import start

    start(g.store(), a.id, warn=g.warn)
    return 0


def cmd_state(g: Globals, a: argparse.Namespace) -> int:
    from dockyard.runtime.container.state import state

    print(json.dumps(state(g.store(), a.id), indent=2))
    return 0


def cmd_kill(g: Globals, a: argparse.Namespace) -> int:
    from dockyard.runtime.container.kill import kill, parse_signal

    kill(g.store(), a.id, parse_signal(a.signal), all_processes=a.all)
    return 0


def cmd_delete(g: Globals, a: argparse.Namespace) -> int:
    from dockyard.runtime.container.delete import delete

    for cid in a.ids:
        delete(g.store(), cid, force=a.force, warn=g.warn)
    return 0


def cmd_list(g: Globals, a: argparse.Namespace) -> int:
    from dockyard.runtime.container.list import format_table, list_states

    states = list_states(g.store())
    if a.quiet:
        sys.stdout.write("".join(s["id"] + "\n" for s in states))
    elif a.format == "json":
        print(json.dumps(states))
    else:
        sys.stdout.write(format_table(states))
    return 0


def cmd_ps(g: Globals, a: argparse.Namespace) -> int:
    from dockyard.runtime.container.ps import pids, table

    found = pids(g.store(), a.id)
    if a.format == "json":
        print(json.dumps(found))
    else:
        sys.stdout.write(table(found, a.ps_args))
    return 0


def cmd_exec(g: Globals, a: argparse.Namespace) -> int:
    from dockyard.runtime.container.exec import ExecOptions, build_process, exec_

    store = g.store()
    base = store.load(a.id).config.get("process")
    process = build_process(base, process_file=a.process, args=a.command, tty=a.tty,
                            cwd=a.cwd, env=a.env, user=a.user, caps=a.cap,
                            no_new_privs=a.no_new_privs,
                            additional_gids=a.additional_gids)
    return exec_(store, a.id, process, ExecOptions(a.detach, a.pid_file, a.console_socket),
                 warn=g.warn)


def cmd_pause(g: Globals, a: argparse.Namespace) -> int:
    from dockyard.runtime.container.pause import pause

    pause(g.store(), a.id)
    return 0


def cmd_resume(g: Globals, a: argparse.Namespace) -> int:
    from dockyard.runtime.container.pause import resume

    resume(g.store(), a.id)
    return 0


def cmd_update(g: Globals, a: argparse.Namespace) -> int:
    from dockyard.runtime.container.update import read_resources, update

    resources = read_resources(a.resources) if a.resources else _resources_from_flags(a)
    update(g.store(), a.id, resources)
    return 0


def _resources_from_flags(a: argparse.Namespace) -> dict:
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


def cmd_spec(g: Globals, a: argparse.Namespace) -> int:
    from dockyard.runtime.default_spec import write_spec

    write_spec(a.bundle, rootless=a.rootless)
    return 0


def cmd_features(g: Globals, a: argparse.Namespace) -> int:
    from dockyard.runtime.features import features

    print(json.dumps(features(), indent=2))
    return 0


# --- argument parsing ---------------------------------------------------------------------

def _create_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bundle", "-b", default=".", help="bundle directory (config.json)")
    p.add_argument("--pid-file", help="write the init's pid here")
    p.add_argument("--console-socket", help="unix socket receiving the pty master")
    p.add_argument("--no-pivot", action="store_true", help="MS_MOVE+chroot, no pivot_root")
    p.add_argument("--no-new-keyring", action="store_true", help="accepted (no keyrings)")
    p.add_argument("--preserve-fds", type=int, default=0, help="accepted")
    p.add_argument("--no-subreaper", action="store_true", help="accepted")
    p.add_argument("id")


def _cmd_create(sub) -> None:
    c = sub.add_parser("create", help="create a container")
    _create_options(c)
    c.set_defaults(fn=cmd_create)


def _cmd_run(sub) -> None:
    c = sub.add_parser("run", help="create and start a container")
    _create_options(c)
    c.add_argument("--detach", "-d", action="store_true")
    c.add_argument("--keep", action="store_true", help="accepted")
    c.set_defaults(fn=cmd_run)


def _cmd_simple(name: str, fn):
    def build(sub) -> None:
        c = sub.add_parser(name, help=f"{name} a container")
        c.add_argument("id")
        c.set_defaults(fn=fn)
    return build


def _cmd_kill(sub) -> None:
    c = sub.add_parser("kill", help="send a signal to a container")
    c.add_argument("--all", "-a", action="store_true", help="every process in its cgroup")
    c.add_argument("id")
    c.add_argument("signal", nargs="?", default="SIGTERM")
    c.set_defaults(fn=cmd_kill)


def _cmd_delete(sub) -> None:
    c = sub.add_parser("delete", help="delete containers")
    c.add_argument("--force", "-f", action="store_true")
    c.add_argument("ids", nargs="+", metavar="id")
    c.set_defaults(fn=cmd_delete)


def _cmd_list(sub) -> None:
    c = sub.add_parser("list", help="list containers")
    c.add_argument("--format", "-f", default="table", choices=("table", "json"))
    c.add_argument("--quiet", "-q", action="store_true")
    c.set_defaults(fn=cmd_list)


def _cmd_ps(sub) -> None:
    c = sub.add_parser("ps", help="processes of a container")
    c.add_argument("--format", "-f", default="table", choices=("table", "json"))
    c.add_argument("id")
    c.add_argument("ps_args", nargs=argparse.REMAINDER)
    c.set_defaults(fn=cmd_ps)


def _cmd_exec(sub) -> None:
    c = sub.add_parser("exec", help="run a process in a container")
    c.add_argument("--process", "-p", help="process.json")
    c.add_argument("--tty", "-t", action="store_true")
    c.add_argument("--detach", "-d", action="store_true")
    c.add_argument("--pid-file")
    c.add_argument("--console-socket")
    c.add_argument("--cwd")
    c.add_argument("--env", "-e", action="append", default=[])
    c.add_argument("--user", "-u")
    c.add_argument("--additional-gids", "-g", action="append", type=int, default=[])
    c.add_argument("--cap", "-c", action="append", default=[])
    c.add_argument("--no-new-privs", action="store_true")
    c.add_argument("--preserve-fds", type=int, default=0, help="accepted")
    c.add_argument("--apparmor", help="accepted")
    c.add_argument("--process-label", help="accepted")
    c.add_argument("--ignore-paused", action="store_true", help="accepted")
    c.add_argument("id")
    c.add_argument("command", nargs=argparse.REMAINDER)
    c.set_defaults(fn=cmd_exec)


def _cmd_update(sub) -> None:
    c = sub.add_parser("update", help="change a container's resources")
    c.add_argument("--resources", "-r", help="linux.resources JSON file, or - for stdin")
    c.add_argument("--memory", type=int)
    c.add_argument("--pids-limit", type=int)
    c.add_argument("--cpu-shares", type=int)
    c.add_argument("--cpu-quota", type=int)
    c.add_argument("--cpu-period", type=int)
    c.add_argument("--cpuset-cpus")
    c.add_argument("--cpuset-mems")
    c.add_argument("id")
    c.set_defaults(fn=cmd_update)


def _cmd_spec(sub) -> None:
    c = sub.add_parser("spec", help="write a default config.json")
    c.add_argument("--bundle", "-b", default=".")
    c.add_argument("--rootless", action="store_true")
    c.set_defaults(fn=cmd_spec)


def _cmd_features(sub) -> None:
    c = sub.add_parser("features", help="print what this runtime supports (JSON)")
    c.set_defaults(fn=cmd_features)


COMMANDS = {
    "create": _cmd_create, "run": _cmd_run, "start": _cmd_simple("start", cmd_start),
    "state": _cmd_simple("state", cmd_state), "kill": _cmd_kill, "delete": _cmd_delete,
    "list": _cmd_list, "ps": _cmd_ps, "exec": _cmd_exec,
    "pause": _cmd_simple("pause", cmd_pause), "resume": _cmd_simple("resume", cmd_resume),
    "update": _cmd_update, "spec": _cmd_spec, "features": _cmd_features,
}
# Global options that take a value (so the command word can be found without argparse).
_VALUED = {"--root", "--log", "--log-format", "--rootless", "--criu"}


def command_word(argv: list[str]) -> str | None:
    """The sub-command named in ``argv`` (None if absent or help is asked)."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-h", "--help"):
            return None
        if arg.startswith("-"):
            i += 2 if arg in _VALUED else 1
            continue
        return arg if arg in COMMANDS else None
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or (``only``) the globals plus one command: building all
    fourteen sub-parsers costs more than a container's whole start-up budget."""
    p = argparse.ArgumentParser(prog="dockyard-runtime",
                                description="An OCI runtime with runc's command line.")
    p.add_argument("--root", default="/run/dockyard-runtime", help="state directory")
    p.add_argument("--log", default="", help="log file")
    p.add_argument("--log-format", default="text", choices=("text", "json"))
    p.add_argument("--debug", action="store_true")
    p.add_argument("--systemd-cgroup", action="store_true", help="accepted (plain paths)")
    p.add_argument("--rootless", default="auto", help="accepted")
    p.add_argument("--criu", default="", help="accepted (no checkpointing)")
    p.add_argument("-v", "--version", action="version", version="dockyard-runtime 0.1.0\n"
                   "spec: 1.2.0")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, build in COMMANDS.items():
        if only is None or name == only:
            build(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    args = build_parser(command_word(argv)).parse_args(argv)
    g = Globals(args)
    try:
        return args.fn(g, args)
    except KeyboardInterrupt:
        return 130
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
