"""Resolving paths inside a root through hostile symlinks (no root needed)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from dockyard.errors import InvalidArgument
from dockyard.runtime.rootfs import paths
from dockyard.runtime.rootfs.paths import RootDir, resolve_in_root


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    """(root, outside): a root full of bad links, and a directory next to it."""
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    (root / "etc").mkdir(parents=True)
    (root / "usr" / "lib").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret").write_text("x")
    (root / "abs").symlink_to(str(outside))               # absolute, to the host
    (root / "up").symlink_to("../../../../..")            # climbs past the root
    (root / "lib").symlink_to("usr/lib")                  # ordinary relative link
    (root / "etc" / "rel").symlink_to("../usr")           # relative, with ..
    (root / "loop").symlink_to("loop")
    (root / "file").write_text("f")
    return root, outside


@pytest.mark.parametrize("path,expected", [
    ("/abs/secret", "{outside}/secret"),     # the absolute link re-rooted
    ("/up/etc", "etc"),
    ("/lib/x", "usr/lib/x"),
    ("/etc/rel/lib", "usr/lib"),
    ("../../..", ""),
    ("/etc/../../../etc", "etc"),
    ("/missing/../etc", "etc"),
    ("etc", "etc"),
])
def test_resolve_in_root_stays_inside(tree, path: str, expected: str) -> None:
    root, outside = tree
    got = resolve_in_root(str(root), path)
    want = os.path.join(str(root), expected.format(outside=str(outside).lstrip("/")))
    assert got == want.rstrip("/") or got == want
    assert got == str(root) or got.startswith(str(root) + "/")


def test_resolve_in_root_detects_loops(tree) -> None:
    root, _ = tree
    with pytest.raises(OSError) as info:
        resolve_in_root(str(root), "/loop/x")
    assert info.value.errno == errno.ELOOP


@pytest.fixture(params=["openat2", "manual-walk"])
def rootdir(request, tree, monkeypatch):
    if request.param == "manual-walk":
        monkeypatch.setattr(paths, "_openat2_works", False)
    else:
        monkeypatch.setattr(paths, "_openat2_works", None)
    root, _ = tree
    with RootDir(str(root)) as rd:
        yield rd


def _where(rd: RootDir, fd: int) -> str:
    try:
        return rd.host_path(fd)
    finally:
        os.close(fd)


def test_open_follows_links_inside_the_root(rootdir: RootDir, tree) -> None:
    root, _ = tree
    assert _where(rootdir, rootdir.open("/lib")) == str(root / "usr" / "lib")
    assert _where(rootdir, rootdir.open("/up/etc")) == str(root / "etc")
    assert _where(rootdir, rootdir.open("/")) == str(root)
    with pytest.raises(FileNotFoundError):
        rootdir.open("/abs/secret")  # would exist outside; inside it does not


def test_create_dirs_through_hostile_links_lands_inside(rootdir: RootDir, tree) -> None:
    root, outside = tree
    before = sorted(os.listdir(outside))
    fd = rootdir.open("/abs/new/deeper", create="dir")
    assert _where(rootdir, fd) == str(root / str(outside).lstrip("/") / "new" / "deeper")
    fd = rootdir.open("/up/escape", create="dir")
    assert _where(rootdir, fd) == str(root / "escape")
    assert sorted(os.listdir(outside)) == before
    assert not (root.parent / "escape").exists()


def test_create_file_at_a_dangling_absolute_link(rootdir: RootDir, tree) -> None:
    root, outside = tree
    (root / "etc" / "dangling").symlink_to(str(outside / "created-by-mistake"))
    fd = rootdir.open("/etc/dangling", create="file")
    inside = root / str(outside).lstrip("/") / "created-by-mistake"
    assert _where(rootdir, fd) == str(inside)
    assert inside.is_file()
    assert not (outside / "created-by-mistake").exists()


def test_no_follow_returns_the_link_itself(rootdir: RootDir, tree) -> None:
    _ = tree
    fd = rootdir.open("/lib", follow=False)
    try:
        assert os.readlink("", dir_fd=fd) == "usr/lib"
    finally:
        os.close(fd)


def test_loops_and_non_directories_fail(rootdir: RootDir) -> None:
    with pytest.raises(OSError) as info:
        rootdir.open("/loop/x", create="dir")
    assert info.value.errno == errno.ELOOP
    with pytest.raises(OSError) as info:
        rootdir.open("/file/x", create="dir")
    assert info.value.errno in (errno.ENOTDIR, errno.EEXIST)


def test_parent_gives_dir_and_name(rootdir: RootDir, tree) -> None:
    root, outside = tree
    with rootdir.parent("/abs/node") as (dir_fd, name):
        assert name == "node"
        assert rootdir.host_path(dir_fd) == str(root / str(outside).lstrip("/"))
    with pytest.raises(InvalidArgument), rootdir.parent("/"):
        pass


def test_target_is_a_proc_fd_path(rootdir: RootDir, tree) -> None:
    root, _ = tree
    with rootdir.target("/etc/rel", create="dir") as t:
        assert t.startswith("/proc/self/fd/")
        assert os.path.realpath(t) == str(root / "usr")
