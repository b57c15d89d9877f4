"""Reading Docker API requests: query booleans, filters, JSON bodies, auth headers.

dockerd's conventions, kept so clients behave the same: a query boolean is false
for "", "0", "no", "false", "none" (any case) and true otherwise; ``filters`` is a
JSON object of ``{"key": ["value", ...]}`` (or the old ``{"key": {"value": true}}``);
``X-Registry-Auth`` is base64url JSON. Each bad input is an InvalidArgument (400).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from dockyard.errors import InvalidArgument

_FALSE = {"", "0", "no", "false", "none"}


def query_bool(query: Mapping[str, str], name: str, default: bool = False) -> bool:
    if name not in query:
        return default
    return query[name].strip().lower() not in _FALSE


def query_int(query: Mapping[str, str], name: str, default: int) -> int:
    text = query.get(name, "")
    if text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise InvalidArgument(f"invalid value for {name}: {text!r}") from None


def parse_filters(text: str | None) -> dict[str, list[str]]:
    """``filters`` as {key: [values]}."""
    if not text:
        return {}
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise InvalidArgument(f"invalid filter: {e}") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise InvalidArgument("invalid filter: expected a JSON object")
    out: dict[str, list[str]] = {}
    for key, value in doc.items():
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            out[key] = list(value)
        elif isinstance(value, dict) and all(isinstance(v, bool) for v in value.values()):
            out[key] = [k for k, on in value.items() if on]
        else:
            raise InvalidArgument(f"invalid filter: bad values for {key!r}")
    return out


def check_filter_keys(filters: Mapping[str, list[str]], accepted: set[str]) -> None:
    for key in filters:
        if key not in accepted:
            raise InvalidArgument(f"invalid filter '{key}'")


def filter_items(filters: Mapping[str, list[str]]) -> list[str]:
    """{key: [v1, v2]} -> ["key=v1", "key=v2"] (the images room's filter syntax)."""
    return [f"{k}={v}" for k, values in filters.items() for v in values]


def registry_auth(header: str | None) -> dict[str, str]:
    """Decode ``X-Registry-Auth``; {} when absent or empty (anonymous)."""
    if not header:
        return {}
    text = header.strip()
    try:
        std = text.replace("-", "+").replace("_", "/").rstrip("=")
        raw = base64.b64decode(std + "=" * (-len(std) % 4), validate=True)
        doc = json.loads(raw) if raw.strip() else {}
    except (binascii.Error, ValueError):
        raise InvalidArgument("invalid X-Registry-Auth header: not base64url JSON") from None
    if not isinstance(doc, dict):
        raise InvalidArgument("invalid X-Registry-Auth header: expected a JSON object")
    return {k: v for k, v in doc.items() if isinstance(v, str)}


def parse_json_body(raw: bytes, what: str = "request body") -> Any:
    if not raw.strip():
        raise InvalidArgument(f"{what} is empty")
    try:
        return json.loads(raw)
    except ValueError as e:
        raise InvalidArgument(f"invalid JSON in {what}: {e}") from None


def parse_timestamp_nano(text: str | None, name: str) -> int | None:
    """A ``since``/``until`` value: the CLI sends Unix seconds, maybe with a fraction
    (``1700000000.000000001``). Returns nanoseconds; None when absent."""
    if text is None or text == "":
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise InvalidArgument(f"invalid value for {name}: {text!r} "
                              "(expected Unix seconds, e.g. 1700000000.5)") from None
    if not value.is_finite() or value < 0:
        raise InvalidArgument(f"invalid value for {name}: {text!r}")
    return int(value * 1_000_000_000)


__all__ = ["check_filter_keys", "filter_items", "parse_filters", "parse_json_body",
           "parse_timestamp_nano", "query_bool", "query_int", "registry_auth"]
