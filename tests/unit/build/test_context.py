"""Build contexts: directories, tars, stdin, and paths that try to leave."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from dockyard.build.context import BuildContext, check_sources
from dockyard.errors import NotFound, UnsafeContent


@pytest.fixture
def ctx(tmp_path: Path) -> BuildContext:
    root = tmp_path / "ctx"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "f").write_text("x")
    (root / ".dockerignore").write_text("*.log\n")
    (root / "a.log").write_text("l")
    (tmp_path / "outside").write_text("secret")
    (root / "escape").symlink_to(tmp_path / "outside")
    (root / "inner").symlink_to("sub/f")
    return BuildContext.from_dir(str(root))


def test_resolve_inside(ctx: BuildContext) -> None:
    assert ctx.resolve("sub/f") == os.path.join(ctx.root, "sub", "f")
    assert ctx.resolve("./sub/../sub/f") == os.path.join(ctx.root, "sub", "f")
    assert ctx.resolve(".") == ctx.root
    assert ctx.resolve("inner") == os.path.join(ctx.root, "sub", "f")


def test_absolute_source_is_relative_to_context(ctx: BuildContext) -> None:
    assert ctx.resolve("/sub/f") == os.path.join(ctx.root, "sub", "f")
    assert ctx.resolve("/../sub/f") == os.path.join(ctx.root, "sub", "f")


@pytest.mark.parametrize("src", ["../x", "..", "sub/../../x", "./../outside"])
def test_parent_paths_rejected(ctx: BuildContext, src: str) -> None:
    with pytest.raises(UnsafeContent, match="forbidden path outside the build context"):
        ctx.resolve(src)


def test_symlink_out_of_context_rejected(ctx: BuildContext) -> None:
    with pytest.raises(UnsafeContent, match="a symlink leads to"):
        ctx.resolve("escape")


def test_check_sources_skips_heredocs_and_urls(ctx: BuildContext) -> None:
    check_sources(ctx, ("<<EOF", "https://x/y", "sub"))
    with pytest.raises(UnsafeContent):
        check_sources(ctx, ("sub", "../x"))


def test_ignore_applies(ctx: BuildContext) -> None:
    assert ctx.excluded("a.log") and not ctx.excluded("sub/f")
    assert "a.log" not in list(ctx.files())
    assert "sub/f" in list(ctx.files())


def test_missing_dir(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        BuildContext.from_dir(str(tmp_path / "nope"))


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_from_tar(tmp_path: Path) -> None:
    data = _tar({"Dockerfile": b"FROM x\n", "app/main.py": b"print(1)\n",
                 ".dockerignore": b"app\n"})
    work = tmp_path / "w"
    work.mkdir()
    c = BuildContext.from_tar(io.BytesIO(data), str(work))
    assert (Path(c.root) / "app" / "main.py").read_text() == "print(1)\n"
    assert c.excluded("app/main.py")


def test_from_tar_refuses_escape(tmp_path: Path) -> None:
    data = _tar({"../evil": b"x"})
    work = tmp_path / "w"
    work.mkdir()
    with pytest.raises(UnsafeContent):
        BuildContext.from_tar(io.BytesIO(data), str(work))
    assert not (tmp_path / "evil").exists()


def test_from_stdin_tar_or_dockerfile(tmp_path: Path) -> None:
    work = tmp_path / "w"
    work.mkdir()
    c = BuildContext.from_stdin(io.BytesIO(_tar({"f": b"1"})), str(work))
    assert (Path(c.root) / "f").read_text() == "1" and c.dockerfile_text is None
    work2 = tmp_path / "w2"
    work2.mkdir()
    c2 = BuildContext.from_stdin(io.BytesIO(b"FROM busybox\nRUN true\n"), str(work2))
    assert c2.dockerfile_text == "FROM busybox\nRUN true\n"
    assert list(c2.files()) == []


def test_glob_wildcards_per_segment(tmp_path: Path) -> None:
    root = tmp_path / "g"
    for f in ["a.txt", "b.txt", "c.md", "d/x.txt", "d/y.txt", "e/x.txt", "skip.txt"]:
        (root / f).parent.mkdir(parents=True, exist_ok=True)
        (root / f).write_text(f)
    (root / ".dockerignore").write_text("skip.txt\n")
    c = BuildContext.from_dir(str(root))
    assert c.glob("*.txt") == ["a.txt", "b.txt"]
    assert c.glob("/?.md") == ["c.md"]
    assert c.glob("*/x.txt") == ["d/x.txt", "e/x.txt"]
    assert c.glob("d/[xy].txt") == ["d/x.txt", "d/y.txt"]
    assert c.glob("d") == ["d"]
    assert c.glob(".") == ["."]
    with pytest.raises(NotFound, match="no source files were specified"):
        c.glob("skip.txt")
    with pytest.raises(NotFound):
        c.glob("*.none")
    with pytest.raises(UnsafeContent):
        c.glob("../*")
