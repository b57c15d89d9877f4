"""The rootfs package's public face, and what importing it costs."""

from __future__ import annotations

import subprocess
import sys

import dockyard.runtime.rootfs as rootfs


def test_public_names_are_pinned() -> None:
    assert sorted(rootfs.__all__) == ["resolve_in_root", "setup", "unmount_rootfs", "validate"]
    for name in rootfs.__all__:
        assert callable(getattr(rootfs, name))


def test_import_stays_light() -> None:
    code = ("import sys, dockyard.runtime.rootfs; "
            "print(','.join(m for m in ('jsonschema','aiohttp','rich','shutil','json',"
            "'dockyard.runtime.rootfs.cgroupfs') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "", f"heavy or lazy modules imported eagerly: {out}"
