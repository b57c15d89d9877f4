"""The subset of Go templates ``--format`` needs, without a template engine.

Supported: ``{{.Field}}``, ``{{.A.B}}``, ``{{json .}}``, ``{{json .Field}}``,
``{{upper .F}}``/``{{lower .F}}``, literal text with ``\\t`` and ``\\n`` escapes,
and a leading ``table`` that adds a header row and aligns columns. Values print
as Go does (``[a b]`` for lists, ``map[k:v]`` for maps, ``<nil>`` for null).
Anything else is an InvalidArgument naming the action, so a user learns at once
that a feature is missing rather than getting a wrong answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from dockyard.errors import InvalidArgument

_ACTION = re.compile(r"{{-?\s*(.*?)\s*-?}}")
_PATH = re.compile(r"^\.([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)?$")


def _lookup(obj: Any, path: str, template: str) -> Any:
    if path == ".":
        return obj
    m = _PATH.match(path)
    if not m:
        raise InvalidArgument(f"template: {template!r}: unsupported action {path!r}")
    cur = obj
    for part in (m.group(1) or "").split(".") if m.group(1) else []:
        if isinstance(cur, Mapping) and part in cur:
            cur = cur[part]
        else:
            raise InvalidArgument(
                f"template: {template!r}: can't evaluate field {part}")
    return cur


def _go_str(v: Any) -> str:
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Mapping):
        return "map[" + " ".join(f"{k}:{_go_str(x)}" for k, x in sorted(v.items())) + "]"
    if isinstance(v, (list, tuple)):
        return "[" + " ".join(_go_str(x) for x in v) + "]"
    return str(v)


def _go_order(v: Any) -> Any:
    """Go prints a map's keys sorted and a struct's fields in declaration order; JSON
    objects whose keys are not all exported-field-like (Capitalized) are maps."""
    if isinstance(v, Mapping):
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
    template function itself does not)."""


def go_json(v: Any) -> str:
    """The ``json`` template function: compact, non-ASCII kept; HTML characters
    escaped only inside a :class:`Row` (see there)."""
    text = json.dumps(_go_order(v), separators=(",", ":"), ensure_ascii=False)
    if not isinstance(v, Row):
        return text
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _unescape(text: str) -> str:
    return text.replace("\\t", "\t").replace("\\n", "\n")


def render(template: str, obj: Any) -> str:
    def action(m: re.Match) -> str:
        expr = m.group(1).strip()
        words = expr.split()
        if len(words) == 2 and words[0] == "json":
            return go_json(_lookup(obj, words[1], template))
        if len(words) == 2 and words[0] in ("upper", "lower"):
            s = _go_str(_lookup(obj, words[1], template))
            return s.upper() if words[0] == "upper" else s.lower()
        if len(words) == 1:
            return _go_str(_lookup(obj, words[0], template))
        raise InvalidArgument(f"template: {template!r}: unsupported action {expr!r}")

    return _ACTION.sub(action, _unescape(template))


def render_rows(template: str, rows: Sequence[Mapping[str, Any]],
                headers: Mapping[str, str], minwidth: int = 10) -> str:
    """Render each row; ``table ...`` adds the header row and aligns on tabs
    (the Docker CLI's tabwriter: minimum cell width 10, padding 3)."""
    table = template.startswith("table")
    body = template[len("table"):].lstrip() if table else template
    lines = [render(body, r) for r in rows]
    if not table:
        return "".join(line + "\n" for line in lines)
    header = _ACTION.sub(lambda m: _header(m, headers), _unescape(body))
    return _align([header, *lines], minwidth)


def _header(m: re.Match, headers: Mapping[str, str]) -> str:
    expr = m.group(1).strip()
    name = expr.split()[-1].lstrip(".")
    return headers.get(name, name.upper())


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
