"""Capability names <-> numbers and parsing ``process.capabilities``."""

from __future__ import annotations

import pytest

from dockyard.errors import InvalidArgument
from dockyard.runtime.security import capabilities as caps


def test_table_covers_every_capability_up_to_checkpoint_restore():
    assert len(caps.CAPABILITIES) == 41
    assert sorted(caps.CAPABILITIES.values()) == list(range(41))
    assert caps.number_of("CAP_CHOWN") == 0
    assert caps.number_of("CAP_SETPCAP") == 8
    assert caps.number_of("CAP_SYS_ADMIN") == 21
    assert caps.number_of("CAP_SYS_RESOURCE") == 24
    assert caps.number_of("CAP_AUDIT_READ") == 37
    assert caps.number_of("CAP_BPF") == 39
    assert caps.number_of("CAP_CHECKPOINT_RESTORE") == 40


def test_names_and_numbers_round_trip():
    for name, nr in caps.CAPABILITIES.items():
        assert caps.name_of(nr) == name
    assert caps.name_of(55) == "CAP_55"
    assert caps.names_in(caps.mask(["CAP_KILL", "CAP_CHOWN"])) == ["CAP_CHOWN", "CAP_KILL"]
    # the host's CapBnd from RESULTS.md: everything but CAP_SYS_RESOURCE
    assert "CAP_SYS_RESOURCE" not in caps.names_in(0x000001FFFEFFFFFF)
    assert len(caps.names_in(0x000001FFFEFFFFFF)) == 40


def test_parse_gives_masks_per_set():
    sets = caps.parse({"bounding": ["CAP_KILL", "CAP_CHOWN"], "effective": ["CAP_KILL"],
                       "permitted": ["CAP_KILL", "CAP_CHOWN"], "inheritable": ["CAP_KILL"],
                       "ambient": ["CAP_KILL"]})
    kill = 1 << 5
    assert sets == caps.CapabilitySets(bounding=kill | 1, effective=kill, permitted=kill | 1,
                                       inheritable=kill, ambient=kill)


def test_missing_bounding_is_none_and_missing_sets_are_empty():
    sets = caps.parse({"permitted": ["CAP_KILL"]})
    assert sets.bounding is None
    assert sets.effective == 0 and sets.ambient == 0 and sets.permitted == 1 << 5


@pytest.mark.parametrize(("value", "message"), [
    ({"bounding": ["CAP_KILL", "CAP_TEST"]},
     "process.capabilities.bounding[1]: unknown capability 'CAP_TEST'"),
    ({"ambient": ["kill"]}, "process.capabilities.ambient[0]: unknown capability 'kill'"),
    ({"effective": [5]}, "process.capabilities.effective[0]: unknown capability 5"),
    ({"effective": "CAP_KILL"}, "process.capabilities.effective: must be an array"),
    ({"bogus": []}, "process.capabilities.bogus: unknown capability set"),
    (["CAP_KILL"], "process.capabilities: must be an object"),
])
def test_bad_capabilities_name_the_json_path(value, message):
    with pytest.raises(InvalidArgument) as err:
        caps.parse(value)
    assert message in str(err.value)


def test_capabilities_newer_than_the_kernel_are_left_out(monkeypatch):
    monkeypatch.setattr(caps, "_last_cap_cache", 37)
    sets = caps.parse({"bounding": ["CAP_BPF", "CAP_KILL"]})
    assert sets.bounding == 1 << 5


def test_effective_outside_permitted_is_an_error_at_parse():
    with pytest.raises(InvalidArgument, match=r"process.capabilities.effective: CAP_KILL must "
                                              "also be in the permitted set"):
        caps.parse({"effective": ["CAP_KILL"], "permitted": []})
    # ambient outside permitted & inheritable is accepted (runc spec makes such configs);
    # finalize raises only what the kernel can hold
    sets = caps.parse({"permitted": ["CAP_KILL"], "ambient": ["CAP_KILL"]})
    assert sets.ambient == 1 << 5
