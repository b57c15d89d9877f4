""".dockerignore against the examples in docker's documentation, and the walk."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dockyard.build.dockerignore import (
    DockerIgnore,
    clean,
    parse_patterns,
    read_dockerignore,
    walk_context,
)


def ig(text: str) -> DockerIgnore:
    return DockerIgnore.from_text(text)


@pytest.mark.parametrize(("path", "cleaned"), [
    ("a//b/./c/", "a/b/c"), ("/a/../b", "/b"), ("../a", "../a"), ("", "."),
    ("a/..", "."), ("./x", "x"), ("/..", "/"),
])
def test_clean_like_go(path: str, cleaned: str) -> None:
    assert clean(path) == cleaned


def test_parse_patterns_comments_trim_and_clean() -> None:
    text = "# comment\n  \n /abs/path/ \n!  keep//me/.\n #not-comment\nsub/../x\n"
    assert parse_patterns(text) == ["abs/path", "!keep/me", "#not-comment", "x"]


# docker docs: "*/temp*", "*/*/temp*", "temp?"
@pytest.mark.parametrize(("path", "excluded"), [
    ("somedir/temporary.txt", True),
    ("somedir/temp", True),
    ("temporary.txt", False),
    ("somedir/subdir/temporary.txt", True),   # via */*/temp*
    ("a/b/c/temp", False),
    ("tempa", True),
    ("tempab", False),
    ("x/y/z/tempa", False),
])
def test_docs_example_wildcards(path: str, excluded: bool) -> None:
    assert ig("# comment\n*/temp*\n*/*/temp*\ntemp?\n").excluded(path) is excluded


@pytest.mark.parametrize(("path", "excluded"), [
    ("main.go", True), ("a/b/c.go", True), ("a/go", False), ("x.gol", False),
])
def test_double_star(path: str, excluded: bool) -> None:
    assert ig("**/*.go\n").excluded(path) is excluded


def test_double_star_in_middle_and_end() -> None:
    m = ig("a/**/z\nlogs/**\n")
    assert m.excluded("a/z") and m.excluded("a/b/c/z") and not m.excluded("b/z")
    assert m.excluded("logs/x/y") and m.excluded("logs/x")


def test_exception_last_match_wins_docs_1() -> None:
    m = ig("*.md\n!README*.md\nREADME-secret.md\n")
    assert m.excluded("CHANGES.md") and not m.excluded("README.md")
    assert not m.excluded("README-x.md") and m.excluded("README-secret.md")


def test_exception_last_match_wins_docs_2() -> None:
    m = ig("*.md\nREADME-secret.md\n!README*.md\n")
    assert not m.excluded("README-secret.md") and m.excluded("CHANGES.md")


def test_directory_pattern_excludes_contents() -> None:
    m = ig("build\n")
    assert m.excluded("build") and m.excluded("build/out/x.o")
    assert not m.excluded("src/build")


def test_leading_slash_and_dot_slash() -> None:
    m = ig("/secret\n./tmp\n")
    assert m.excluded("secret") and m.excluded("tmp/a") and not m.excluded("a/secret")


def test_question_and_class() -> None:
    m = ig("file[0-9].txt\nf?o\n")
    assert m.excluded("file3.txt") and not m.excluded("filex.txt")
    assert m.excluded("foo") and not m.excluded("f/o")


def test_escaped_wildcard() -> None:
    m = ig("lit\\*\n")
    assert m.excluded("lit*") and not m.excluded("litx")


def test_star_does_not_cross_slash() -> None:
    assert not ig("*.txt\n").excluded("sub/a.txt")
    assert ig("*.txt\n").excluded("a.txt")


def test_empty_rules_exclude_nothing() -> None:
    assert not ig("").excluded("anything")


def make_tree(root: Path, files: list[str]) -> None:
    for f in files:
        p = root / f
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f)


def test_walk_skips_excluded_dirs_and_reincludes(tmp_path: Path) -> None:
    make_tree(tmp_path, ["a.txt", "node_modules/x/y.js", "docs/keep.md", "docs/drop.md",
                         "src/main.py", "src/t.pyc"])
    m = ig("node_modules\ndocs\n!docs/keep.md\n**/*.pyc\n")
    assert list(walk_context(str(tmp_path), m)) == [
        "a.txt", "docs/keep.md", "src", "src/main.py"]


def test_walk_does_not_read_dirs_it_can_skip(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    make_tree(tmp_path, ["big/a", "keep/b/c", "ok"])
    scanned: list[str] = []
    real = os.scandir

    def recording(path: str):  # type: ignore[no-untyped-def]
        scanned.append(os.path.relpath(path, tmp_path))
        return real(path)

    monkeypatch.setattr(os, "scandir", recording)
    assert list(walk_context(str(tmp_path), ig("big\nkeep\n!keep/b/c\n"))) == [
        "keep/b/c", "ok"]
    assert "big" not in scanned and "keep/b" in scanned


def test_walk_without_rules_lists_everything(tmp_path: Path) -> None:
    make_tree(tmp_path, ["x/y", "z"])
    (tmp_path / "link").symlink_to("/etc")
    assert list(walk_context(str(tmp_path), ig(""))) == ["link", "x", "x/y", "z"]


def test_dockerfile_specific_ignore_preferred(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text("a\n")
    (tmp_path / "sub").mkdir()
    df = tmp_path / "sub" / "Dockerfile"
    df.write_text("FROM x\n")
    assert read_dockerignore(str(tmp_path), str(df)).excluded("a")
    (tmp_path / "sub" / "Dockerfile.dockerignore").write_text("b\n")
    rules = read_dockerignore(str(tmp_path), str(df))
    assert rules.excluded("b") and not rules.excluded("a")
    assert not read_dockerignore(str(tmp_path / "sub")).excluded("a")
