"""Extraction features that need root: ownership, devices when allowed, file
capabilities, overlay whiteout devices in a layer, the hostile corpus in overlay form."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pytest

from dockyard.image.layers import Whiteouts, apply_layer
from dockyard.image.safetar import TarOptions
from tests.conftest import require_root
from tests.unit.image import tarkit as T
from tests.unit.image.test_safetar_hostile import CASES, Case

# security.capability v2 blob for cap_net_raw+ep
CAP_NET_RAW = bytes.fromhex("01000002" "00200000" "00000000" "00000000" "00000000")


@pytest.fixture(autouse=True)
def _root() -> None:
    require_root()


def test_ownership_modes_and_capabilities_survive(tmp_path: Path) -> None:
    blob = T.tar(
        T.directory("home/user", uid=1000, gid=1000, mode=0o700),
        T.pax({"SCHILY.xattr.security.capability": CAP_NET_RAW}),
        T.file("bin/ping", b"\x7fELF", mode=0o755, uid=0, gid=0),
        T.symlink("home/user/link", "/etc", uid=1000, gid=1000),
        T.file("bin/su", b"\x7fELF", mode=0o4755),
    )
    apply_layer(io.BytesIO(blob), tmp_path, options=TarOptions(keep_setuid=True))
    st = os.stat(tmp_path / "home/user")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1000, 1000, 0o700)
    assert os.lstat(tmp_path / "home/user/link").st_uid == 1000
    assert os.getxattr(tmp_path / "bin/ping", "security.capability") == CAP_NET_RAW
    assert stat.S_IMODE(os.stat(tmp_path / "bin/su").st_mode) == 0o4755


def test_devices_only_when_allowed(tmp_path: Path) -> None:
    blob = T.tar(T.header("dev/null", "3", devmajor=1, devminor=3, mode=0o666),
                 T.header("dev/loop0", "4", devmajor=7, devminor=0, mode=0o660))
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    stats = apply_layer(io.BytesIO(blob), a)
    assert not (a / "dev/null").exists() and len(stats.skipped) == 2
    apply_layer(io.BytesIO(blob), b, options=TarOptions(allow_devices=True))
    st = os.lstat(b / "dev/null")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3)
    assert stat.S_ISBLK(os.lstat(b / "dev/loop0").st_mode)


def test_overlay_form_whiteout_device_in_a_layer(tmp_path: Path) -> None:
    upper = tmp_path / "upper"
    upper.mkdir()
    apply_layer(io.BytesIO(T.tar(T.header("gone", "3"))), upper, whiteouts=Whiteouts.OVERLAY)
    st = os.lstat(upper / "gone")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


@pytest.mark.parametrize("name", sorted(n for n in CASES if "whiteout" in n or "opaque" in n
                                        or "symlink" in n))
def test_hostile_corpus_in_overlay_form(tmp_path: Path, name: str) -> None:
    case: Case = CASES[name]
    canary = tmp_path / "canary"
    canary.mkdir()
    (canary / "file").write_bytes(b"precious")
    root = tmp_path / "root"
    root.mkdir()
    before = T.snapshot_tree(canary)
    try:
        apply_layer(io.BytesIO(case.build(canary)), root, whiteouts=Whiteouts.OVERLAY,
                    options=TarOptions(limits=case.limits))
    except ValueError:
        pass
    except Exception as e:  # InvalidArgument is fine: rejected
        assert type(e).__name__ in ("UnsafeContent", "InvalidArgument"), e
    assert T.snapshot_tree(canary) == before
    assert sorted(os.listdir(tmp_path)) == ["canary", "root"]
