"""diff_upperdir turns overlay's whiteout forms into OCI whiteouts, and refuses
upperdirs it cannot represent (redirect/metacopy)."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pytest

from dockyard.errors import InvalidArgument
from dockyard.image.diff import DiffOptions, diff_upperdir
from dockyard.image.layers import Whiteouts, apply_layer
from dockyard.image.tario import Source, TarLimits, TarReader
from tests.conftest import require_root


@pytest.fixture(autouse=True)
def _root() -> None:
    require_root()


def _upper(path: Path) -> None:
    path.mkdir()
    (path / "etc").mkdir()
    (path / "etc/new").write_bytes(b"new")
    os.mknod(path / "etc/removed", stat.S_IFCHR, 0)
    (path / "cache").mkdir()
    os.setxattr(path / "cache", "trusted.overlay.opaque", b"y")
    (path / "cache/kept").write_bytes(b"k")
    os.mknod(path / "gone-dir", stat.S_IFCHR, 0)


def _entries(data: bytes) -> dict[str, tuple[str, int]]:
    reader = TarReader(Source(io.BytesIO(data), TarLimits()), TarLimits())
    return {e.name: (e.type, e.size) for e in reader}


def test_whiteouts_and_opaque_dirs_become_oci_entries(tmp_path: Path) -> None:
    _upper(tmp_path / "upper")
    buf = io.BytesIO()
    stats = diff_upperdir(tmp_path / "upper", buf, DiffOptions(compression="none",
                                                               reproducible=True))
    entries = _entries(buf.getvalue())
    assert entries["etc/.wh.removed"] == ("0", 0)
    assert entries[".wh.gone-dir"] == ("0", 0)
    assert entries["cache/.wh..wh..opq"] == ("0", 0)
    assert "etc/removed" not in entries and "cache/kept" in entries
    assert stats.whiteouts == 3
    names = list(entries)
    assert names.index("cache/") < names.index("cache/.wh..wh..opq") < names.index("cache/kept")


def test_upperdir_layer_applies_back_to_the_same_upperdir(tmp_path: Path) -> None:
    _upper(tmp_path / "upper")
    buf = io.BytesIO()
    diff_upperdir(tmp_path / "upper", buf)
    again = tmp_path / "again"
    again.mkdir()
    buf.seek(0)
    apply_layer(buf, again, whiteouts=Whiteouts.OVERLAY)
    st = os.lstat(again / "etc/removed")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert os.getxattr(again / "cache", "trusted.overlay.opaque") == b"y"
    assert (again / "cache/kept").read_bytes() == b"k"


def test_reproducible_upperdir_diff_is_byte_identical(tmp_path: Path) -> None:
    outs = []
    for name in ("a", "b"):
        _upper(tmp_path / name)
        buf = io.BytesIO()
        diff_upperdir(tmp_path / name, buf, DiffOptions(compression="zstd", reproducible=True))
        outs.append(buf.getvalue())
    assert outs[0] == outs[1]


def test_redirect_dirs_are_refused(tmp_path: Path) -> None:
    up = tmp_path / "upper"
    (up / "moved").mkdir(parents=True)
    os.setxattr(up / "moved", "trusted.overlay.redirect", b"/orig")
    with pytest.raises(InvalidArgument, match="redirect"):
        diff_upperdir(up, io.BytesIO())
