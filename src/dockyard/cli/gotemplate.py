"""``--format``: Go templates (executed by ``gotmpl.py``) with docker's functions.

Fields, pipelines, ``range``/``if``/``with``, ``json``/``join``/``index``/``printf``
and friends, literal text with ``\\t`` and ``\\n`` escapes, and a leading ``table``
that adds a header row and aligns columns like the Docker CLI's tabwriter. Values
print as Go does (``[a b]`` for lists, ``map[k:v]`` for maps, ``<nil>`` for null).
Anything unsupported is an InvalidArgument naming it, so a user learns at once
that a feature is missing rather than getting a wrong answer.
"""

from __future__ import annotations

from dockyard.cli import jsonfast
from dockyard.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:   # re, json, typing and collections.abc cost ~8 ms to import: ps pays it
    from collections.abc import Mapping, Sequence
    from typing import Any


def _go_str(v: Any) -> str:
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{_go_str(x)}" for k, x in sorted(v.items())) + "]"
    if isinstance(v, (list, tuple)):
        return "[" + " ".join(_go_str(x) for x in v) + "]"
    return str(v)


def _go_order(v: Any) -> Any:
    """Go prints a map's keys sorted and a struct's fields in declaration order; JSON
    objects whose keys are not all exported-field-like (Capitalized) are maps."""
    if isinstance(v, dict):
        items = [(k, _go_order(x)) for k, x in v.items()]
        if not all(k[:1].isupper() for k in v):
            items.sort()
        return dict(items)
    if isinstance(v, list):
        return [_go_order(x) for x in v]
    return v


class Row(dict):
    """A CLI formatter row (ps, images, ...): docker marshals these with
    json.Marshal, so ``{{json .}}`` of one escapes <, > and & (the ``json``
    template function itself does not). ``methods`` are what a template calls
    with arguments (``{{.Label "k"}}``); they are not part of ``{{json .}}``."""

    def __init__(self, fields: dict, methods: dict | None = None) -> None:
        super().__init__(fields)
        self.methods = methods or {}


def go_json(v: Any) -> str:
    """The ``json`` template function: compact, non-ASCII kept; HTML characters
    escaped only inside a :class:`Row` (see there)."""
    text = jsonfast.dumps_utf8(_go_order(v))
    if not isinstance(v, Row):
        return text
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _unescape(text: str) -> str:
    return text.replace("\\t", "\t").replace("\\n", "\n")


def render(template: str, obj: Any) -> str:
    """Execute a Go template (``gotmpl``) on ``obj`` with docker's functions."""
    from dockyard.cli import gotmpl

    try:
        return gotmpl.execute(_unescape(template), obj, FUNCS, _go_str)
    except InvalidArgument as e:
        raise InvalidArgument(f"template: {template!r}: "
                              f"{e.message.removeprefix('template: ')}") from None


def _printf(fmt: str, *args: Any) -> str:
    """Go's fmt.Sprintf for the verbs templates use: %s %v %d %q %t %x %f %%."""
    out: list[str] = []
    i = 0
    argi = 0
    n = len(fmt)
    while i < n:
        c = fmt[i]
        if c != "%":
            out.append(c)
            i += 1
            continue
        j = i + 1
        while j < n and fmt[j] in "-+ 0#":
            j += 1
        while j < n and (fmt[j].isdigit() or fmt[j] == "."):
            j += 1
        if j >= n:
            out.append("%!(NOVERB)")
            break
        verb, spec = fmt[j], fmt[i + 1:j]
        i = j + 1
        if verb == "%":
            out.append("%")
            continue
        if argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        a = args[argi]
        argi += 1
        if verb in "sv":
            text = _go_str(a)
            out.append(f"%{spec}s" % text if spec else text)
        elif verb == "q":
            out.append(jsonfast.dumps_utf8(_go_str(a)))
        elif verb == "t":
            out.append(_go_str(a))
        elif verb in "dxXof" and isinstance(a, (int, float)) and not isinstance(a, bool):
            out.append(f"%{spec}{verb}" % (int(a) if verb != "f" else a))
        else:
            out.append(f"%!{verb}({type(a).__name__}={_go_str(a)})")
    return "".join(out)


def _index(v: Any, *keys: Any) -> Any:
    for k in keys:
        if isinstance(v, dict):
            v = v.get(k) if isinstance(k, str) else _bad_index(v, k)
        elif isinstance(v, (list, tuple, str)):
            if not isinstance(k, int) or isinstance(k, bool):
                raise InvalidArgument(f"cannot index slice with {k!r}")
            if not 0 <= k < len(v):
                raise InvalidArgument(f"index out of range: {k}")
            v = v[k]
        else:
            raise InvalidArgument(f"can't index item of type {type(v).__name__}")
    return v


def _bad_index(v: Any, k: Any) -> Any:
    raise InvalidArgument(f"cannot index map with {k!r}")


def _cmp(op: str) -> Any:
    def f(a: Any, *bs: Any) -> bool:
        if op == "eq":
            return any(a == b for b in bs)
        b = bs[0]
        try:
            return {"ne": a != b, "lt": a < b, "le": a <= b, "gt": a > b,
                    "ge": a >= b}[op]
        except TypeError:
            raise InvalidArgument("incompatible types for comparison") from None
    return f


def _and(*args: Any) -> Any:
    from dockyard.cli.gotmpl import truth
    for a in args:
        if not truth(a):
            return a
    return args[-1]


def _or(*args: Any) -> Any:
    from dockyard.cli.gotmpl import truth
    for a in args:
        if truth(a):
            return a
    return args[-1]


def _not(a: Any) -> bool:
    from dockyard.cli.gotmpl import truth
    return not truth(a)


def _truncate(s: Any, n: int) -> str:
    s = _go_str(s)
    return s[:n] if len(s) > n else s


FUNCS: dict[str, Any] = {
    "json": go_json,
    "upper": lambda s: _go_str(s).upper(),
    "lower": lambda s: _go_str(s).lower(),
    "title": lambda s: " ".join(w[:1].upper() + w[1:] for w in _go_str(s).split(" ")),
    "split": lambda s, sep: _go_str(s).split(sep),
    "join": lambda items, sep: sep.join(_go_str(x) for x in (items or [])),
    "truncate": _truncate,
    "pad": lambda s, left, right: " " * left + _go_str(s) + " " * right,
    "index": _index,
    "len": lambda v: len(v) if v is not None else 0,
    "printf": _printf,
    "print": lambda *a: "".join(_go_str(x) for x in a),
    "println": lambda *a: " ".join(_go_str(x) for x in a) + "\n",
    "eq": _cmp("eq"), "ne": _cmp("ne"), "lt": _cmp("lt"), "le": _cmp("le"),
    "gt": _cmp("gt"), "ge": _cmp("ge"),
    "and": _and, "or": _or, "not": _not,
}


def render_rows(template: str, rows: Sequence[Mapping[str, Any]],
                headers: Mapping[str, str], minwidth: int = 10) -> str:
    """Render each row; ``table ...`` adds the header row and aligns on tabs
    (the Docker CLI's tabwriter: minimum cell width 10, padding 3)."""
    table = template.startswith("table")
    body = template[len("table"):].lstrip() if table else template
    lines = [render(body, r) for r in rows]
    if not table:
        return "".join(line + "\n" for line in lines)
    return _align([_header_line(_unescape(body), headers), *lines], minwidth)


def _header_line(body: str, headers: Mapping[str, str]) -> str:
    """The table's header: each action becomes the title of the field it names."""
    from dockyard.cli.gotmpl import split_actions

    out = []
    for kind, text in split_actions(body):
        if kind == "text":
            out.append(text)
        elif text:
            name = text.split()[-1].lstrip(".")
            out.append(headers.get(name, name.upper()))
    return "".join(out)


def _align(lines: list[str], minwidth: int = 0) -> str:
    """Like Go's tabwriter with padding 3: a column is as wide as its widest cell + 3,
    at least ``minwidth``; the text after a line's last tab is not padded."""
    cells = [line.split("\t") for line in "\n".join(lines).split("\n")]
    widths: list[int] = []
    for row in cells:
        for i, c in enumerate(row[:-1]):
            if i >= len(widths):
                widths.append(minwidth)
            widths[i] = max(widths[i], len(c) + 3)
    out = []
    for row in cells:
        parts = [c.ljust(widths[i]) for i, c in enumerate(row[:-1])]
        out.append("".join(parts) + row[-1])
    return "".join(line + "\n" for line in out)


__all__ = ["Row", "align", "go_json", "render", "render_rows"]

align = _align
