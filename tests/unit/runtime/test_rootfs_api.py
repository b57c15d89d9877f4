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
            "'re','dataclasses','typing') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "", f"heavy modules on the runtime's import path: {out}"


def test_everything_setup_needs_is_loaded_by_the_import() -> None:
    # setup() may run where no import can succeed (after pivot_root, or as a user
    # namespace uid that cannot read the Python installation).
    code = ("import sys, dockyard.runtime.rootfs; "
            "print(all(f'dockyard.runtime.rootfs.{m}' in sys.modules for m in "
            "('cgroupfs','devices','mounts','paths','paths_masking','pivot','spec',"
            "'sysctl','mountinfo')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "True"
