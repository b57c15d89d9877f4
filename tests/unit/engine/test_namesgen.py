"""generate_name: adjective_surname names, free ones only, always ending."""

from __future__ import annotations

import re

from dockyard.engine.namesgen import ADJECTIVES, SURNAMES, generate_name

NAME = re.compile(r"^[a-z]+_[a-z]+[0-9a-f]*$")


def test_lists_are_large_unique_and_lowercase():
    assert len(ADJECTIVES) >= 50 and len(SURNAMES) >= 50
    assert len(set(ADJECTIVES)) == len(ADJECTIVES) and len(set(SURNAMES)) == len(SURNAMES)
    assert all(re.fullmatch(r"[a-z]+", w) for w in ADJECTIVES + SURNAMES)


def test_names_follow_dockers_name_rule():
    for _ in range(200):
        name = generate_name(lambda n: False)
        assert NAME.match(name)
        assert re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+", name)


def test_taken_names_are_skipped():
    seen: list[str] = []

    def taken(n: str) -> bool:
        seen.append(n)
        return len(seen) < 4

    name = generate_name(taken)
    assert name == seen[-1] and len(seen) == 4
    assert re.search(r"[0-9]$", name)  # retries carry a digit, like docker's


def test_ends_even_when_every_plain_name_is_taken():
    name = generate_name(lambda n: not re.search(r"[0-9a-f]{6}$", n))
    assert re.search(r"[0-9a-f]{6}$", name)


def test_names_vary():
    assert len({generate_name(lambda n: False) for _ in range(50)}) > 20
