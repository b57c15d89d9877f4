"""The slotted record base the rootfs types use instead of dataclasses."""

from __future__ import annotations

import pytest

from dockyard.runtime.rootfs.spec import DeviceSpec


def test_construction_defaults_equality_and_replace() -> None:
    a = DeviceSpec("/dev/x", "c", 1, 2)
    b = DeviceSpec(path="/dev/x", type="c", major=1, minor=2, mode=0o666)
    assert a == b and hash(a) == hash(b)
    assert a.uid == 0 and a.mode == 0o666
    c = a.replace(mode=0o600)
    assert c.mode == 0o600 and a.mode == 0o666 and c != a
    assert "DeviceSpec(path='/dev/x'" in repr(a)


def test_immutable_and_strict() -> None:
    a = DeviceSpec("/dev/x", "c")
    with pytest.raises(AttributeError):
        a.path = "/dev/y"  # type: ignore[misc]
    with pytest.raises(TypeError, match="missing 'type'"):
        DeviceSpec("/dev/x")
    with pytest.raises(TypeError, match="unexpected or repeated 'bogus'"):
        DeviceSpec("/dev/x", "c", bogus=1)
    with pytest.raises(TypeError, match="repeated 'path'"):
        DeviceSpec("/dev/x", "c", path="/dev/y")
