"""``until`` values for image prune (daemon/timefilter.py)."""

from __future__ import annotations

import pytest

from dockyard.daemon.timefilter import parse_until
from dockyard.errors import InvalidArgument

NOW = 1_800_000_000.0


@pytest.mark.parametrize(("text", "expected"), [
    ("1700000000", 1_700_000_000.0), ("1700000000.5", 1_700_000_000.5),
    ("24h", NOW - 86400), ("1h30m", NOW - 5400), ("90s", NOW - 90), ("500ms", NOW - 0.5),
    ("2023-11-14T22:13:20Z", 1_700_000_000.0), ("2023-11-14", 1_699_920_000.0),
])
def test_parse_until(text, expected):
    assert parse_until(text, NOW) == pytest.approx(expected)


@pytest.mark.parametrize("bad", ["", "yesterday", "10 minutes", "-5h", "2023-13-45"])
def test_parse_until_rejects(bad):
    with pytest.raises(InvalidArgument):
        parse_until(bad, NOW)
