"""JSON through CPython's C accelerator alone, for the runtime's hot path.

``import json`` pulls in ``json.decoder`` and ``json.encoder``, which import
:mod:`re` and with it :mod:`enum`: ~4 ms of every container start, for parsing
one config.json and writing one state file. The ``_json`` extension does the
actual work in both cases; this module drives it directly. Output is compact
(no indent); commands that pretty-print for people use :mod:`json`.
"""

from __future__ import annotations

import _json

_WS = " \t\n\r"


class _Context:
    """The attributes ``_json.make_scanner`` reads from a JSONDecoder."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float  # NaN, Infinity, -Infinity, as json.loads does
    memo: dict = {}


_scan = _json.make_scanner(_Context())


def _unserialisable(obj: object) -> object:
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


_encode = _json.make_encoder(None, _unserialisable, _json.encode_basestring_ascii, None,
                             ": ", ", ", False, False, True)


def loads(text: str | bytes) -> object:
    """Parse one JSON document; ValueError (a JSONDecodeError) names the position."""
    if isinstance(text, (bytes, bytearray)):
        data = bytes(text)
        if data.startswith(b"\xef\xbb\xbf"):  # a BOM, as "utf-8-sig" (whose codec
            data = data[3:]                     # module would cost an import) drops it
        text = data.decode()
    start = len(text) - len(text.lstrip(_WS))
    try:
        obj, end = _scan(text, start)
    except StopIteration as e:
        raise ValueError(f"Expecting value: char {e.value}") from None
    except Exception:
        # The accelerator reports errors through json.decoder (which it does not
        # import itself): let the json module parse again and raise its exact
        # JSONDecodeError (a ValueError). Only bad input pays for the import.
        import json

        json.loads(text)
        raise
    if text[end:].strip(_WS):
        raise ValueError(f"Extra data: char {end}")
    return obj


def dumps(obj: object) -> str:
    return "".join(_encode(obj, 0))


def dumps_indented(obj: object, indent: int = 2, _level: int = 0) -> str:
    """``json.dumps(obj, indent=indent)``'s exact output, without importing json
    (``state`` is called for every container event by shims and tests)."""
    pad = " " * (indent * (_level + 1))
    end = " " * (indent * _level)
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = (f"{pad}{dumps(str(k))}: {dumps_indented(v, indent, _level + 1)}"
                 for k, v in obj.items())
        return "{\n" + ",\n".join(items) + "\n" + end + "}"
    if isinstance(obj, (list, tuple)):
        if not obj:
            return "[]"
        items = (pad + dumps_indented(v, indent, _level + 1) for v in obj)
        return "[\n" + ",\n".join(items) + "\n" + end + "]"
    return dumps(obj)
