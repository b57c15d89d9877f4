"""COPY/ADD rules on plain directories (owners kept as the test user's)."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from dockyard.build.copier import CopyOptions, Source, copy_sources, is_archive, normalize_dest
from dockyard.build.rootfs import Identity
from dockyard.errors import InvalidArgument

ME = Identity(os.getuid(), os.getgid())


def test_normalize_dest() -> None:
    assert normalize_dest("/abs", "/w") == ("/abs", False)
    assert normalize_dest("/abs/", "/w") == ("/abs", True)
    assert normalize_dest(".", "/w") == ("/w", True)
    assert normalize_dest("rel", "/w") == ("/w/rel", False)
    assert normalize_dest("rel/", "") == ("/rel", True)
    assert normalize_dest("../up", "/w/x") == ("/w/up", False)


@pytest.fixture
def trees(tmp_path: Path) -> tuple[Path, Path]:
    src, root = tmp_path / "src", tmp_path / "root"
    (src / "d" / "sub").mkdir(parents=True)
    (src / "f.txt").write_text("f")
    (src / "d" / "a").write_text("a")
    (src / "d" / "sub" / "b").write_text("b")
    os.chmod(src / "d" / "a", 0o600)
    (src / "d" / "link").symlink_to("a")
    (root / "existing").mkdir(parents=True)
    return src, root


def opts(**kw) -> CopyOptions:
    return CopyOptions(identity=ME, **kw)


def test_file_destinations(trees) -> None:
    src, root = trees
    f = Source(str(src / "f.txt"), "f.txt")
    copy_sources(str(root), [f], "/new/", True, opts())
    copy_sources(str(root), [f], "/existing", False, opts())
    copy_sources(str(root), [f], "/renamed", False, opts())
    copy_sources(str(root), [f], "/p/q/r.txt", False, opts())
    assert (root / "new" / "f.txt").read_text() == "f"
    assert (root / "existing" / "f.txt").read_text() == "f"
    assert (root / "renamed").read_text() == "f"
    assert (root / "p" / "q" / "r.txt").read_text() == "f"


def test_directory_contents_modes_links(trees) -> None:
    src, root = trees
    copy_sources(str(root), [Source(str(src / "d"), "d", "d")], "/out", False, opts())
    assert sorted(os.listdir(root / "out")) == ["a", "link", "sub"]
    assert stat.S_IMODE(os.stat(root / "out" / "a").st_mode) == 0o600
    assert os.readlink(root / "out" / "link") == "a"
    assert (root / "out" / "sub" / "b").read_text() == "b"


def test_many_sources_need_a_directory(trees) -> None:
    src, root = trees
    two = [Source(str(src / "f.txt"), "f.txt"), Source(str(src / "d" / "a"), "a")]
    with pytest.raises(InvalidArgument, match="must be a directory and end with a /"):
        copy_sources(str(root), two, "/x", False, opts())
    copy_sources(str(root), two, "/x", True, opts())
    assert sorted(os.listdir(root / "x")) == ["a", "f.txt"]


def test_excluded_and_chmod(trees) -> None:
    src, root = trees
    o = opts(chmod=0o640, excluded=lambda rel: rel.endswith("/b"))
    copy_sources(str(root), [Source(str(src / "d"), "d", "d")], "/c", True, o)
    assert not (root / "c" / "sub" / "b").exists()
    assert stat.S_IMODE(os.stat(root / "c" / "a").st_mode) == 0o640


def test_dest_symlink_stays_in_root(trees, tmp_path: Path) -> None:
    src, root = trees
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "escape").symlink_to(str(outside))
    copy_sources(str(root), [Source(str(src / "f.txt"), "f.txt")], "/escape/", True, opts())
    assert not (outside / "f.txt").exists()
    assert (root / str(outside).lstrip("/") / "f.txt").exists()


def test_add_extracts_archives_only_when_asked(trees) -> None:
    src, root = trees
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("inner/x")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    (src / "t.tgz").write_bytes(buf.getvalue())
    assert is_archive(str(src / "t.tgz")) and not is_archive(str(src / "f.txt"))
    s = Source(str(src / "t.tgz"), "t.tgz")
    copy_sources(str(root), [s], "/add/", True, opts(extract_archives=True))
    copy_sources(str(root), [s], "/copy/", True, opts())
    assert (root / "add" / "inner" / "x").read_text() == "x"
    assert (root / "copy" / "t.tgz").exists()


def test_file_over_directory_is_refused(trees) -> None:
    src, root = trees
    (root / "dir" / "f.txt").mkdir(parents=True)
    with pytest.raises(InvalidArgument, match="cannot overwrite directory"):
        copy_sources(str(root), [Source(str(src / "f.txt"), "f.txt")], "/dir/", True,
                     opts())
