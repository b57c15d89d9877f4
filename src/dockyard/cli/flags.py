"""A table-driven flag parser with the Docker CLI's (pflag's) rules.

Why not argparse: it costs ~9 ms of CPU to import and build here (the whole
``dockyard run`` budget is 25 ms), and it cannot stop at the first positional the
way ``docker run IMAGE CMD -x`` needs (``interspersed=False``).

Rules kept from pflag: ``--name=value`` and ``--name value``; ``-abc`` groups
booleans; ``-eK=V`` and ``-e K=V``; ``--flag=false`` for booleans; ``--`` ends
flags; an unknown flag or a missing value is a :class:`FlagError` (the caller
prints it with "See 'dockyard CMD --help'." and exits 125, as docker does).

A flag is ``(names, kind, help)`` where names is ``"d detach"`` (short then long,
either may be absent: ``"- rm"``) and kind is ``bool``, ``str``, ``int`` or
``list`` (repeatable). The destination is the long name with ``-`` -> ``_``.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:   # typing imports re; this module is on the CLI's hot path
    from typing import Any


class FlagError(Exception):
    """A usage error: docker prints it and exits 125."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Opts:
    """Parsed values as attributes (defaults filled in)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)
        self._given: set[str] = set()

    def given(self, dest: str) -> bool:
        """Whether the user passed this flag (docker's ``flags.Changed``)."""
        return dest in self._given

    def __repr__(self) -> str:
        return f"Opts({ {k: v for k, v in self.__dict__.items() if k[0] != '_'} })"


_DEFAULTS = {"bool": False, "str": None, "int": None, "list": None}


class Spec:
    """A command's flags and positional-argument rules."""

    def __init__(self, usage: str, flags: list[tuple[str, str, str]], *,
                 interspersed: bool = True, min_args: int = 0,
                 max_args: int | None = None, description: str = "") -> None:
        self.usage = usage
        self.description = description
        self.flags = flags
        self.interspersed = interspersed
        self.min_args = min_args
        self.max_args = max_args
        self.long: dict[str, tuple[str, str]] = {}
        self.short: dict[str, tuple[str, str]] = {}
        self.defaults: dict[str, Any] = {}
        for names, kind, _help in flags:
            short, _, long = names.partition(" ")
            dest = (long or short).replace("-", "_")
            if long:
                self.long[long] = (dest, kind)
            if short and short != "-":
                self.short[short] = (dest, kind)
            self.defaults[dest] = _DEFAULTS[kind]

    def parse(self, argv: list[str]) -> tuple[Opts, list[str]]:
        values = dict(self.defaults)
        opts = Opts(values)
        given = opts._given
        pos: list[str] = []
        i = 0
        n = len(argv)

        def store(dest: str, kind: str, value: str | None, flag: str) -> int:
            """Store one flag; returns how many extra argv items it consumed."""
            used = 0
            if kind == "bool":
                if value is None:
                    setattr(opts, dest, True)
                else:
                    low = value.lower()
                    if low in ("1", "t", "true"):
                        setattr(opts, dest, True)
                    elif low in ("0", "f", "false"):
                        setattr(opts, dest, False)
                    else:
                        raise FlagError(f'invalid argument "{value}" for "{flag}" flag: '
                                        'strconv.ParseBool: parsing '
                                        f'"{value}": invalid syntax')
                given.add(dest)
                return 0
            if value is None:
                if i + 1 >= n:
                    raise FlagError(f"flag needs an argument: {flag}")
                value = argv[i + 1]
                used = 1
            if kind == "list":
                cur = getattr(opts, dest)
                if cur is None:
                    cur = []
                    setattr(opts, dest, cur)
                cur.append(value)
            elif kind == "int":
                try:
                    setattr(opts, dest, int(value, 0) if value[:2] in ("0x", "0X")
                            else int(value))
                except ValueError:
                    raise FlagError(f'invalid argument "{value}" for "{flag}" flag: '
                                    f'strconv.ParseInt: parsing "{value}": invalid '
                                    'syntax') from None
            else:
                setattr(opts, dest, value)
            given.add(dest)
            return used

        while i < n:
            arg = argv[i]
            if arg == "--":
                pos.extend(argv[i + 1:])
                break
            if arg.startswith("--"):
                name, eq, value = arg[2:].partition("=")
                if name == "help":
                    raise HelpRequested()
                entry = self.long.get(name)
                if entry is None:
                    raise FlagError(f"unknown flag: --{name}")
                i += store(entry[0], entry[1], value if eq else None, f"--{name}")
            elif arg.startswith("-") and len(arg) > 1:
                j = 1
                while j < len(arg):
                    ch = arg[j]
                    entry = self.short.get(ch)
                    if entry is None:
                        if ch == "h":
                            raise HelpRequested()
                        raise FlagError(f"unknown shorthand flag: '{ch}' in {arg}")
                    dest, kind = entry
                    if kind == "bool":
                        if arg[j + 1:j + 2] == "=":
                            store(dest, kind, arg[j + 2:], f"-{ch}")
                            break
                        store(dest, kind, None, f"-{ch}")
                        j += 1
                        continue
                    rest = arg[j + 1:]
                    if rest.startswith("="):
                        rest = rest[1:]
                    i += store(dest, kind, rest if rest or j + 1 < len(arg) else None,
                               f"-{ch}")
                    break
            else:
                pos.append(arg)
                if not self.interspersed:
                    pos.extend(argv[i + 1:])
                    break
            i += 1
        if len(pos) < self.min_args or (self.max_args is not None
                                        and len(pos) > self.max_args):
            raise ArgCountError(self, len(pos))
        return opts, pos

    def help_text(self, prog: str) -> str:
        lines = [f"\nUsage:  {prog} {self.usage}\n"]
        if self.description:
            lines.append(self.description + "\n")
        if self.flags:
            lines.append("Options:")
            rows = []
            for names, kind, help_ in self.flags:
                short, _, long = names.partition(" ")
                left = (f"-{short}, " if short and short != "-" else "    ")
                left += f"--{long}" if long else ""
                if kind != "bool":
                    left += f" {kind}"
                rows.append((left, help_))
            width = max(len(r[0]) for r in rows)
            lines += [f"  {left:<{width}}   {h}" for left, h in rows]
        return "\n".join(lines) + "\n"


class HelpRequested(Exception):
    """``--help``/``-h``: print the help text and exit 0."""


class ArgCountError(Exception):
    """Wrong number of positionals; docker exits 1 with its own wording."""

    def __init__(self, spec: Spec, got: int) -> None:
        super().__init__(spec.usage)
        self.spec = spec
        self.got = got

    def text(self, prog: str) -> str:
        s = self.spec
        if s.max_args == 0:
            what = "accepts no arguments"
        elif s.max_args is not None and s.max_args == s.min_args:
            what = f"requires exactly {s.min_args} argument" + (
                "s" if s.min_args != 1 else "")
        elif self.got < s.min_args:
            what = f"requires at least {s.min_args} argument" + ("s" if s.min_args != 1
                                                                   else "")
        else:
            what = f"requires at most {s.max_args} argument" + ("s" if s.max_args != 1
                                                                 else "")
        return (f"dockyard: '{prog}' {what}\n\nUsage:  {prog} {s.usage}\n\n"
                f"See '{prog} --help' for more information\n")


__all__ = ["ArgCountError", "FlagError", "HelpRequested", "Opts", "Spec"]
