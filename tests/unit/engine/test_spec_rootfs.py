"""ensure_workdir: dockerd's mkdir -p of the working directory, inside the rootfs."""

from __future__ import annotations

import os

import pytest

from dockyard.engine.spec_rootfs import ensure_workdir
from dockyard.errors import InvalidArgument


def test_creates_missing_directories(tmp_path):
    ensure_workdir(str(tmp_path), "/srv/app/./data/")
    assert (tmp_path / "srv" / "app" / "data").is_dir()
    ensure_workdir(str(tmp_path), "/srv/app")   # existing: fine
    ensure_workdir(str(tmp_path), "")           # none asked: nothing


def test_a_file_in_the_way(tmp_path):
    (tmp_path / "srv").write_text("x")
    with pytest.raises(InvalidArgument, match="Cannot mkdir: /srv is not a directory"):
        ensure_workdir(str(tmp_path), "/srv")
    with pytest.raises(InvalidArgument, match="Cannot mkdir: /srv/app"):
        ensure_workdir(str(tmp_path), "/srv/app")


def test_symlinks_stay_inside_the_rootfs(tmp_path):
    root = tmp_path / "rootfs"
    root.mkdir()
    outside = tmp_path / "outside"
    os.symlink(str(outside), root / "escape")      # absolute: re-rooted
    os.symlink("../../../..", root / "up")          # relative: stops at the root
    ensure_workdir(str(root), "/escape/made")
    ensure_workdir(str(root), "/up/made2")
    assert not outside.exists()
    assert (root / str(outside).lstrip("/") / "made").is_dir()
    assert (root / "made2").is_dir()
