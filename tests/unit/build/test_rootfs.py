"""Paths and users inside a rootfs: symlinks resolve in scope, docker's --chown rules."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dockyard.build.rootfs import (
    Identity,
    chown_identity,
    lookup_user,
    mkdir_all,
    resolve_in_root,
    run_identity,
)
from dockyard.errors import InvalidArgument, NotFound


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "rootfs"
    (r / "etc").mkdir(parents=True)
    (r / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n"
        "svc:x:500:600::/srv:/bin/false\n")
    (r / "etc" / "group").write_text("root:x:0:\nuser:x:1000:\nusers:x:100:user\n"
                                     "svc:x:500:\nextra:x:700:svc\n")
    return r


def test_resolve_keeps_hostile_links_inside(root: Path) -> None:
    (root / "abs").symlink_to("/etc")
    (root / "up").symlink_to("../../../../")
    (root / "loop").symlink_to("loop")
    assert resolve_in_root(str(root), "/abs/passwd") == str(root / "etc" / "passwd")
    assert resolve_in_root(str(root), "/up/etc") == str(root / "etc")
    assert resolve_in_root(str(root), "/../../x") == str(root / "x")
    assert resolve_in_root(str(root), "/abs", follow_last=False) == str(root / "abs")
    with pytest.raises(InvalidArgument, match="too many levels"):
        resolve_in_root(str(root), "/loop/x")


def test_chown_rules(root: Path) -> None:
    assert chown_identity(str(root), "1000:1000") == Identity(1000, 1000)
    assert chown_identity(str(root), "55") == Identity(55, 55)
    assert chown_identity(str(root), "user") == Identity(1000, 1000)
    assert chown_identity(str(root), "user:users") == Identity(1000, 100)
    # docker's legacy rule: a user name alone is looked up as the group too
    assert chown_identity(str(root), "svc") == Identity(500, 500)
    with pytest.raises(NotFound, match="unable to find user nosuch"):
        chown_identity(str(root), "nosuch")
    with pytest.raises(NotFound, match="unable to find group nogroup"):
        chown_identity(str(root), "user:nogroup")
    with pytest.raises(InvalidArgument, match="invalid chown"):
        chown_identity(str(root), "a:b:c")


def test_run_identity(root: Path) -> None:
    assert run_identity(str(root), "") == Identity(0, 0, (0,))
    assert run_identity(str(root), "user") == Identity(1000, 1000, (1000, 100))
    assert run_identity(str(root), "svc") == Identity(500, 600, (600, 700))
    assert run_identity(str(root), "4242") == Identity(4242, 0, (0,))
    assert run_identity(str(root), "user:users").gid == 100
    assert lookup_user(str(root), "1000") == (1000, 1000)


def test_mkdir_all_owns_new_dirs_only(root: Path) -> None:
    me = Identity(os.getuid(), os.getgid())
    host = mkdir_all(str(root), "/etc/new/deeper", me, 0o750)
    assert host == str(root / "etc" / "new" / "deeper")
    assert oct((root / "etc" / "new").stat().st_mode & 0o777) == "0o750"
    (root / "file").write_text("x")
    with pytest.raises(InvalidArgument, match="not a directory"):
        mkdir_all(str(root), "/file/sub")
