"""Hostile symlinks in the image must not make setup() touch anything outside it.

A canary directory next to the rootfs stands for the host's /etc: symlinks in the
image point at it by absolute path and by climbing ``..``. Every mount
destination, created directory, device node and the console must land inside
the rootfs, and the canary must stay exactly as it was. Each case runs with the
kernel's openat2(RESOLVE_IN_ROOT) and with the manual walk used where openat2 is
missing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import require_root
from tests.integration.runtime.test_rootfs_support import (
    MOUNTINFO,
    base_spec,
    run_in_container,
)

pytestmark = [pytest.mark.integration,
              pytest.mark.parametrize("no_openat2", [False, True],
                                      ids=["openat2", "manual-walk"])]


@pytest.fixture(autouse=True)
def _root() -> None:
    require_root()


def _snapshot(d: Path) -> list[tuple[str, int]]:
    return sorted((str(p.relative_to(d)), p.lstat().st_mode) for p in d.rglob("*"))


@pytest.fixture
def canary(tmp_path: Path) -> Path:
    d = tmp_path / "canary-etc"
    d.mkdir()
    (d / "shadow").write_text("host secret\n")
    return d


def test_mount_destinations_through_symlinks_stay_inside(
        busybox_rootfs: Path, canary: Path, tmp_path: Path, no_openat2: bool) -> None:
    before = _snapshot(canary)
    (busybox_rootfs / "evil").symlink_to(str(canary))              # absolute, to the host
    (busybox_rootfs / "up").symlink_to("../../../../../../../..")  # climbs past the root
    (busybox_rootfs / "etc" / "evil-file").symlink_to(str(canary / "shadow"))
    bind_src = tmp_path / "bind-src"
    bind_src.mkdir()
    single = tmp_path / "single"
    single.write_text("bound file\n")
    spec = base_spec()
    spec["mounts"] += [
        {"destination": "/evil/sub", "type": "tmpfs", "source": "tmpfs"},
        {"destination": "/evil/bound", "type": "bind", "source": str(bind_src),
         "options": ["rbind"]},
        {"destination": "/up/escaped/deeper", "type": "tmpfs", "source": "tmpfs"},
        {"destination": "/etc/evil-file", "type": "bind", "source": str(single),
         "options": ["bind", "ro"]},
    ]
    spec["linux"]["devices"] = [{"path": "/evil/node", "type": "c", "major": 1,
                                 "minor": 3}]
    r = run_in_container(spec, busybox_rootfs, MOUNTINFO + f"; cat {canary}/shadow",
                         no_openat2=no_openat2)
    assert r.code == 0, r.err
    m = r.mounts()
    inside = str(canary)  # the same path, but inside the container's root
    assert f"{inside}/sub" in m and f"{inside}/bound" in m
    assert "/escaped/deeper" in m
    assert f"{inside}/shadow" in m                # the final-symlink bind
    assert "bound file" in r.out and "host secret" not in r.out
    # on the host: everything was created inside the rootfs, the canary is untouched
    mirrored = busybox_rootfs / str(canary).lstrip("/")
    assert (mirrored / "sub").is_dir() and (mirrored / "bound").is_dir()
    assert (mirrored / "node").is_char_device()
    assert (mirrored / "shadow").is_file()
    assert (busybox_rootfs / "escaped" / "deeper").is_dir()
    assert _snapshot(canary) == before
    assert (canary / "shadow").read_text() == "host secret\n"
    assert not (tmp_path.parent / "escaped").exists()


def test_dev_symlinked_outside_gets_devices_inside(
        busybox_rootfs: Path, canary: Path, no_openat2: bool) -> None:
    before = _snapshot(canary)
    os.rmdir(busybox_rootfs / "dev")
    (busybox_rootfs / "dev").symlink_to(str(canary))
    spec = base_spec(maskedPaths=[])
    spec["mounts"] = [m for m in spec["mounts"] if not m["destination"].startswith("/dev")]
    r = run_in_container(spec, busybox_rootfs, "ls -l /dev/null; readlink /dev/ptmx",
                         console=True, no_openat2=no_openat2)
    assert r.code == 0, r.err
    assert "pts/ptmx" in r.out
    mirrored = busybox_rootfs / str(canary).lstrip("/")
    assert (mirrored / "null").is_char_device()
    assert (mirrored / "console").exists()
    assert _snapshot(canary) == before


def test_symlink_loop_is_an_error_and_creates_nothing(
        busybox_rootfs: Path, canary: Path, no_openat2: bool) -> None:
    (busybox_rootfs / "loop").symlink_to("loop")
    spec = base_spec()
    spec["mounts"].append({"destination": "/loop/x", "type": "tmpfs", "source": "tmpfs"})
    r = run_in_container(spec, busybox_rootfs, "true", no_openat2=no_openat2)
    assert r.code == 3
    assert "SETUP-ERROR" in r.err and "mounts[6] (tmpfs on /loop/x)" in r.err
    assert "symbolic links" in r.err
    assert os.readlink(busybox_rootfs / "loop") == "loop"
