"""A small interpreter for the Go text/template language ``--format`` uses.

What docker users write: fields (``.A.B``, ``$``, ``$v.X``), pipelines
(``.Names | upper``), parentheses, ``range`` (lists; maps by sorted key;
``$k, $v :=``), ``if``/``else if``/``else``, ``with``, ``end``, ``{{-``/``-}}``
trimming, string/number/bool literals, and the functions docker registers
(json, join, split, upper, lower, title, truncate, pad, println) plus Go's
builtins (index, len, printf, print, println, eq, ne, lt, le, gt, ge, and, or,
not). Anything else is an InvalidArgument naming the problem.

Values print as Go's ``fmt`` does for decoded JSON (see ``gotemplate.go_str``).
"""

from __future__ import annotations

from dockyard.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class _Err(InvalidArgument):
    pass


# --- lexing --------------------------------------------------------------------------


def _split(template: str) -> list[tuple[str, str]]:
    """[("text", s) | ("action", s)] with ``{{-``/``-}}`` trimming applied."""
    out: list[tuple[str, str]] = []
    pos = 0
    while True:
        start = template.find("{{", pos)
        if start < 0:
            out.append(("text", template[pos:]))
            return out
        text = template[pos:start]
        inner_start = start + 2
        if template.startswith("- ", inner_start) or template.startswith("-\t",
                                                                         inner_start):
            text = text.rstrip(" \t\r\n")
            inner_start += 1
        end = template.find("}}", inner_start)
        if end < 0:
            raise _Err(f"template: unclosed action in {template!r}")
        inner_end = end
        trim_after = False
        if template[end - 1] == "-" and template[end - 2] in " \t":
            inner_end = end - 1
            trim_after = True
        out.append(("text", text))
        out.append(("action", template[inner_start:inner_end].strip()))
        pos = end + 2
        if trim_after:
            while pos < len(template) and template[pos] in " \t\r\n":
                pos += 1


def _tokens(src: str) -> list[str]:
    toks: list[str] = []
    i = 0
    n = len(src)
    while i < n:
        c = src[i]
        if c in " \t\r\n":
            i += 1
        elif c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            if j >= n:
                raise _Err(f"template: unterminated quoted string in {src!r}")
            toks.append(src[i:j + 1])
            i = j + 1
        elif c == "`":
            j = src.find("`", i + 1)
            if j < 0:
                raise _Err(f"template: unterminated raw string in {src!r}")
            toks.append(src[i:j + 1])
            i = j + 1
        elif c in "|(),":
            toks.append(c)
            i += 1
            if c == ")" and i < n and src[i] == ".":   # (pipeline).Field
                j = i
                while j < n and src[j] not in " \t\r\n|(),":
                    j += 1
                toks.append("@" + src[i:j])
                i = j
        elif src.startswith(":=", i) or src.startswith("=", i):
            w = 2 if src.startswith(":=", i) else 1
            toks.append(src[i:i + w])
            i += w
        else:
            j = i
            while j < n and src[j] not in " \t\r\n|(),\"`" and not src.startswith(":=", j):
                j += 1
            toks.append(src[i:j])
            i = j
    return toks


# --- parsing -------------------------------------------------------------------------
# node kinds: ("text", s) ("action", pipe) ("if"|"with", pipe, body, else)
#             ("range", vars, pipe, body, else)
# pipe: [cmd...]; cmd: [arg...]; arg: ("field", base, path) ("lit", v) ("fn", name)
#       ("pipe", pipe) ("chain", pipe, path)


def _parse_arg(tok: str, toks: list[str]) -> tuple:
    if tok == "(":
        pipe = _parse_pipe(toks, until=")")
        if toks and toks[0].startswith("@."):
            return ("chain", pipe, toks.pop(0)[2:].split("."))
        return ("pipe", pipe)
    if tok.startswith('"'):
        return ("lit", _unquote(tok))
    if tok.startswith("`"):
        return ("lit", tok[1:-1])
    if tok in ("true", "false"):
        return ("lit", tok == "true")
    if tok == "nil":
        return ("lit", None)
    if tok[0].isdigit() or (tok[0] in "+-" and len(tok) > 1 and tok[1].isdigit()):
        try:
            return ("lit", int(tok, 0))
        except ValueError:
            try:
                return ("lit", float(tok))
            except ValueError:
                raise _Err(f"template: bad number syntax: {tok!r}") from None
    if tok == ".":
        return ("field", ".", [])
    if tok.startswith("."):
        return ("field", ".", tok[1:].split("."))
    if tok.startswith("$"):
        name, _, rest = tok.partition(".")
        return ("field", name, rest.split(".") if rest else [])
    if tok.replace("_", "a").isalnum():
        return ("fn", tok)
    raise _Err(f"template: unexpected {tok!r}")


def _unquote(tok: str) -> str:
    from dockyard.cli import jsonfast
    try:
        return jsonfast.loads(tok)
    except ValueError:
        raise _Err(f"template: bad string {tok}") from None


def _parse_pipe(toks: list[str], until: str | None = None) -> list[list[tuple]]:
    cmds: list[list[tuple]] = [[]]
    while toks:
        tok = toks.pop(0)
        if until is not None and tok == until:
            break
        if tok == "|":
            if not cmds[-1]:
                raise _Err("template: missing command before '|'")
            cmds.append([])
            continue
        if tok in (")", ",", ":=", "="):
            raise _Err(f"template: unexpected {tok!r} in operand")
        cmds[-1].append(_parse_arg(tok, toks))
    else:
        if until is not None:
            raise _Err("template: unclosed left paren")
    if not cmds[-1]:
        raise _Err("template: missing value for command")
    return cmds


def parse(template: str) -> list[tuple]:
    parts = _split(template)
    pos = 0

    def block(stop: tuple[str, ...]) -> tuple[list[tuple], str]:
        nonlocal pos
        nodes: list[tuple] = []
        while pos < len(parts):
            kind, s = parts[pos]
            pos += 1
            if kind == "text":
                if s:
                    nodes.append(("text", s))
                continue
            if s.startswith("/*"):
                continue
            word = s.split(None, 1)[0] if s else ""
            rest = s[len(word):].strip()
            if word in ("end", "else"):
                if word not in stop:
                    raise _Err(f"template: unexpected {{{{{word}}}}}")
                return nodes, s
            if word in ("if", "with"):
                nodes.append(cond(word, rest))
            elif word == "range":
                toks = _tokens(rest)
                names: list[str] = []
                if ":=" in toks:
                    k = toks.index(":=")
                    names = [t for t in toks[:k] if t != ","]
                    toks = toks[k + 1:]
                    if not all(n.startswith("$") for n in names) or len(names) > 2:
                        raise _Err(f"template: bad range variables in {s!r}")
                pipe = _parse_pipe(toks)
                body, how = block(("end", "else"))
                other: list[tuple] = []
                if how.startswith("else"):
                    other, _ = block(("end",))
                nodes.append(("range", names, pipe, body, other))
            elif word in ("define", "template", "block", "break", "continue"):
                raise _Err(f"template: {word!r} is not supported")
            elif s:
                toks = _tokens(s)
                if len(toks) > 2 and toks[0].startswith("$") and toks[1] in (":=", "="):
                    nodes.append(("assign", toks[0], _parse_pipe(toks[2:])))
                else:
                    nodes.append(("action", _parse_pipe(toks)))
        if stop:
            raise _Err(f"template: unexpected EOF in {template!r}")
        return nodes, ""

    def cond(word: str, rest: str) -> tuple:
        pipe = _parse_pipe(_tokens(rest))
        body, how = block(("end", "else"))
        other: list[tuple] = []
        if how.startswith("else"):
            tail = how[4:].strip()
            if tail.startswith("if ") or tail.startswith("with "):
                w2 = tail.split(None, 1)[0]
                other = [cond(w2, tail[len(w2):].strip())]
            else:
                other, _ = block(("end",))
        return (word, pipe, body, other)

    nodes, _ = block(())
    return nodes


# --- execution -----------------------------------------------------------------------


def truth(v: Any) -> bool:
    if v is None or v is False:
        return False
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return v != 0
    if isinstance(v, (str, list, tuple, dict)):
        return len(v) > 0
    return True


def _field(v: Any, path: list[str]) -> Any:
    for part in path:
        if part == "":
            continue
        if isinstance(v, dict):
            if part not in v:
                method = getattr(v, "methods", {}).get(part)
                if method is None:
                    raise _Err(f"template: can't evaluate field {part}")
                v = method   # e.g. ps rows' .Label "key"
                continue
            v = v[part]
        else:
            raise _Err(f"template: can't evaluate field {part} in type "
                       f"{type(v).__name__}")
    return v


class _Exec:
    def __init__(self, funcs: dict[str, Callable[..., Any]], root: Any) -> None:
        self.funcs = funcs
        self.vars: list[tuple[str, Any]] = [("$", root)]
        self.out: list[str] = []

    def var(self, name: str) -> Any:
        for n, v in reversed(self.vars):
            if n == name:
                return v
        raise _Err(f"template: undefined variable: {name}")

    def arg(self, a: tuple, dot: Any) -> Any:
        kind = a[0]
        if kind == "lit":
            return a[1]
        if kind == "field":
            base = dot if a[1] == "." else self.var(a[1])
            return _field(base, a[2])
        if kind == "pipe":
            return self.pipe(a[1], dot)
        if kind == "chain":
            return _field(self.pipe(a[1], dot), a[2])
        fn = self.funcs.get(a[1])
        if fn is None:
            raise _Err(f'template: function "{a[1]}" not defined')
        return fn()

    def pipe(self, pipe: list[list[tuple]], dot: Any) -> Any:
        value: Any = None
        for i, cmd in enumerate(pipe):
            args = list(cmd)
            head = args[0]
            if head[0] == "fn":
                fn = self.funcs.get(head[1])
                if fn is None:
                    raise _Err(f'template: function "{head[1]}" not defined')
                vals = [self.arg(a, dot) for a in args[1:]]
                if i > 0:
                    vals.append(value)
                try:
                    value = fn(*vals)
                except _Err:
                    raise
                except (TypeError, ValueError, KeyError, IndexError) as e:
                    raise _Err(f"template: error calling {head[1]}: {e}") from None
            else:
                value_ = self.arg(head, dot)
                if callable(value_):   # a method: {{.Label "k"}}
                    vals = [self.arg(a, dot) for a in args[1:]]
                    if i > 0:
                        vals.append(value)
                    try:
                        value = value_(*vals)
                    except TypeError as e:
                        raise _Err(f"template: wrong number of args: {e}") from None
                    continue
                if len(args) > 1 or i > 0:
                    raise _Err("template: can't give argument to non-function")
                value = value_
        return value

    def run(self, nodes: list[tuple], dot: Any, to_str: Callable[[Any], str]) -> None:
        for node in nodes:
            kind = node[0]
            if kind == "text":
                self.out.append(node[1])
            elif kind == "action":
                self.out.append(to_str(self.pipe(node[1], dot)))
            elif kind == "assign":
                self.vars.append((node[1], self.pipe(node[2], dot)))
            elif kind in ("if", "with"):
                v = self.pipe(node[1], dot)
                if truth(v):
                    self.run(node[2], v if kind == "with" else dot, to_str)
                else:
                    self.run(node[3], dot, to_str)
            elif kind == "range":
                _, names, pipe, body, other = node
                v = self.pipe(pipe, dot)
                if isinstance(v, dict):
                    items = [(k, v[k]) for k in sorted(v)]
                elif isinstance(v, (list, tuple)):
                    items = list(enumerate(v))
                elif v is None:
                    items = []
                elif isinstance(v, int) and not isinstance(v, bool):
                    items = [(i, i) for i in range(v)]
                else:
                    raise _Err(f"template: range can't iterate over {to_str(v)}")
                if not items:
                    self.run(other, dot, to_str)
                for k, item in items:
                    mark = len(self.vars)
                    if len(names) == 1:
                        self.vars.append((names[0], item))
                    elif len(names) == 2:
                        self.vars += [(names[0], k), (names[1], item)]
                    self.run(body, item, to_str)
                    del self.vars[mark:]


_PARSED: dict[str, list[tuple]] = {}


def split_actions(template: str) -> list[tuple[str, str]]:
    """[("text", s) | ("action", s)], trimming applied (for table headers)."""
    return _split(template)


def execute(template: str, root: Any, funcs: dict[str, Callable[..., Any]],
            to_str: Callable[[Any], str]) -> str:
    nodes = _PARSED.get(template)
    if nodes is None:   # ps renders one template per row: parse it once
        nodes = _PARSED[template] = parse(template)
    ex = _Exec(funcs, root)
    ex.run(nodes, root, to_str)
    return "".join(ex.out)


__all__ = ["execute", "parse", "split_actions", "truth"]
