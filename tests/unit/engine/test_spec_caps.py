"""Capability sets: Docker's default, add/drop rules, ALL, privileged, the bounding set."""

from __future__ import annotations

import pytest

from dockyard.engine.spec_caps import (
    DEFAULT_CAPS,
    all_caps,
    effective_caps,
    grantable_caps,
    normalize_caps,
)
from dockyard.errors import InvalidArgument
from dockyard.runtime.security.capabilities import CAPABILITIES

FULL = (1 << 41) - 1
NO_SYS_RESOURCE = FULL & ~(1 << CAPABILITIES["CAP_SYS_RESOURCE"])


def test_default_set_is_dockers_fourteen():
    assert effective_caps(None, None, False) == list(DEFAULT_CAPS)
    assert len(DEFAULT_CAPS) == 14 and "CAP_NET_RAW" in DEFAULT_CAPS


def test_all_caps_follows_the_kernels_last_cap():
    assert all_caps(37)[-1] == "CAP_AUDIT_READ" and len(all_caps(37)) == 38
    assert all_caps(40)[-1] == "CAP_CHECKPOINT_RESTORE"


def test_privileged_and_add_all_are_limited_to_the_bounding_set():
    priv = effective_caps(["ALL"], ["ALL"], True, last_cap=40, bounding=NO_SYS_RESOURCE)
    assert "CAP_SYS_RESOURCE" not in priv and len(priv) == 40
    added = effective_caps(["ALL"], ["NET_RAW"], False, last_cap=40,
                           bounding=NO_SYS_RESOURCE)
    assert "CAP_SYS_RESOURCE" not in added and "CAP_NET_RAW" not in added
    assert grantable_caps(40, FULL) == all_caps(40)


def test_a_cap_named_explicitly_is_passed_even_outside_the_bounding_set():
    caps = effective_caps(["SYS_RESOURCE"], None, False, last_cap=40,
                          bounding=NO_SYS_RESOURCE)
    assert caps[-1] == "CAP_SYS_RESOURCE"


def test_normalize_accepts_any_case_and_prefix():
    assert normalize_caps(["net_admin", "CAP_kill", "all"]) == ["CAP_NET_ADMIN", "CAP_KILL",
                                                               "ALL"]
    with pytest.raises(InvalidArgument, match='invalid CapDrop: unknown capability: '
                                              '"CAP_FLY"'):
        normalize_caps(["fly"], "CapDrop")
    with pytest.raises(InvalidArgument, match="must be strings"):
        normalize_caps([3])  # type: ignore[list-item]


def test_drop_all_then_add():
    assert effective_caps(["CHOWN", "KILL"], ["ALL"], False) == ["CAP_CHOWN", "CAP_KILL"]
