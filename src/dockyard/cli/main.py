"""``dockyard``: the docker-compatible command line.

Commands live in ``dockyard.cli.commands.<group>`` modules; :data:`COMMANDS`
maps each top-level word to its module, which is imported only when that word
is used (the CLI stays quick to start). A module provides
``register(subparsers, name)``, adding the parser(s) for ``name`` with
``set_defaults(func=...)``; ``func(args, ctx)`` returns an exit status.

Until the daemon exists the commands run the engine in this process, on the
data root from ``--data-root``, ``$DOCKYARD_ROOT`` or ``/var/lib/dockyard``.

Global options (before the command): ``--data-root DIR``, ``-D/--debug``.
Exit codes: 0 success; 1 an engine error (printed as ``Error: message``; with
``--debug`` the traceback too); 2 a usage error; 125 a command not available in
this build; 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from dataclasses import dataclass

# word -> (module, one-line help). Other engineers add their rows here.
COMMANDS: dict[str, tuple[str, str]] = {
    "images": ("dockyard.cli.commands.images", "List images"),
    "image": ("dockyard.cli.commands.images", "Manage images"),
    "inspect": ("dockyard.cli.commands.images", "Return low-level information on objects"),
    "history": ("dockyard.cli.commands.images", "Show the history of an image"),
    "tag": ("dockyard.cli.commands.images", "Create a tag TARGET that refers to SOURCE"),
    "rmi": ("dockyard.cli.commands.images", "Remove one or more images"),
    "save": ("dockyard.cli.commands.images", "Save images to a tar archive"),
    "load": ("dockyard.cli.commands.images", "Load images from a tar archive or STDIN"),
    "import": ("dockyard.cli.commands.images",
               "Import a tarball's contents to create a filesystem image"),
    "system": ("dockyard.cli.commands.images", "Manage dockyard (df, check)"),
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


@dataclass
class Context:
    """What every command gets besides its arguments."""

    data_root: str
    debug: bool = False

    def image_service(self):
        from dockyard.image.service import ImageService

        return ImageService(self.data_root)


@dataclass
class _Globals:
    data_root: str
    debug: bool = False
    help: bool = False


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
    lines = ["usage: dockyard [--data-root DIR] [-D] COMMAND [ARGS...]", "", "Commands:"]
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
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and module_name.startswith(e.name):
            print(f"dockyard: '{word}' is not available in this build ({module_name} "
                  "is missing)", file=sys.stderr)
            return EXIT_UNAVAILABLE
        raise
    parser = argparse.ArgumentParser(prog="dockyard")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    module.register(sub, word)
    cmd_args = rest
    if gopts.help:
        cmd_args = [*cmd_args, "--help"]
    ns = parser.parse_args(cmd_args)
    ctx = Context(gopts.data_root, gopts.debug)
    return _run(ns, ctx)


def _run(ns: argparse.Namespace, ctx: Context) -> int:
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
