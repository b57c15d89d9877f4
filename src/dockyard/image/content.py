"""The content-addressed blob store.

Layout (under a root such as ``/var/lib/dockyard/content``)::

    blobs/<algorithm>/<hex>        committed blobs, read-only once there
    ingest/<random>/data           writes in progress, never read as content

A blob becomes visible only through :meth:`Writer.commit`, which checks the size
and the digest it was promised, fsyncs and renames into ``blobs/`` (the rename is
the commit point). A process killed mid-write leaves only an ``ingest/`` entry,
which no reader ever sees and :meth:`ContentStore.clean_ingest` removes. Writing a
blob that already exists is a no-op, so concurrent writers of one blob are safe.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from dockyard.errors import DigestMismatch, NotFound
from dockyard.image.digest import Digest

_CHUNK = 1 << 20


@dataclass(frozen=True)
class BlobInfo:
    digest: Digest
    size: int


class Writer:
    """An in-progress blob. Use as a context manager: an uncommitted writer is
    discarded on exit, so a failure never leaves a partial blob behind."""

    def __init__(self, store: ContentStore, algorithm: str = "sha256") -> None:
        self._store = store
        self._dir = Path(tempfile.mkdtemp(dir=store.ingest_dir))
        self._file = open(self._dir / "data", "wb")  # noqa: SIM115 - owned by the writer
        self._hash = hashlib.new(algorithm)
        self._algorithm = algorithm
        self.size = 0
        self._done = False

    def write(self, data: bytes) -> int:
        self._file.write(data)
        self._hash.update(data)
        self.size += len(data)
        return len(data)

    def copy_from(self, src: BinaryIO, limit: int | None = None) -> None:
        """Stream ``src`` in; refuse more than ``limit`` bytes when one is given."""
        while True:
            chunk = src.read(_CHUNK)
            if not chunk:
                return
            if limit is not None and self.size + len(chunk) > limit:
                raise DigestMismatch(f"blob larger than the expected {limit} bytes")
            self.write(chunk)

    @property
    def digest(self) -> Digest:
        return Digest(self._algorithm, self._hash.hexdigest())

    def commit(self, expected: Digest | None = None, expected_size: int | None = None) -> BlobInfo:
        """Verify and publish. Raises DigestMismatch (and discards) on any mismatch."""
        actual = self.digest
        try:
            if expected is not None and expected != actual:
                raise DigestMismatch(f"digest mismatch: expected {expected}, got {actual}")
            if expected_size is not None and expected_size != self.size:
                raise DigestMismatch(
                    f"size mismatch for {actual}: expected {expected_size}, got {self.size}")
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            target = self._store.blob_path(actual)
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                os.chmod(self._dir / "data", 0o444)
                os.replace(self._dir / "data", target)
                _fsync_dir(target.parent)
            return BlobInfo(actual, self.size)
        finally:
            self.discard()

    def discard(self) -> None:
        if self._done:
            return
        self._done = True
        if not self._file.closed:
            self._file.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()


class ContentStore:
    """Blobs by digest on a local filesystem."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.blobs_dir = self.root / "blobs"
        self.ingest_dir = self.root / "ingest"
        self.blobs_dir.mkdir(parents=True, exist_ok=True)
        self.ingest_dir.mkdir(parents=True, exist_ok=True)

    def blob_path(self, digest: Digest) -> Path:
        # Digest.parse validated the hex, so this path cannot escape blobs/.
        return self.blobs_dir / digest.algorithm / digest.hex

    def exists(self, digest: Digest) -> bool:
        return self.blob_path(digest).is_file()

    def info(self, digest: Digest) -> BlobInfo:
        try:
            return BlobInfo(digest, self.blob_path(digest).stat().st_size)
        except FileNotFoundError:
            raise NotFound(f"blob {digest} not found") from None

    def open(self, digest: Digest) -> BinaryIO:
        try:
            return open(self.blob_path(digest), "rb")
        except FileNotFoundError:
            raise NotFound(f"blob {digest} not found") from None

    def read_bytes(self, digest: Digest) -> bytes:
        with self.open(digest) as f:
            return f.read()

    def writer(self, algorithm: str = "sha256") -> Writer:
        return Writer(self, algorithm)

    def put_bytes(self, data: bytes, expected: Digest | None = None) -> BlobInfo:
        with self.writer(expected.algorithm if expected else "sha256") as w:
            w.write(data)
            return w.commit(expected, len(data) if expected else None)

    def put_stream(self, src: BinaryIO, expected: Digest | None = None,
                   expected_size: int | None = None) -> BlobInfo:
        with self.writer(expected.algorithm if expected else "sha256") as w:
            w.copy_from(src, limit=expected_size)
            return w.commit(expected, expected_size)

    def delete(self, digest: Digest) -> None:
        try:
            self.blob_path(digest).unlink()
        except FileNotFoundError:
            raise NotFound(f"blob {digest} not found") from None

    def list(self) -> Iterator[BlobInfo]:
        for alg_dir in sorted(self.blobs_dir.iterdir()):
            for blob in sorted(alg_dir.iterdir()):
                try:
                    d = Digest.parse(f"{alg_dir.name}:{blob.name}")
                except Exception:
                    continue
                yield BlobInfo(d, blob.stat().st_size)

    def verify(self, digest: Digest) -> bool:
        """Re-hash a stored blob; False if it is damaged."""
        h = digest.hasher()
        with self.open(digest) as f:
            for chunk in iter(lambda: f.read(_CHUNK), b""):
                h.update(chunk)
        return h.hexdigest() == digest.hex

    def clean_ingest(self) -> int:
        """Remove every abandoned in-progress write; returns how many there were.

        Only safe when no writer is active (at start-up, or under the GC lock)."""
        n = 0
        for entry in self.ingest_dir.iterdir():
            shutil.rmtree(entry, ignore_errors=True)
            n += 1
        return n


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


__all__ = ["BlobInfo", "ContentStore", "Writer"]
