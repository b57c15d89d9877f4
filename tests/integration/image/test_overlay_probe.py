"""A probe left mounted by a killed process is cleaned up by the next probe."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from dockyard.image.mount import (
    MountSpec,
    is_mountpoint_under,
    mount_all,
    overlay_supported,
    unmount,
)


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def _leave_probe_mounted(workdir: Path, owner: int) -> Path:
    """What a SIGKILL between the probe's mount and unmount leaves behind."""
    probe = workdir / f".overlay-probe-{owner}-abc123"
    for d in ("l1", "l2", "u", "w", "m"):
        (probe / d).mkdir(parents=True)
    spec = MountSpec("overlay", "overlay", (
        f"lowerdir={probe}/l1:{probe}/l2", f"upperdir={probe}/u", f"workdir={probe}/w"))
    mount_all([spec], str(probe / "m"))
    return probe


def test_probe_of_a_dead_owner_is_unmounted_and_removed(tmp_path):
    stale = _leave_probe_mounted(tmp_path, _dead_pid())
    assert is_mountpoint_under(stale)

    assert overlay_supported(tmp_path)

    assert not is_mountpoint_under(stale)
    assert not stale.exists()
    assert [e for e in os.listdir(tmp_path) if e.startswith(".overlay-probe-")] == []


def test_probe_of_a_live_owner_is_left_alone(tmp_path):
    live = _leave_probe_mounted(tmp_path, os.getpid())
    try:
        assert overlay_supported(tmp_path)
        assert is_mountpoint_under(live), "a running prober's mount must not be touched"
    finally:
        unmount(live / "m")
