"""``dockyard registry gc``: delete blobs that no manifest in any repository needs.

Mark and sweep. :func:`mark` is pure (roots plus a "references of" function), so
it is tested without a disk. :func:`collect` feeds it from the storage and
sweeps under the storage's exclusive lock, which the server takes shared while
it makes content reachable (commits an upload, mounts, puts a manifest), so the
two never interleave. Blobs younger than the grace period are kept even when
unreferenced: they belong to pushes whose manifest has not arrived yet (the
server refreshes a blob's mtime when it is uploaded again, mounted or HEAD-ed).
Uploads idle for longer than the grace period are removed too.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from dockyard.errors import DockyardError
from dockyard.image.digest import Digest
from dockyard.registry import manifest as mf
from dockyard.registry.server.storage import RegistryStorage


def mark(roots: Iterable[Digest], refs_of: Callable[[Digest], Iterable[Digest]]) -> set[Digest]:
    """Everything reachable from ``roots``."""
    seen: set[Digest] = set()
    stack = list(roots)
    while stack:
        d = stack.pop()
        if d in seen:
            continue
        seen.add(d)
        stack.extend(x for x in refs_of(d) if x not in seen)
    return seen


@dataclass
class GcReport:
    removed: list[Digest] = field(default_factory=list)
    freed: int = 0
    kept: int = 0
    uploads_removed: int = 0


def _roots(storage: RegistryStorage) -> tuple[set[Digest], dict[Digest, str]]:
    roots: set[Digest] = set()
    types: dict[Digest, str] = {}
    for name in storage.catalog():
        for d in storage.manifests(name):
            roots.add(d)
            mt = storage.manifest_media_type(name, d)
            if mt:
                types[d] = mt
    return roots, types


def collect(root: str | os.PathLike[str], *, grace: float = 3600.0, dry_run: bool = False,
            now: float | None = None) -> GcReport:
    storage = RegistryStorage(root)
    now = time.time() if now is None else now
    report = GcReport()
    with storage.lock(exclusive=True):
        roots, types = _roots(storage)

        def refs_of(d: Digest) -> list[Digest]:
            if d not in types:
                return []
            try:
                m = mf.parse(storage.content.read_bytes(d), types[d])
            except DockyardError:
                return []   # unreadable manifest: keep it, follow nothing
            return [x.digest for x in m.references()]

        live = mark(roots, refs_of)
        for blob in list(storage.content.list()):
            if blob.digest in live:
                report.kept += 1
                continue
            path = storage.content.blob_path(blob.digest)
            try:
                if now - path.stat().st_mtime < grace:
                    report.kept += 1
                    continue
            except FileNotFoundError:
                continue
            report.removed.append(blob.digest)
            report.freed += blob.size
            if not dry_run:
                path.unlink(missing_ok=True)
        if not dry_run:
            _drop_links(storage, set(report.removed))
            for p in storage.stale_uploads(grace):
                shutil.rmtree(p, ignore_errors=True)
                report.uploads_removed += 1
            _clean_ingest(storage.content.ingest_dir, now - grace)
    return report


def _drop_links(storage: RegistryStorage, removed: set[Digest]) -> None:
    if not removed:
        return
    for name in storage.catalog():
        for d in removed:
            storage.unlink_blob(name, d)


def _clean_ingest(ingest: Path, cutoff: float) -> None:
    for entry in ingest.iterdir():
        try:
            if entry.stat().st_mtime < cutoff:
                shutil.rmtree(entry, ignore_errors=True)
        except FileNotFoundError:
            pass


__all__ = ["GcReport", "collect", "mark"]
