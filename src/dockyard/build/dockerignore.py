"""``.dockerignore``: docker's pattern rules and an efficient context walk.

Rules (docker's patternmatcher): a line starting with ``#`` is a comment; lines
are trimmed; ``!`` marks an exception; a pattern is cleaned like Go's
``filepath.Clean`` and a leading ``/`` dropped; ``*`` and ``?`` do not cross ``/``,
``**`` crosses any number of directories; a pattern also matches everything
below a directory it matches; the *last* matching pattern decides.

:func:`walk_context` skips an excluded directory without reading it unless an
exception pattern could re-include something inside.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass


def clean(path: str) -> str:
    """Go's filepath.Clean for slash paths."""
    if not path:
        return "."
    rooted = path.startswith("/")
    out: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if out and out[-1] != "..":
                out.pop()
            elif not rooted:
                out.append("..")
            continue
        out.append(part)
    joined = "/".join(out)
    return ("/" + joined) if rooted else (joined or ".")


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A .dockerignore (or one COPY glob segment) pattern as an anchored regex."""
    out = []
    i = 0
    n = len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            if i + 1 < n and pattern[i + 1] == "*":
                i += 2
                if i < n and pattern[i] == "/":
                    i += 1
                out.append(".*" if i >= n else "(.*/)?")
                continue
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1:end]
                if body.startswith("^") or body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("^" + "".join(out) + "$", re.DOTALL)


@dataclass(frozen=True)
class Pattern:
    text: str
    exclusion: bool
    regex: re.Pattern[str]

    @property
    def parts(self) -> list[str]:
        return self.text.split("/")


def parse_patterns(text: str) -> list[str]:
    """The cleaned patterns of a .dockerignore file (``!`` kept as prefix)."""
    out: list[str] = []
    for k, line in enumerate(text.splitlines()):
        if k == 0 and line.startswith("\ufeff"):
            line = line[1:]
        if line.startswith("#"):
            continue
        p = line.strip()
        if not p:
            continue
        invert = p.startswith("!")
        if invert:
            p = p[1:].strip()
        if p:
            p = clean(p)
            if len(p) > 1 and p.startswith("/"):
                p = p[1:]
        out.append("!" + p if invert else p)
    return out


class DockerIgnore:
    """Compiled patterns; :meth:`excluded` answers for one slash path in the context."""

    def __init__(self, patterns: list[str]) -> None:
        self.patterns: list[Pattern] = []
        for p in patterns:
            excl = p.startswith("!")
            text = p[1:] if excl else p
            if not text:
                continue
            self.patterns.append(Pattern(text, excl, compile_pattern(text)))
        self.has_exceptions = any(p.exclusion for p in self.patterns)

    @classmethod
    def from_text(cls, text: str) -> DockerIgnore:
        return cls(parse_patterns(text))

    def excluded(self, path: str) -> bool:
        path = clean(path).lstrip("/")
        parts = path.split("/")
        matched = False
        for p in self.patterns:
            hit = bool(p.regex.match(path))
            if not hit and len(parts) > 1:
                k = len(p.parts)
                if k < len(parts):
                    hit = bool(p.regex.match("/".join(parts[:k])))
            if hit:
                matched = not p.exclusion
        return matched

    def may_reinclude_below(self, directory: str) -> bool:
        """Could an exception pattern match something inside ``directory``?"""
        dparts = clean(directory).split("/")
        for p in self.patterns:
            if not p.exclusion:
                continue
            pparts = p.parts
            ok = True
            for k, dp in enumerate(dparts):
                if k >= len(pparts):
                    ok = False
                    break
                if "**" in pparts[k]:
                    break
                if not compile_pattern(pparts[k]).match(dp):
                    ok = False
                    break
            if ok:
                return True
        return False


def read_dockerignore(context_dir: str, dockerfile: str | None = None) -> DockerIgnore:
    """The rules for a build: ``<Dockerfile>.dockerignore`` beside the Dockerfile wins
    over the context's ``.dockerignore``; none means nothing is excluded."""
    candidates = []
    if dockerfile:
        candidates.append(dockerfile + ".dockerignore")
    candidates.append(os.path.join(context_dir, ".dockerignore"))
    for path in candidates:
        try:
            with open(path, encoding="utf-8") as f:
                return DockerIgnore.from_text(f.read())
        except FileNotFoundError:
            continue
    return DockerIgnore([])


def walk_context(root: str, ignore: DockerIgnore) -> Iterator[str]:
    """Yield the slash paths (relative to ``root``) of included entries, depth first
    in name order (a directory before its contents). Symlinks are not followed."""

    def listing(rel: str) -> Iterator[tuple[str, bool]]:
        try:
            with os.scandir(os.path.join(root, rel) if rel else root) as it:
                entries = sorted(it, key=lambda e: e.name)
        except (NotADirectoryError, FileNotFoundError):
            return iter(())
        return ((posixpath.join(rel, e.name) if rel else e.name,
                 e.is_dir(follow_symlinks=False)) for e in entries)

    stack = [listing("")]
    while stack:
        item = next(stack[-1], None)
        if item is None:
            stack.pop()
            continue
        path, is_dir = item
        if ignore.excluded(path):
            if is_dir and ignore.has_exceptions and ignore.may_reinclude_below(path):
                stack.append(listing(path))
            continue
        yield path
        if is_dir:
            stack.append(listing(path))


__all__ = ["DockerIgnore", "Pattern", "clean", "compile_pattern", "parse_patterns",
           "read_dockerignore", "walk_context"]
