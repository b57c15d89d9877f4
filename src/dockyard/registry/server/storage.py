"""The registry's on-disk state: blobs in dockyard's ContentStore, plus a little
repository metadata beside it.

Layout under ``--storage DIR``::

    content/blobs/<alg>/<hex>                 the blobs (ContentStore, shared format)
    repositories/<name>/_layers/<alg>/<hex>   "this repo has this blob" (empty file)
    repositories/<name>/_manifests/<alg>/<hex> "this repo has this manifest" (holds its media type)
    repositories/<name>/_tags/<tag>           the manifest digest the tag points at
    repositories/<name>/_referrers/<subject-hex>/<alg>:<hex>   referrer of a subject
    uploads/<id>/{data,name}                  uploads in progress (never read as content)
    gc.lock                                   shared by writers, exclusive for gc

Why this shape: every change is a create or an atomic rename of one small file,
so concurrent pushes of one blob or one tag cannot corrupt anything (the last
tag write wins whole), and a killed upload leaves only an ``uploads/`` entry
that no reader looks at. Name components can't start with ``_`` (spec grammar),
so ``_layers`` and friends never clash with a nested repository.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from dockyard.errors import InvalidArgument
from dockyard.image.content import BlobInfo, ContentStore
from dockyard.image.digest import Digest
from dockyard.registry.server.errors import RegistryError
from dockyard.registry.server.routes import UPLOAD_ID_RE

_META = ("_layers", "_manifests", "_tags", "_referrers")


@dataclass
class Upload:
    id: str
    name: str
    path: Path          # the upload's directory

    @property
    def data(self) -> Path:
        return self.path / "data"

    @property
    def size(self) -> int:
        try:
            return self.data.stat().st_size
        except FileNotFoundError:
            return 0


class _Hashing:
    """A running sha256 of an upload's bytes, kept while the server lives so a
    chunked upload is not re-read at the end (rebuilt from the file if lost)."""

    def __init__(self) -> None:
        self.h = hashlib.sha256()
        self.offset = 0


class RegistryStorage:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.content = ContentStore(self.root / "content")
        self.repos = self.root / "repositories"
        self.uploads = self.root / "uploads"
        self.repos.mkdir(exist_ok=True)
        self.uploads.mkdir(exist_ok=True)
        self.lock_path = self.root / "gc.lock"
        self.lock_path.touch(exist_ok=True)
        self._hashing: dict[str, _Hashing] = {}

    # --- locking -------------------------------------------------------------
    @contextmanager
    def lock(self, exclusive: bool = False) -> Iterator[None]:
        """Writers hold it shared while they make content reachable; gc holds it
        exclusively while it sweeps, so it never removes a blob mid-link."""
        fd = os.open(self.lock_path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)

    # --- repositories ----------------------------------------------------------
    def _repo(self, name: str) -> Path:
        return self.repos / name

    def repo_exists(self, name: str) -> bool:
        p = self._repo(name)
        return any((p / m).is_dir() for m in _META)

    def _link(self, name: str, kind: str, digest: Digest) -> Path:
        return self._repo(name) / kind / digest.algorithm / digest.hex

    def link_blob(self, name: str, digest: Digest) -> None:
        p = self._link(name, "_layers", digest)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.touch(exist_ok=True)

    def has_blob(self, name: str, digest: Digest) -> bool:
        return self._link(name, "_layers", digest).exists() and self.content.exists(digest)

    def unlink_blob(self, name: str, digest: Digest) -> bool:
        try:
            self._link(name, "_layers", digest).unlink()
            return True
        except FileNotFoundError:
            return False

    def link_manifest(self, name: str, digest: Digest, media_type: str) -> None:
        p = self._link(name, "_manifests", digest)
        p.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(p, media_type.encode())

    def manifest_media_type(self, name: str, digest: Digest) -> str | None:
        try:
            mt = self._link(name, "_manifests", digest).read_text()
        except FileNotFoundError:
            return None
        return mt if self.content.exists(digest) else None

    def manifests(self, name: str) -> list[Digest]:
        out = []
        base = self._repo(name) / "_manifests"
        if base.is_dir():
            for alg in base.iterdir():
                for f in alg.iterdir():
                    try:
                        out.append(Digest.parse(f"{alg.name}:{f.name}"))
                    except InvalidArgument:
                        continue
        return out

    def unlink_manifest(self, name: str, digest: Digest) -> bool:
        try:
            self._link(name, "_manifests", digest).unlink()
        except FileNotFoundError:
            return False
        for tag in self.tags(name):
            if self.get_tag(name, tag) == digest:
                self.delete_tag(name, tag)
        ref_dir = self._repo(name) / "_referrers"
        if ref_dir.is_dir():
            for sub in ref_dir.iterdir():
                (sub / str(digest)).unlink(missing_ok=True)
        return True

    def set_tag(self, name: str, tag: str, digest: Digest) -> None:
        p = self._repo(name) / "_tags" / tag
        p.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(p, str(digest).encode())

    def get_tag(self, name: str, tag: str) -> Digest | None:
        try:
            return Digest.parse((self._repo(name) / "_tags" / tag).read_text().strip())
        except (FileNotFoundError, InvalidArgument):
            return None

    def delete_tag(self, name: str, tag: str) -> bool:
        try:
            (self._repo(name) / "_tags" / tag).unlink()
            return True
        except FileNotFoundError:
            return False

    def tags(self, name: str) -> list[str]:
        d = self._repo(name) / "_tags"
        if not d.is_dir():
            return []
        return sorted(p.name for p in d.iterdir() if not p.name.startswith("."))

    def catalog(self) -> list[str]:
        names = []
        for top, dirs, _files in os.walk(self.repos):
            rel = os.path.relpath(top, self.repos)
            if any(m in dirs for m in _META):
                names.append(rel)
            dirs[:] = [d for d in dirs if not d.startswith("_")]
        return sorted(names)

    def add_referrer(self, name: str, subject: Digest, manifest: Digest) -> None:
        p = self._repo(name) / "_referrers" / f"{subject.algorithm}-{subject.hex}" / str(manifest)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.touch(exist_ok=True)

    def referrers(self, name: str, subject: Digest) -> list[Digest]:
        d = self._repo(name) / "_referrers" / f"{subject.algorithm}-{subject.hex}"
        if not d.is_dir():
            return []
        out = []
        for f in sorted(d.iterdir()):
            try:
                dg = Digest.parse(f.name)
            except InvalidArgument:
                continue
            if self.manifest_media_type(name, dg) is not None:
                out.append(dg)
        return out

    # --- uploads ----------------------------------------------------------------
    def new_upload(self, name: str) -> Upload:
        uid = secrets.token_hex(16)
        path = self.uploads / uid
        path.mkdir()
        (path / "name").write_text(name)
        (path / "data").touch()
        self._hashing[uid] = _Hashing()
        return Upload(uid, name, path)

    def get_upload(self, name: str, uid: str) -> Upload:
        if not UPLOAD_ID_RE.match(uid):
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", {"uuid": uid[:80]})
        path = self.uploads / uid
        try:
            owner = (path / "name").read_text()
        except (FileNotFoundError, NotADirectoryError):
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", {"uuid": uid}) from None
        if owner != name:
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", {"uuid": uid})
        return Upload(uid, name, path)

    def append(self, upload: Upload, data: bytes) -> None:
        """Append bytes to an upload (blocking: run it in a worker thread)."""
        with open(upload.data, "ab") as f:
            offset = f.tell()
            f.write(data)
        st = self._hashing.get(upload.id)
        if st is not None and st.offset == offset:
            st.h.update(data)
            st.offset += len(data)

    def truncate(self, upload: Upload, size: int) -> None:
        """Undo a failed append (a chunk that broke mid-way must not count)."""
        os.truncate(upload.data, size)
        st = self._hashing.get(upload.id)
        if st is not None and st.offset != size:
            self._hashing.pop(upload.id, None)

    def drop_upload(self, upload: Upload) -> None:
        self._hashing.pop(upload.id, None)
        shutil.rmtree(upload.path, ignore_errors=True)

    def _upload_digest(self, upload: Upload, algorithm: str) -> Digest:
        st = self._hashing.get(upload.id)
        if algorithm == "sha256" and st is not None and st.offset == upload.size:
            return Digest("sha256", st.h.hexdigest())
        h = hashlib.new(algorithm)
        with open(upload.data, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        return Digest(algorithm, h.hexdigest())

    def commit_upload(self, upload: Upload, expected: Digest) -> BlobInfo:
        """Verify an upload against ``expected`` and publish it (blocking).

        On a mismatch the upload is dropped and DIGEST_INVALID raised: nothing is
        stored. Publishing is fsync + rename into the content store under the
        shared lock, then the repository link."""
        try:
            actual = self._upload_digest(upload, expected.algorithm)
            if actual != expected:
                raise RegistryError("DIGEST_INVALID", {"expected": str(expected),
                                                       "actual": str(actual)})
            size = upload.size
            with self.lock():
                target = self.content.blob_path(expected)
                if target.exists():
                    os.utime(target)  # fresh again for gc's grace period
                else:
                    fd = os.open(upload.data, os.O_RDONLY)
                    try:
                        os.fsync(fd)
                    finally:
                        os.close(fd)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.chmod(upload.data, 0o444)
                    os.replace(upload.data, target)
                    _fsync_dir(target.parent)
                self.link_blob(upload.name, expected)
            return BlobInfo(expected, size)
        finally:
            self.drop_upload(upload)

    def put_manifest_blob(self, data: bytes, digest: Digest) -> None:
        """Store a manifest's bytes (call under :meth:`lock`)."""
        if self.content.exists(digest):
            os.utime(self.content.blob_path(digest))
        else:
            self.content.put_bytes(data, digest)

    def touch_blob(self, digest: Digest) -> None:
        """A client just learned this blob exists (HEAD): keep it from gc a while."""
        try:
            os.utime(self.content.blob_path(digest))
        except OSError:
            pass

    def mount_blob(self, name: str, source: str, digest: Digest) -> bool:
        with self.lock():
            if not self.has_blob(source, digest):
                return False
            os.utime(self.content.blob_path(digest))
            self.link_blob(name, digest)
            return True

    def stale_uploads(self, older_than: float) -> list[Path]:
        cutoff = time.time() - older_than
        out = []
        for p in self.uploads.iterdir():
            try:
                if p.stat().st_mtime < cutoff and (p / "data").stat().st_mtime < cutoff:
                    out.append(p)
            except FileNotFoundError:
                out.append(p)
        return out


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


__all__ = ["RegistryStorage", "Upload"]
