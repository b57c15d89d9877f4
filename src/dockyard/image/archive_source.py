"""Read-only views of an image archive: a tar file or an OCI layout directory.

Why not extract: ``load`` never creates files named by the archive. It looks
members up by a *normalised* name and streams them straight into the content
store, so an entry called ``../../etc/passwd`` or an absolute path can never be
written anywhere; at worst it is a name nothing asks for. Names the archive's
own index files point at (manifest.json ``Config``/``Layers``) go through
:func:`clean_name`, which refuses absolute paths and ``..``.

Links inside a tar (old ``docker save`` uses symlinks for shared layers) are
followed inside the archive only, a bounded number of times.
"""

from __future__ import annotations

import os
import posixpath
import stat
import tarfile
from pathlib import Path
from typing import BinaryIO, Protocol

from dockyard.errors import InvalidArgument, NotFound, UnsafeContent

MAX_LINK_HOPS = 8
MAX_INDEX_FILE = 8 << 20  # manifest.json, index.json, repositories, configs


def clean_name(name: str, what: str) -> str:
    """Normalise a member name; refuse one that leaves the archive's root."""
    if not isinstance(name, str) or not name or "\x00" in name:
        raise UnsafeContent(f"{what}: invalid path {name!r}")
    if name.startswith("/"):
        raise UnsafeContent(f"{what}: absolute path {name!r} is not allowed")
    norm = posixpath.normpath(name)
    if norm == ".." or norm.startswith("../"):
        raise UnsafeContent(f"{what}: path {name!r} leaves the archive")
    return norm.removeprefix("./")


class Source(Protocol):
    def exists(self, name: str) -> bool: ...

    def open(self, name: str) -> BinaryIO: ...

    def size(self, name: str) -> int: ...

    def close(self) -> None: ...


def read_small(src: Source, name: str, what: str, limit: int = MAX_INDEX_FILE) -> bytes:
    if src.size(name) > limit:
        raise InvalidArgument(f"{what} ({name}) is larger than {limit} bytes")
    with src.open(name) as f:
        return f.read(limit + 1)[:limit]


class TarSource:
    """Members of a (possibly compressed) tar file, by normalised name."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        try:
            self._tar = tarfile.open(path, "r:*")  # noqa: SIM115 - closed by close()
        except (tarfile.TarError, EOFError) as e:
            raise InvalidArgument(f"not a tar archive: {e}") from None
        self._members: dict[str, tarfile.TarInfo] = {}
        try:
            for m in self._tar:
                name = posixpath.normpath(m.name).removeprefix("./").rstrip("/")
                if name in self._members and not (m.isdir() and
                                                   self._members[name].isdir()):
                    raise UnsafeContent(f"archive has a duplicate entry {m.name!r}")
                self._members[name] = m
        except tarfile.TarError as e:
            self._tar.close()
            raise InvalidArgument(f"damaged tar archive: {e}") from None
        except BaseException:
            self._tar.close()
            raise

    def _resolve(self, name: str) -> tarfile.TarInfo:
        current = name
        for _ in range(MAX_LINK_HOPS):
            m = self._members.get(current)
            if m is None:
                raise NotFound(f"archive has no file {name!r}")
            if m.isfile():
                return m
            if m.issym():
                target = posixpath.join(posixpath.dirname(current), m.linkname)
                current = clean_name(target, f"link {m.name!r}")
            elif m.islnk():
                current = clean_name(m.linkname, f"hardlink {m.name!r}")
            else:
                raise InvalidArgument(f"archive entry {name!r} is not a regular file")
        raise UnsafeContent(f"archive entry {name!r}: too many links")

    def exists(self, name: str) -> bool:
        try:
            self._resolve(name)
            return True
        except UnsafeContent:
            raise
        except (NotFound, InvalidArgument):
            return False

    def size(self, name: str) -> int:
        return self._resolve(name).size

    def open(self, name: str) -> BinaryIO:
        f = self._tar.extractfile(self._resolve(name))
        if f is None:
            raise InvalidArgument(f"archive entry {name!r} is not a regular file")
        return f  # type: ignore[return-value]

    def names(self) -> list[str]:
        return list(self._members)

    def close(self) -> None:
        self._tar.close()


class DirSource:
    """Files of an OCI layout directory; symlinks are refused, not followed."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise NotFound(f"{root}: not a directory")

    def _path(self, name: str) -> Path:
        name = clean_name(name, "layout")
        p = self.root
        for part in name.split("/"):
            p = p / part
            try:
                st = p.lstat()
            except FileNotFoundError:
                raise NotFound(f"layout has no file {name!r}") from None
            if stat.S_ISLNK(st.st_mode):
                raise UnsafeContent(f"layout entry {name!r} is a symlink")
        if not stat.S_ISREG(st.st_mode):
            raise InvalidArgument(f"layout entry {name!r} is not a regular file")
        return p

    def exists(self, name: str) -> bool:
        try:
            self._path(name)
            return True
        except UnsafeContent:
            raise
        except (NotFound, InvalidArgument):
            return False

    def size(self, name: str) -> int:
        return self._path(name).stat().st_size

    def open(self, name: str) -> BinaryIO:
        fd = os.open(self._path(name), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        return os.fdopen(fd, "rb")

    def close(self) -> None:
        pass


__all__ = ["DirSource", "Source", "TarSource", "clean_name", "read_small"]
