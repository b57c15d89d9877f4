"""docker's substitution and word splitting (cases from docker's shell lexer docs)."""

from __future__ import annotations

import pytest

from dockyard.build.shellwords import expand, expand_words, split_words_raw
from dockyard.errors import InvalidArgument

ENV = {"a": "x y", "e": "", "PATH": "/bin", "n": "1"}


@pytest.mark.parametrize(("word", "value"), [
    ("$a", "x y"),
    ("${a}", "x y"),
    ("pre${n}post", "pre1post"),
    ("$n$n", "11"),
    ("${missing}", ""),
    ("$missing", ""),
    ("${missing:-def}", "def"),
    ("${e:-def}", "def"),
    ("${e-def}", ""),
    ("${missing-def}", "def"),
    ("${n:+alt}", "alt"),
    ("${e:+alt}", ""),
    ("${e+alt}", "alt"),
    ("${missing+alt}", ""),
    ("${missing:-${n}}", "1"),
    ("${missing:-'a b'}", "a b"),
    ("'$a'", "$a"),
    ('"$a"', "x y"),
    ('"\\$a"', "$a"),
    ("\\$a", "$a"),
    ('"a\\b"', "a\\b"),
    ('"a\\"b"', 'a"b'),
    ("a\\ b", "a b"),
    ("$", "$"),
    ("a$", "a$"),
    ("$-x", "$-x"),
    ('""', ""),
    ("${PATH}:/usr/bin", "/bin:/usr/bin"),
    ("'it''s'", "its"),
])
def test_expand_word(word: str, value: str) -> None:
    assert expand(word, ENV) == value


def test_backtick_escape() -> None:
    assert expand("`$a", ENV, escape="`") == "$a"
    assert expand("c:\\dir", ENV, escape="`") == "c:\\dir"


@pytest.mark.parametrize(("text", "words"), [
    ("$a", ["x", "y"]),
    ('"$a"', ["x y"]),
    ("a b  c", ["a", "b", "c"]),
    ("'a b' c", ["a b", "c"]),
    ("a\\ b c", ["a b", "c"]),
    ('""', [""]),
    ("$e", []),
    ("80 ${n}0/udp", ["80", "10/udp"]),
])
def test_expand_words_split(text: str, words: list[str]) -> None:
    assert expand_words(text, ENV) == words


@pytest.mark.parametrize("bad", ["'open", '"open', "${a", "${}", "${a:x}", "${a!}"])
def test_expand_errors(bad: str) -> None:
    with pytest.raises(InvalidArgument):
        expand(bad, ENV)


def test_required_modifier() -> None:
    assert expand("${n:?oops}", ENV) == "1"
    with pytest.raises(InvalidArgument, match="missing: oops"):
        expand("${missing:?oops}", ENV)
    with pytest.raises(InvalidArgument, match="e: is not allowed to be empty"):
        expand("${e:?}", ENV)


def test_missing_names_are_reported() -> None:
    missing: set[str] = set()
    expand("$x ${y} ${z:-d} ${w+alt} $n", ENV, missing=missing)
    assert missing == {"x", "y"}


@pytest.mark.parametrize(("line", "words"), [
    ('a="b c" d=e', ['a="b c"', "d=e"]),
    ("a=b\\ c d", ["a=b\\ c", "d"]),
    ("'x y' z", ["'x y'", "z"]),
    ("  lead  trail  ", ["lead", "trail"]),
])
def test_split_words_raw_keeps_quotes(line: str, words: list[str]) -> None:
    assert split_words_raw(line) == words
