"""``dockyard``: the docker-compatible command line.

Commands live in ``dockyard.cli.commands.<group>`` modules; :data:`COMMANDS`
maps each top-level word to its module, which is imported only when that word
is used (the CLI stays quick to start). A module provides
``register(subparsers, name)``, adding the parser(s) for ``name`` with
``set_defaults(func=...)``; ``func(args, ctx)`` returns an exit status.

Until the daemon exists the commands run the engine in this process, on the
data root from ``--data-root``, ``$DOCKYARD_ROOT`` or ``/var/lib/dockyard``.

Global options (before the command): ``-H/--host HOST`` (the daemon, also
``$DOCKYARD_HOST``), ``--tls``/``--tlsverify``/``--tlscacert``/``--tlscert``/``--tlskey``
(tcp:// hosts; also ``$DOCKYARD_TLS_VERIFY``/``$DOCKYARD_CERT_PATH``), ``--data-root
DIR``, ``-D/--debug``, ``-v/--version``.
A command module may define ``dispatch(word, argv, ctx) -> int`` instead of
``register``: it then parses its own flags (the container verbs do, with docker's
rules and without argparse, which is too slow to import on ``run``'s path).
Exit codes: 0 success; 1 an engine error (printed as ``Error: message``; with
``--debug`` the traceback too); 2 a usage error; 125 a command not available in
this build; 130 interrupted.
"""

from __future__ import annotations

import os
import sys

# argparse, importlib and dataclasses stay out of this module's imports: together ~12 ms
# of CPU, and ``dockyard run`` (a module with ``dispatch``) needs none of them.

_C = "dockyard.cli.commands.containers"

# word -> (module, one-line help). Other engineers add their rows here.
COMMANDS: dict[str, tuple[str, str]] = {
    "images": ("dockyard.cli.commands.images", "List images"),
    "image": ("dockyard.cli.commands.images", "Manage images"),
    "history": ("dockyard.cli.commands.images", "Show the history of an image"),
    "tag": ("dockyard.cli.commands.images", "Create a tag TARGET that refers to SOURCE"),
    "rmi": ("dockyard.cli.commands.images", "Remove one or more images"),
    "save": ("dockyard.cli.commands.images", "Save images to a tar archive"),
    "load": ("dockyard.cli.commands.images", "Load images from a tar archive or STDIN"),
    "import": ("dockyard.cli.commands.images",
               "Import a tarball's contents to create a filesystem image"),
    # containers, volumes, networks, system (branch cli): talk to dockyardd over its API
    "run": (_C, "Create and run a new container from an image"),
    "create": (_C, "Create a new container"),
    "start": (_C, "Start one or more stopped containers"),
    "stop": (_C, "Stop one or more running containers"),
    "restart": (_C, "Restart one or more containers"),
    "kill": (_C, "Kill one or more running containers"),
    "rm": (_C, "Remove one or more containers"),
    "ps": (_C, "List containers"),
    "logs": (_C, "Fetch the logs of a container"),
    "exec": (_C, "Execute a command in a running container"),
    "attach": (_C, "Attach local standard input, output, and error streams to a running "
                   "container"),
    "top": (_C, "Display the running processes of a container"),
    "stats": (_C, "Display a live stream of container(s) resource usage statistics"),
    "cp": (_C, "Copy files/folders between a container and the local filesystem"),
    "export": (_C, "Export a container's filesystem as a tar archive"),
    "diff": (_C, "Inspect changes to files or directories on a container's filesystem"),
    "rename": (_C, "Rename a container"),
    "pause": (_C, "Pause all processes within one or more containers"),
    "unpause": (_C, "Unpause all processes within one or more containers"),
    "wait": (_C, "Block until one or more containers stop, then print their exit codes"),
    "port": (_C, "List port mappings or a specific mapping for the container"),
    "update": (_C, "Update configuration of one or more containers"),
    "container": (_C, "Manage containers"),
    "inspect": (_C, "Return low-level information on objects"),
    "volume": ("dockyard.cli.commands.volumes", "Manage volumes"),
    "network": ("dockyard.cli.commands.networks", "Manage networks"),
    "system": ("dockyard.cli.commands.system", "Manage dockyard (info, df, events, prune, "
                                               "check)"),
    "info": ("dockyard.cli.commands.system", "Display system-wide information"),
    "version": ("dockyard.cli.commands.system", "Show the dockyard version information"),
    "events": ("dockyard.cli.commands.system", "Get real time events from the server"),
    # registry room (branch registry)
    "pull": ("dockyard.cli.commands.registry", "Download an image from a registry"),
    "push": ("dockyard.cli.commands.registry", "Upload an image to a registry"),
    "login": ("dockyard.cli.commands.registry", "Log in to a registry"),
    "logout": ("dockyard.cli.commands.registry", "Log out from a registry"),
    "manifest": ("dockyard.cli.commands.registry", "Inspect image manifests"),
    "registry": ("dockyard.cli.commands.registry", "Run or maintain a registry"),
    # builder room (branch builder)
    "build": ("dockyard.cli.commands.build", "Build an image from a Dockerfile"),
}

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 125
EXIT_INTERRUPTED = 130


class Context:
    """What every command gets besides its arguments.

    ``host`` is the daemon's address from ``-H/--host`` (None: ``$DOCKYARD_HOST`` or
    the default socket, where ``client()`` starts a daemon when none answers).
    """

    def __init__(self, data_root: str, debug: bool = False, host: str | None = None,
                 tls: dict | None = None) -> None:
        self.data_root = data_root
        self.debug = debug
        self.host = host
        self.tls = tls or {}
        self._client = None

    def image_service(self):
        from dockyard.image.service import ImageService

        return ImageService(self.data_root)

    def client(self):
        """The API client (one per process, connections kept alive)."""
        if self._client is None:
            from dockyard.cli.client import Client, TLSOptions
            from dockyard.cli.daemonstart import autostart_hook

            c = Client(self.host, tls=TLSOptions(**self.tls) if self.tls else None)
            c.autostart = autostart_hook(c, explicit=self.host is not None
                                         or bool(os.environ.get("DOCKYARD_HOST")),
                                         data_root=self.data_root)
            self._client = c
        return self._client


class _Globals:
    def __init__(self, data_root: str) -> None:
        self.data_root = data_root
        self.debug = False
        self.help = False
        self.host: str | None = None
        self.version = False
        self.tls: dict = {}


_TLS_FILES = {"--tlscacert": "ca", "--tlscert": "cert", "--tlskey": "key"}


def _split_globals(args: list[str]) -> tuple[_Globals, list[str]]:
    """Take the global options before the command word; the rest is the command's."""
    g = _Globals(os.environ.get("DOCKYARD_ROOT") or "/var/lib/dockyard")
    i = 0
    while i < len(args) and args[i].startswith("-"):
        arg = args[i]
        if arg in ("-D", "--debug"):
            g.debug = True
        elif arg in ("-h", "--help"):
            g.help = True
        elif arg in ("-v", "--version"):
            g.version = True
        elif arg in ("-H", "--host") and i + 1 < len(args):
            g.host = args[i + 1]
            i += 1
        elif arg.startswith("--host=") or (arg.startswith("-H") and len(arg) > 2):
            g.host = arg.split("=", 1)[1] if arg.startswith("--") else arg[2:].lstrip("=")
        elif arg in ("--tls", "--tlsverify"):
            g.tls["tls" if arg == "--tls" else "verify"] = True
        elif arg.split("=", 1)[0] in _TLS_FILES:
            key = _TLS_FILES[arg.split("=", 1)[0]]
            if "=" in arg:
                g.tls[key] = arg.split("=", 1)[1]
            elif i + 1 < len(args):
                g.tls[key] = args[i + 1]
                i += 1
        elif arg == "--data-root" and i + 1 < len(args):
            g.data_root = args[i + 1]
            i += 1
        elif arg.startswith("--data-root="):
            g.data_root = arg.split("=", 1)[1]
        else:
            raise SystemExit(f"dockyard: unknown option {arg}\n\n{_usage()}")
        i += 1
    return g, args[i:]


def _usage() -> str:
    width = max(len(k) for k in COMMANDS)
    lines = ["usage: dockyard [-H HOST] [--data-root DIR] [-D] COMMAND [ARGS...]", "",
             "Commands:"]
    lines += [f"  {name:<{width}}  {help_}" for name, (_, help_) in sorted(COMMANDS.items())]
    lines += ["", "Run 'dockyard COMMAND --help' for more information on a command."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        gopts, rest = _split_globals(args)
    except SystemExit as e:
        print(e, file=sys.stderr)
        return EXIT_USAGE
    if gopts.version and not rest:
        from dockyard import __version__

        print(f"dockyard version {__version__}")
        return 0
    if not rest:
        print(_usage())
        return 0 if gopts.help else EXIT_USAGE
    word = rest[0]
    if word not in COMMANDS:
        print(f"dockyard: '{word}' is not a dockyard command.\n"
              "See 'dockyard --help'", file=sys.stderr)
        return EXIT_USAGE
    module_name = COMMANDS[word][0]
    try:
        __import__(module_name)
        module = sys.modules[module_name]
    except ModuleNotFoundError as e:
        if e.name and module_name.startswith(e.name):
            print(f"dockyard: '{word}' is not available in this build ({module_name} "
                  "is missing)", file=sys.stderr)
            return EXIT_UNAVAILABLE
        raise
    ctx = Context(gopts.data_root, gopts.debug, gopts.host, gopts.tls)
    dispatch = getattr(module, "dispatch", None)
    if dispatch is not None:
        # Modules with their own (docker-style, argparse-free) flag parsing.
        argv = rest[1:] + (["--help"] if gopts.help else [])
        try:
            return int(dispatch(word, argv, ctx) or 0)
        except KeyboardInterrupt:
            return EXIT_INTERRUPTED
        except BrokenPipeError:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return 0
    import argparse

    parser = argparse.ArgumentParser(prog="dockyard")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    module.register(sub, word)
    cmd_args = rest
    if gopts.help:
        cmd_args = [*cmd_args, "--help"]
    ns = parser.parse_args(cmd_args)
    return _run(ns, ctx)


def _run(ns, ctx: Context) -> int:
    from dockyard.errors import DockyardError

    func = getattr(ns, "func", None)
    if func is None:
        print(f"dockyard {ns.command}: missing subcommand (see --help)", file=sys.stderr)
        return EXIT_USAGE
    try:
        return int(func(ns, ctx) or 0)
    except DockyardError as e:
        if ctx.debug:
            import traceback

            traceback.print_exc()
        print(f"Error: {e.message}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``| head``): not an error; keep Python quiet at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
