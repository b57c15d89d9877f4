"""Request parsing: dockerd's boolean words, both filter encodings, X-Registry-Auth."""

from __future__ import annotations

import base64
import json

import pytest

from dockyard.api import params
from dockyard.errors import InvalidArgument


@pytest.mark.parametrize(("text", "value"), [
    ("1", True), ("true", True), ("True", True), ("yes", True), ("anything", True),
    ("", False), ("0", False), ("false", False), ("FALSE", False), ("no", False),
    ("none", False),
])
def test_query_bool_uses_dockerds_words(text, value):
    assert params.query_bool({"all": text}, "all") is value


def test_query_bool_default_when_absent():
    assert params.query_bool({}, "all") is False
    assert params.query_bool({}, "all", True) is True


def test_query_int():
    assert params.query_int({"limit": "5"}, "limit", 1) == 5
    assert params.query_int({}, "limit", 7) == 7
    with pytest.raises(InvalidArgument):
        params.query_int({"limit": "many"}, "limit", 1)


def test_filters_both_encodings():
    assert params.parse_filters(json.dumps({"label": ["a", "b=c"]})) == {"label": ["a", "b=c"]}
    assert params.parse_filters(json.dumps({"dangling": {"true": True, "x": False}})) \
        == {"dangling": ["true"]}
    assert params.parse_filters(None) == {} and params.parse_filters("null") == {}


@pytest.mark.parametrize("bad", ["{", "[1]", json.dumps({"a": 1}), json.dumps({"a": [1]})])
def test_bad_filters_are_invalid_argument(bad):
    with pytest.raises(InvalidArgument):
        params.parse_filters(bad)


def test_filter_keys_checked_and_flattened():
    params.check_filter_keys({"label": []}, {"label"})
    with pytest.raises(InvalidArgument, match="invalid filter 'colour'"):
        params.check_filter_keys({"colour": ["red"]}, {"label"})
    assert params.filter_items({"label": ["a", "b"], "dangling": ["true"]}) \
        == ["label=a", "label=b", "dangling=true"]


def test_registry_auth_decodes_urlsafe_base64_with_or_without_padding():
    doc = {"username": "u", "password": "p?>~", "serveraddress": "h:5000"}
    raw = json.dumps(doc).encode()
    for encoded in (base64.urlsafe_b64encode(raw).decode(),
                    base64.urlsafe_b64encode(raw).decode().rstrip("="),
                    base64.b64encode(raw).decode()):
        assert params.registry_auth(encoded) == doc
    assert params.registry_auth(None) == {} and params.registry_auth("") == {}


@pytest.mark.parametrize("bad", ["%%%", base64.b64encode(b"not json").decode(),
                                 base64.b64encode(b"[1, 2]").decode()])
def test_bad_registry_auth_is_invalid_argument(bad):
    with pytest.raises(InvalidArgument):
        params.registry_auth(bad)


def test_timestamps_in_seconds_with_nanoseconds():
    assert params.parse_timestamp_nano("1700000000", "since") == 1700000000 * 10**9
    assert params.parse_timestamp_nano("1700000000.000000001", "since") \
        == 1700000000 * 10**9 + 1
    assert params.parse_timestamp_nano(None, "since") is None
    for bad in ("yesterday", "-1", "nan", "inf"):
        with pytest.raises(InvalidArgument):
            params.parse_timestamp_nano(bad, "since")


def test_json_body():
    assert params.parse_json_body(b'{"a": 1}') == {"a": 1}
    for bad in (b"", b"  ", b"{"):
        with pytest.raises(InvalidArgument):
            params.parse_json_body(bad)
