"""Lexing a Dockerfile into raw instructions (docker's line rules, no meaning yet).

What happens here, in docker's order:

* parser directives (``# escape=``, ``# syntax=``, ``# check=``) are read only from
  the very top, before any comment, blank line or instruction;
* full-line comments are dropped, also in the middle of a continued line;
* a line ending in the escape character (``\\`` or a backtick), plus trailing blanks,
  continues on the next line; continuation lines keep their leading blanks, and
  blank continuation lines are skipped (docker warns about them, see
  :attr:`RawInstruction.empty_continuation`);
* leading ``--flag[=value]`` words are split off the arguments;
* heredocs (``<<EOF``, ``<<-EOF``, ``<<"EOF"``, several per line) are read for
  RUN, COPY and ADD.

The result is a list of :class:`RawInstruction`; ``instructions.py`` gives them
meaning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dockyard.build.errors import DockerfileError

_DIRECTIVE = re.compile(r"^#[ \t]*([a-zA-Z][a-zA-Z0-9]*)[ \t]*=[ \t]*(.+?)[ \t]*$")
_KNOWN_DIRECTIVES = ("escape", "syntax", "check")
_HEREDOC_WORD = re.compile(r"^(\d*)<<(-?)([^<]*)$")
HEREDOC_INSTRUCTIONS = frozenset({"RUN", "COPY", "ADD"})


@dataclass(frozen=True)
class Heredoc:
    """One ``<<NAME`` document: ``content`` ends with a newline per line read.

    ``expand`` is False when the delimiter was quoted (no variable expansion);
    ``chomp`` is True for ``<<-`` (leading tabs already stripped from content).
    """

    name: str
    content: str
    expand: bool = True
    chomp: bool = False
    fd: int | None = None


@dataclass(frozen=True)
class Flag:
    """A ``--name=value`` word before the arguments (``value`` None: bare ``--name``)."""

    name: str
    value: str | None
    column: int


@dataclass(frozen=True)
class RawInstruction:
    """One logical instruction as written: keyword, flags, argument text, location."""

    keyword: str           # upper case, as docker compares it
    original: str          # the logical line, continuations joined, keyword included
    rest: str              # arguments after the flags (stripped)
    flags: tuple[Flag, ...]
    line: int              # 1-based first physical line
    end_line: int
    column: int            # 1-based column of the keyword
    source: str            # first physical line, for the caret display
    heredocs: tuple[Heredoc, ...] = ()
    empty_continuation: bool = False
    rest_column: int = 1   # column of ``rest`` on the first line (best effort)


@dataclass(frozen=True)
class ParsedFile:
    """The lexed file: directives plus instructions."""

    filename: str
    escape: str
    directives: dict[str, str]
    instructions: tuple[RawInstruction, ...]
    lines: tuple[str, ...]


def _directives(lines: list[str], filename: str) -> tuple[dict[str, str], int]:
    found: dict[str, str] = {}
    i = 0
    while i < len(lines):
        m = _DIRECTIVE.match(lines[i])
        if not m:
            break
        name, value = m.group(1).lower(), m.group(2)
        if name in found and name in _KNOWN_DIRECTIVES:
            raise DockerfileError(f"only one {name} parser directive can be used",
                                  filename=filename, line=i + 1, source=lines[i])
        if name in _KNOWN_DIRECTIVES:
            found[name] = value
        i += 1
    escape = found.get("escape", "\\")
    if escape not in ("\\", "`"):
        raise DockerfileError(f"invalid escape token '{escape}' does not match ` or \\",
                              filename=filename, line=1, source=lines[0] if lines else "")
    return found, i


def _is_comment(line: str) -> bool:
    return line.lstrip(" \t").startswith("#")


def _strip_continuation(line: str, escape: str) -> tuple[str, bool]:
    """(line without the trailing escape, True when the logical line ends here)."""
    stripped = line.rstrip(" \t")
    if stripped.endswith(escape):
        return stripped[:-1], False
    return line, True


def _split_flags(args: str, col: int) -> tuple[tuple[Flag, ...], str, int]:
    """Split leading ``--name[=value]`` words (quotes removed) from ``args``."""
    flags: list[Flag] = []
    pos = 0
    n = len(args)
    while True:
        while pos < n and args[pos] in " \t":
            pos += 1
        if not args.startswith("--", pos):
            break
        start = pos
        word: list[str] = []
        quote = ""
        while pos < n and (quote or args[pos] not in " \t"):
            ch = args[pos]
            if quote:
                if ch == quote:
                    quote = ""
                else:
                    word.append(ch)
            elif ch in "'\"":
                quote = ch
            else:
                word.append(ch)
            pos += 1
        text = "".join(word)
        if text == "--":
            break
        name, eq, value = text[2:].partition("=")
        flags.append(Flag(name, value if eq else None, col + start))
    return tuple(flags), args[pos:].strip(), col + pos


def heredoc_words(line: str) -> list[tuple[str, str, bool, bool, int | None]]:
    """Heredoc markers on a line: (name, raw name, expand, chomp, fd) per marker."""
    from dockyard.build.shellwords import split_words_raw

    found = []
    for word in split_words_raw(line):
        m = _HEREDOC_WORD.match(word)
        if not m or not m.group(3):
            continue
        raw = m.group(3)
        quoted = any(q in raw for q in "'\"")
        name = raw.replace("'", "").replace('"', "") if quoted else raw
        if not name:
            continue
        fd = int(m.group(1)) if m.group(1) else None
        found.append((name, raw, not quoted, m.group(2) == "-", fd))
    return found


def _read_heredocs(lines: list[str], i: int, line: str, filename: str,
                   start_line: int, source: str) -> tuple[tuple[Heredoc, ...], int]:
    docs: list[Heredoc] = []
    for name, _raw, expand, chomp, fd in heredoc_words(line):
        body: list[str] = []
        while True:
            if i >= len(lines):
                raise DockerfileError(f"unterminated heredoc {name}", filename=filename,
                                      line=start_line, source=source)
            text = lines[i]
            i += 1
            check = text.lstrip("\t") if chomp else text
            if check == name:
                break
            body.append(check + "\n")
        docs.append(Heredoc(name, "".join(body), expand, chomp, fd))
    return tuple(docs), i


def lex(text: str, filename: str = "Dockerfile") -> ParsedFile:
    """Lex Dockerfile ``text`` into raw instructions (see the module docstring)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.splitlines()
    directives, i = _directives(lines, filename)
    escape = directives.get("escape", "\\")
    out: list[RawInstruction] = []
    while i < len(lines):
        first = lines[i]
        i += 1
        start_line = i
        body = first.lstrip(" \t")
        if not body or body.startswith("#"):
            continue
        column = len(first) - len(body) + 1
        line, done = _strip_continuation(body, escape)
        empty_cont = False
        while not done and i < len(lines):
            nxt = lines[i]
            i += 1
            if _is_comment(nxt):
                continue
            if not nxt.strip(" \t"):
                empty_cont = True
                continue
            part, done = _strip_continuation(nxt, escape)
            line += part
        if not line.strip():
            continue
        out.append(_make(line, lines, filename, start_line, i, column, first, empty_cont))
        last = out[-1]
        if last.keyword in HEREDOC_INSTRUCTIONS and "<<" in line:
            docs, i = _read_heredocs(lines, i, line, filename, start_line, first)
            if docs:
                out[-1] = _replace_heredocs(last, docs, i)
    return ParsedFile(filename, escape, directives, tuple(out), tuple(lines))


def _make(line: str, lines: list[str], filename: str, start: int, end: int, column: int,
          source: str, empty_cont: bool) -> RawInstruction:
    stripped = line.strip()
    parts = re.split(r"[ \t]+", stripped, maxsplit=1)
    keyword = parts[0].upper()
    args = parts[1] if len(parts) > 1 else ""
    args_col = column + len(parts[0]) + (len(stripped) - len(parts[0]) - len(args)
                                         if args else 1)
    flags, rest, rest_col = _split_flags(args, args_col)
    return RawInstruction(keyword, stripped, rest, flags, start, end, column, source,
                          (), empty_cont, rest_col)


def _replace_heredocs(ins: RawInstruction, docs: tuple[Heredoc, ...],
                      end: int) -> RawInstruction:
    from dataclasses import replace

    return replace(ins, heredocs=docs, end_line=end)


__all__ = [
    "HEREDOC_INSTRUCTIONS",
    "Flag",
    "Heredoc",
    "ParsedFile",
    "RawInstruction",
    "heredoc_words",
    "lex",
]
