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
    code = ("import sys, dockyard.runtime.syscalls; before = set(sys.modules); "
            "import dockyard.runtime.rootfs; "
            "print(','.join(sorted(m for m in set(sys.modules) - before "
            "if not m.startswith(('dockyard.', '_')))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    # Every stdlib module here is start-up time of each container (bench: vs runc).
    assert set(out.split(",")) - {""} <= {"errno"}, f"stdlib modules imported: {out}"


def test_validate_preloads_what_setup_needs() -> None:
    # setup() may run where no import can succeed (after pivot_root, or as a user
    # namespace uid that cannot read the Python installation): validate(), called in
    # the parent, loads the optional modules the spec needs.
    code = ("import sys, dockyard.runtime.rootfs as r; "
            "a = 'dockyard.runtime.rootfs.cgroupfs' in sys.modules; "
            "r.validate({'mounts': [{'destination': '/sys/fs/cgroup', 'type': 'cgroup'},"
            "{'destination': '/t', 'type': 'tmpfs', 'options': ['tmpcopyup']}]}); "
            "print(a, 'dockyard.runtime.rootfs.cgroupfs' in sys.modules, "
            "'shutil' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "True", "True"]
