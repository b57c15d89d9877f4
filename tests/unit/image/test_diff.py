"""Layer creation from a directory pair round-trips through apply; reproducible output."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from dockyard.image.diff import DiffOptions, diff_dirs
from dockyard.image.layers import Whiteouts, apply_layer
from dockyard.image.tario import Source, TarLimits, TarReader
from tests.unit.image import tarkit as T


def make_tree(root: Path) -> None:
    (root / "etc").mkdir(parents=True)
    (root / "etc/hosts").write_bytes(b"127.0.0.1 localhost\n")
    (root / "etc/deleted").write_bytes(b"bye")
    (root / "etc/chmodded").write_bytes(b"same")
    (root / "gone/deeper").mkdir(parents=True)
    (root / "gone/deeper/file").write_bytes(b"x")
    (root / "becomes-dir").write_bytes(b"file")
    (root / "becomes-link").mkdir()
    (root / "becomes-link/in").write_bytes(b"in")
    (root / "bin").mkdir()
    (root / "bin/tool").write_bytes(os.urandom(300_000))
    os.chmod(root / "bin/tool", 0o755)
    os.link(root / "bin/tool", root / "bin/tool-alias")
    os.symlink("tool", root / "bin/sym")
    (root / ("long" + "x" * 120)).mkdir()
    (root / ("long" + "x" * 120) / ("name" + "y" * 120)).write_bytes(b"long")
    os.mkfifo(root / "fifo")


def modify(root: Path) -> None:
    (root / "etc/hosts").write_bytes(b"127.0.0.1 localhost changed\n")
    (root / "etc/deleted").unlink()
    os.chmod(root / "etc/chmodded", 0o600)
    shutil.rmtree(root / "gone")
    (root / "becomes-dir").unlink()
    (root / "becomes-dir").mkdir()
    (root / "becomes-dir/child").write_bytes(b"c")
    shutil.rmtree(root / "becomes-link")
    os.symlink("/etc", root / "becomes-link")
    (root / "new").mkdir()
    (root / "new/file").write_bytes(b"new")


def cp_a(src: Path, dst: Path) -> None:
    subprocess.run(["cp", "-a", f"{src}/.", str(dst)], check=True)


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_full_tree_round_trips(tmp_path: Path, compression: str) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    make_tree(src)
    dst.mkdir()
    buf = io.BytesIO()
    made = diff_dirs(None, src, buf, DiffOptions(compression=compression))
    buf.seek(0)
    applied = apply_layer(buf, dst)
    assert applied.diff_id == made.diff_id and applied.digest == made.digest
    assert T.tree_state(dst) == T.tree_state(src)
    assert T.link_groups(dst) == T.link_groups(src) == {frozenset({"bin/tool", "bin/tool-alias"})}


def test_pair_diff_applied_on_lower_gives_upper(tmp_path: Path) -> None:
    lower, upper, target = tmp_path / "lower", tmp_path / "upper", tmp_path / "target"
    make_tree(lower)
    for d in (upper, target):
        d.mkdir()
        cp_a(lower, d)
    modify(upper)
    buf = io.BytesIO()
    stats = diff_dirs(lower, upper, buf, DiffOptions(compression="none"))
    assert stats.whiteouts >= 2
    names = _names(buf.getvalue())
    assert ".wh.gone" in names and "etc/.wh.deleted" in names
    assert "bin/tool" not in names  # unchanged files are not in the layer
    buf.seek(0)
    apply_layer(buf, target, whiteouts=Whiteouts.FLAT)
    assert T.tree_state(target) == T.tree_state(upper)


def _names(tar: bytes) -> list[str]:
    reader = TarReader(Source(io.BytesIO(tar), TarLimits()), TarLimits())
    return [e.name.rstrip("/") for e in reader]


def test_reproducible_output_ignores_times_and_order(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    make_tree(a)
    b.mkdir()
    cp_a(a, b)
    os.utime(b / "etc/hosts", (1, 1))
    opts = DiffOptions(compression="gzip", reproducible=True, mtime=1_234_567_890)
    out_a, out_b = io.BytesIO(), io.BytesIO()
    sa = diff_dirs(None, a, out_a, opts)
    sb = diff_dirs(None, b, out_b, opts)
    assert sa.digest == sb.digest and out_a.getvalue() == out_b.getvalue()
    names = _names(out_a.getvalue())
    assert names == sorted(names, key=lambda n: n.split("/"))
    dst = tmp_path / "dst"
    dst.mkdir()
    out_a.seek(0)
    apply_layer(out_a, dst)
    assert os.stat(dst / "etc/hosts").st_mtime == 1_234_567_890


def test_non_reproducible_keeps_mtimes(tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_tree(src)
    os.utime(src / "etc/hosts", (5, 999))
    buf = io.BytesIO()
    diff_dirs(None, src, buf, DiffOptions(compression="none"))
    dst = tmp_path / "dst"
    dst.mkdir()
    buf.seek(0)
    apply_layer(buf, dst)
    assert os.stat(dst / "etc/hosts").st_mtime == 999


def test_big_ids_use_pax(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to chown to a large uid")
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_bytes(b"x")
    os.chown(src / "f", 3_000_000, 3_000_000)
    buf = io.BytesIO()
    diff_dirs(None, src, buf, DiffOptions(compression="none"))
    dst = tmp_path / "dst"
    dst.mkdir()
    buf.seek(0)
    apply_layer(buf, dst)
    assert os.stat(dst / "f").st_uid == 3_000_000
