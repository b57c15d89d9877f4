"""JSON for the CLI's hot path, through the C accelerator ``_json`` only.

``import json`` pulls in ``re`` and with it ``enum`` (about 7 ms of CPU on this
machine, a third of the CLI's budget for ``dockyard run --rm busybox true``).
The C scanner and encoder that ``json`` itself uses need neither, so the CLI
decodes and encodes through them; ``json`` is the fallback when the accelerator
is missing. Output matches ``json.dumps(obj, separators=(",", ":"))`` and
``json.loads``; anything fancier (indentation) goes through ``json`` itself.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:   # typing imports re: not on the CLI's hot path
    from typing import Any

try:
    import _json
except ImportError:   # pragma: no cover - CPython always has it
    _json = None  # type: ignore[assignment]


class _Context:
    """The attributes ``_json.make_scanner`` reads from a ``json.JSONDecoder``."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo: dict = {}

    @staticmethod
    def parse_constant(name: str) -> float:
        return {"-Infinity": float("-inf"), "Infinity": float("inf"),
                "NaN": float("nan")}[name]


_scanner = _json.make_scanner(_Context()) if _json is not None else None
_WS = " \t\n\r"


def _default(o: Any) -> Any:
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


_encoder = (_json.make_encoder(None, _default, _json.encode_basestring_ascii, None, ":",
                               ",", False, False, True) if _json is not None else None)


_encoder_utf8 = (_json.make_encoder(None, _default, _json.encode_basestring, None, ":",
                                    ",", False, False, True) if _json is not None else None)


def dumps_utf8(obj: Any) -> str:
    """Compact JSON keeping non-ASCII text (``ensure_ascii=False``), as Go prints it."""
    if _encoder_utf8 is None:   # pragma: no cover
        import json
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    return "".join(_encoder_utf8(obj, 0))


def loads(text: str | bytes) -> Any:
    """Parse one JSON document (surrounding white space allowed)."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8")
    if _scanner is None:   # pragma: no cover
        import json
        return json.loads(text)
    i = 0
    n = len(text)
    while i < n and text[i] in _WS:
        i += 1
    obj, end = scan(text, i)
    while end < n and text[end] in _WS:
        end += 1
    if end != n:
        raise ValueError(f"extra data in JSON at offset {end}")
    return obj


def scan(text: str, pos: int) -> tuple[Any, int]:
    """Decode one value starting at ``pos`` (no leading white space); (value, end).

    Raises ValueError when the text there is not (yet) a whole JSON value.
    """
    if _scanner is None:   # pragma: no cover
        import json
        return json.JSONDecoder().raw_decode(text, pos)
    try:
        return _scanner(text, pos)
    except StopIteration as e:
        raise ValueError(f"invalid JSON at offset {e.value}") from None
    except (SystemError, ValueError):
        # The C scanner builds its error through json.decoder, which fails when that
        # module was never imported; let json itself produce the ValueError.
        import json
        return json.JSONDecoder().raw_decode(text, pos)


def dumps(obj: Any) -> str:
    """Compact JSON, ASCII only (like ``json.dumps(obj, separators=(",", ":"))``)."""
    if _encoder is None:   # pragma: no cover
        import json
        return json.dumps(obj, separators=(",", ":"))
    return "".join(_encoder(obj, 0))


__all__ = ["dumps", "dumps_utf8", "loads", "scan"]
