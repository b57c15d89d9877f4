"""A build context: a directory (possibly extracted from a tar or stdin) plus its
``.dockerignore``, and the one place that turns a Dockerfile source path into a
host path without ever leaving the context.

``COPY ../x`` and sources whose symlinks resolve outside the context are refused
with :class:`UnsafeContent`; absolute sources are relative to the context root
(docker's rule). Tar streams are extracted by ``dockyard.image.safetar`` only.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from dockyard.build.dockerignore import (
    DockerIgnore,
    clean,
    compile_pattern,
    read_dockerignore,
    walk_context,
)
from dockyard.errors import InvalidArgument, NotFound, UnsafeContent

_MAGIC = re.compile(r"[*?\[\\]")
_TAR_MAGICS = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"\x28\xb5\x2f\xfd")


@dataclass(frozen=True)
class BuildContext:
    """``root`` is a real directory; ``ignore`` the rules in force; ``dockerfile`` the
    Dockerfile's text when it came from stdin instead of the context."""

    root: str
    ignore: DockerIgnore
    dockerfile_text: str | None = None

    @classmethod
    def from_dir(cls, path: str, dockerfile: str | None = None) -> BuildContext:
        root = os.path.realpath(path)
        if not os.path.isdir(root):
            raise NotFound(f"build context {path!r} is not a directory")
        if dockerfile and not os.path.isabs(dockerfile):
            dockerfile = os.path.join(root, dockerfile)
        return cls(root, read_dockerignore(root, dockerfile))

    @classmethod
    def from_tar(cls, stream: BinaryIO, workdir: str,
                 dockerfile: str = "Dockerfile") -> BuildContext:
        """Extract a (possibly compressed) tar into the empty ``workdir`` safely."""
        from dockyard.image.safetar import extract_tar

        extract_tar(stream, workdir)
        return cls.from_dir(workdir, dockerfile)

    @classmethod
    def from_stdin(cls, stream: BinaryIO, workdir: str) -> BuildContext:
        """``docker build -``: a tar context, or a bare Dockerfile with no context."""
        head = stream.read(512)
        rest = io.BufferedReader(_Prefixed(head, stream))  # type: ignore[arg-type]
        is_tar = head.startswith(_TAR_MAGICS) or head[257:262] == b"ustar"
        if is_tar:
            return cls.from_tar(rest, workdir)  # type: ignore[arg-type]
        text = (head + stream.read()).decode("utf-8", errors="replace")
        return cls(os.path.realpath(workdir), DockerIgnore([]), text)

    def resolve(self, source: str) -> str:
        """The host path of a context source, refusing anything outside the context."""
        rel = clean(source.replace("\\", "/") if os.sep == "\\" else source)
        if rel.startswith("/"):
            rel = clean(rel.lstrip("/")) or "."
        if rel == ".." or rel.startswith("../"):
            raise UnsafeContent(f"forbidden path outside the build context: {source}")
        path = os.path.join(self.root, rel) if rel != "." else self.root
        real = os.path.realpath(path)
        if real != self.root and not real.startswith(self.root + os.sep):
            raise UnsafeContent(f"forbidden path outside the build context: {source} "
                                f"(a symlink leads to {real})")
        return real

    def glob(self, source: str) -> list[str]:
        """Context paths (slash, relative) a COPY/ADD source names: Go ``filepath.Match``
        wildcards per path segment (``*``, ``?``, ``[...]``), ``.dockerignore``d entries
        left out, sorted. NotFound when nothing matches (docker refuses that too)."""
        self.resolve(source)
        rel = clean(source).lstrip("/")
        if rel in ("", "."):
            return ["."]
        found = [""]
        for part in rel.split("/"):
            nxt: list[str] = []
            for base in found:
                if not _MAGIC.search(part):
                    cand = f"{base}/{part}" if base else part
                    if os.path.lexists(os.path.join(self.root, cand)):
                        nxt.append(cand)
                    continue
                pat = compile_pattern(part)
                try:
                    names = sorted(os.listdir(os.path.join(self.root, base) or self.root))
                except (NotADirectoryError, FileNotFoundError):
                    continue
                nxt.extend(f"{base}/{n}" if base else n for n in names if pat.match(n))
            found = nxt
        out = [f for f in found if not self.ignore.excluded(f)]
        for f in out:
            self.resolve(f)
        if not out:
            raise NotFound(f"no source files were specified: {source} matches nothing in "
                           "the build context (or only .dockerignore'd files)")
        return out

    def excluded(self, source: str) -> bool:
        return self.ignore.excluded(clean(source).lstrip("/"))

    def files(self) -> Iterator[str]:
        """Included entries (slash paths relative to the root), excluded dirs skipped."""
        return walk_context(self.root, self.ignore)


class _Prefixed(io.RawIOBase):
    """A raw stream that replays ``head`` before reading on from ``stream``."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self.head = head
        self.stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray) -> int:  # type: ignore[override]
        if self.head:
            n = min(len(b), len(self.head))
            b[:n] = self.head[:n]
            self.head = self.head[n:]
            return n
        data = self.stream.read(len(b))
        b[:len(data)] = data
        return len(data)


def check_sources(ctx: BuildContext, sources: tuple[str, ...]) -> None:
    """Fail early on sources outside the context (e.g. ``COPY ../x``)."""
    for s in sources:
        if s.startswith("<<") or "://" in s:
            continue
        ctx.resolve(s)


__all__ = ["BuildContext", "InvalidArgument", "check_sources"]
