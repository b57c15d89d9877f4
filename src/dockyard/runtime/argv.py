"""A small declarative command-line parser for ``dockyard-runtime``.

Why not argparse: importing it and building one parser costs ~25 ms here (its
gettext lookups stat a locale catalogue for every string), half of what
``runc run`` takes in total. Options are declared once, in tables (``Opt`` and
``Command`` below, filled in by ``cli``); parsing and ``--help`` both come from
them. Semantics follow runc's CLI: global options before the command, options
of a command anywhere before its trailing command arguments (``exec ID CMD...``,
``ps ID PS-ARGS...``), ``--name=value`` or ``--name value``, ``--`` ends options.
"""

from __future__ import annotations

import sys


class Namespace:
    """The parsed command line, attribute access (``types.SimpleNamespace`` without
    the import of :mod:`types`, which start/state/delete would otherwise not load)."""

    def __init__(self, **values: object) -> None:
        self.__dict__.update(values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Namespace) and vars(self) == vars(other)

    __hash__ = None  # type: ignore[assignment]  # mutable, like SimpleNamespace

    def __repr__(self) -> str:
        items = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items())
        return f"Namespace({items})"


class UsageError(Exception):
    """Bad command line: reported with the usage line, exit status 2."""


class Opt:
    __slots__ = ("choices", "default", "dest", "help", "kind", "names", "type")

    def __init__(self, *names: str, kind: str = "flag", default=None, type=str,
                 choices: tuple[str, ...] | None = None, help: str = "",
                 dest: str | None = None) -> None:
        self.names = names
        self.kind = kind  # flag | value | append
        self.default = [] if kind == "append" and default is None else default
        if kind == "flag" and default is None:
            self.default = False
        self.type = type
        self.choices = choices
        self.help = help
        self.dest = dest or names[0].lstrip("-").replace("-", "_")


class Command:
    """``positionals``: (dest, mode) with mode one | optional | many | rest."""

    __slots__ = ("fn", "help", "name", "opts", "positionals")

    def __init__(self, name: str, fn, help: str, opts: tuple[Opt, ...] = (),
                 positionals: tuple[tuple[str, str], ...] = (("id", "one"),)) -> None:
        self.name = name
        self.fn = fn
        self.help = help
        self.opts = opts
        self.positionals = positionals


def _lookup(opts: tuple[Opt, ...], name: str) -> Opt | None:
    for opt in opts:
        if name in opt.names:
            return opt
    return None


def _take(opt: Opt, token: str, inline: str | None, args: list[str], i: int,
          ns: Namespace) -> int:
    """Store one option; return the index of the next token."""
    if opt.kind == "flag":
        if inline is not None:
            raise UsageError(f"option {token} takes no value")
        setattr(ns, opt.dest, True)
        return i + 1
    if inline is None:
        if i + 1 >= len(args):
            raise UsageError(f"option {token} needs a value")
        inline, i = args[i + 1], i + 1
    if opt.choices and inline not in opt.choices:
        raise UsageError(f"option {token}: {inline!r} is not one of {', '.join(opt.choices)}")
    try:
        value = opt.type(inline)
    except ValueError:
        raise UsageError(f"option {token}: invalid value {inline!r}") from None
    if opt.kind == "append":
        getattr(ns, opt.dest).append(value)
    else:
        setattr(ns, opt.dest, value)
    return i + 1


def _defaults(ns: Namespace, opts: tuple[Opt, ...]) -> None:
    for opt in opts:
        setattr(ns, opt.dest, list(opt.default) if opt.kind == "append" else opt.default)


def parse(args: list[str], global_opts: tuple[Opt, ...], commands: dict[str, Command],
          prog: str, version: str) -> Namespace:
    ns = Namespace()
    _defaults(ns, global_opts)
    i = 0
    while i < len(args) and args[i].startswith("-") and args[i] != "-":
        token = args[i]
        if token in ("-h", "--help"):
            raise SystemExit(_print(main_help(global_opts, commands, prog)))
        if token in ("-v", "--version"):
            raise SystemExit(_print(version))
        name, _, inline = token.partition("=")
        opt = _lookup(global_opts, name)
        if opt is None:
            raise UsageError(f"unknown global option {token}")
        i = _take(opt, token, inline if "=" in token else None, args, i, ns)
    if i >= len(args):
        raise UsageError("a command is required")
    cmd = commands.get(args[i])
    if cmd is None:
        raise UsageError(f"unknown command {args[i]!r} (see --help)")
    ns.command, ns.fn = cmd.name, cmd.fn
    _defaults(ns, cmd.opts)
    values = _command_args(cmd, args[i + 1:], ns, prog)
    _assign(cmd, values, ns)
    return ns


def _command_args(cmd: Command, args: list[str], ns: Namespace, prog: str
                  ) -> list[str]:
    values: list[str] = []
    fixed = sum(1 for _, mode in cmd.positionals if mode == "one")
    has_rest = any(mode == "rest" for _, mode in cmd.positionals)
    i = 0
    while i < len(args):
        token = args[i]
        if has_rest and len(values) >= fixed:
            values.extend(args[i:])  # the rest belongs to the command run inside
            break
        if token == "--":
            values.extend(args[i + 1:])
            break
        if token.startswith("-") and token != "-":
            if token in ("-h", "--help"):
                raise SystemExit(_print(command_help(cmd, prog)))
            name, _, inline = token.partition("=")
            opt = _lookup(cmd.opts, name)
            if opt is None:
                raise UsageError(f"{cmd.name}: unknown option {token}")
            i = _take(opt, token, inline if "=" in token else None, args, i, ns)
            continue
        values.append(token)
        i += 1
    return values


def _assign(cmd: Command, values: list[str], ns: Namespace) -> None:
    for dest, mode in cmd.positionals:
        if mode == "one":
            if not values:
                raise UsageError(f"{cmd.name}: missing argument <{dest}>")
            setattr(ns, dest, values.pop(0))
        elif mode == "optional":
            setattr(ns, dest, values.pop(0) if values else None)
        elif mode == "many":
            if not values:
                raise UsageError(f"{cmd.name}: missing argument <{dest}>")
            setattr(ns, dest, values[:])
            values.clear()
        else:  # rest
            setattr(ns, dest, values[:])
            values.clear()
    if values:
        raise UsageError(f"{cmd.name}: unexpected argument {values[0]!r}")


def _print(text: str) -> int:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def _opt_lines(opts: tuple[Opt, ...]) -> list[str]:
    lines = []
    for opt in opts:
        names = ", ".join(opt.names)
        if opt.kind != "flag":
            names += " " + ("{" + ",".join(opt.choices) + "}" if opt.choices else "VALUE")
        default = f" (default {opt.default})" if opt.kind == "value" and opt.default else ""
        lines.append(f"  {names:<32} {opt.help}{default}")
    return lines


def main_help(global_opts: tuple[Opt, ...], commands: dict[str, Command], prog: str) -> str:
    lines = [f"usage: {prog} [global options] COMMAND [options] [arguments]", "",
             "An OCI runtime with runc's command line.", "", "commands:"]
    lines += [f"  {c.name:<10} {c.help}" for c in commands.values()]
    lines += ["", "global options:", *_opt_lines(global_opts)]
    return "\n".join(lines) + "\n"


def command_help(cmd: Command, prog: str) -> str:
    args = " ".join(f"<{d}>" if m == "one" else f"[{d}...]" if m in ("many", "rest")
                    else f"[{d}]" for d, m in cmd.positionals)
    lines = [f"usage: {prog} {cmd.name} [options] {args}".rstrip(), "", cmd.help]
    if cmd.opts:
        lines += ["", "options:", *_opt_lines(cmd.opts)]
    return "\n".join(lines) + "\n"
