"""Apply image layers (OCI/Docker layer tars) and compute their identities.

A layer is a tar (plain, gzip or zstd; detected from its first bytes) whose
deletions are written as OCI whiteouts: ``dir/.wh.name`` deletes ``dir/name``
from the layers below, and ``dir/.wh..wh..opq`` hides everything the lower
layers had in ``dir``. Where the layer goes decides how whiteouts land:

* ``Whiteouts.OVERLAY`` -- the target is an overlayfs upperdir (a snapshot
  prepared on its parents): a whiteout becomes a 0/0 character device and an
  opaque marker becomes the ``trusted.overlay.opaque=y`` xattr; the kernel hides
  the lower entries when the overlay is mounted.
* ``Whiteouts.FLAT`` -- the target already holds the lower layers' files (copy
  snapshotter, ``umoci``-style unpack): the named paths are deleted; an opaque
  marker deletes every child of ``dir`` that this layer did not itself create.
* ``Whiteouts.NONE`` -- ``.wh.`` files are ordinary files (``docker cp``).

All the safety rules of :mod:`dockyard.image.safetar` apply; whiteouts are
resolved inside the root like any other path, and one whose target is the root
itself (or empty, ``.``, ``..``) is rejected.

The layer's ``diff_id`` is the sha256 of its uncompressed stream; a stack of
layers is named by ``chain_id`` (OCI image-spec, "ChainID"):
``chain(L0) = diff_id(L0)``, ``chain(L0..Ln) = sha256(chain(L0..Ln-1) + " " + diff_id(Ln))``.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import BinaryIO

from dockyard.errors import DigestMismatch, UnsafeContent
from dockyard.image.digest import Digest
from dockyard.image.safetar import SafeTree, TarOptions, extract_tar
from dockyard.image.tario import Source, TarEntry, TarLimits

OPAQUE_MARKER = ".wh..wh..opq"
WHITEOUT_PREFIX = ".wh."
OVERLAY_OPAQUE_XATTR = "trusted.overlay.opaque"


class Whiteouts(Enum):
    FLAT = "flat"
    OVERLAY = "overlay"
    NONE = "none"


@dataclass(frozen=True)
class LayerStats:
    """What applying one layer did; ``diff_id`` and ``digest`` identify it."""

    diff_id: Digest
    # Of the bytes as read (compressed); == diff_id when uncompressed; None when the
    # caller asked not to hash the blob (hash_blob=False).
    digest: Digest | None
    compression: str
    size: int  # uncompressed bytes
    compressed_size: int
    entries: int
    files: int
    dirs: int
    symlinks: int
    hardlinks: int
    whiteouts: int
    opaques: int
    bytes_written: int
    seconds: float
    skipped: tuple[str, ...] = ()


def _whiteout_target(entry: TarEntry, parts: tuple[str, ...]) -> tuple[str, ...] | None:
    """The path a whiteout entry deletes; None for AUFS metadata to skip."""
    base = parts[-1]
    if not base.startswith(WHITEOUT_PREFIX):
        return parts  # a 0/0 character device: overlay's own whiteout form
    if base.startswith(".wh..wh."):
        return None
    name = base[len(WHITEOUT_PREFIX):]
    if name in ("", ".", ".."):
        raise UnsafeContent(f"whiteout {entry.name!r} names no entry (or the root)")
    return (*parts[:-1], name)


class FlatWhiteouts:
    """Whiteouts applied by deleting from a directory that holds the lower layers."""

    track_created = True

    def handle(self, tree: SafeTree, entry: TarEntry, parts: tuple[str, ...]) -> None:
        if parts[-1] == OPAQUE_MARKER:
            self._opaque(tree, entry, parts[:-1])
            return
        target = _whiteout_target(entry, parts)
        if target is None:
            return
        try:
            pfd = tree.dir_fd(target[:-1], entry.name, create=False)
        except FileNotFoundError:
            return  # nothing below to delete
        tree.remove(pfd, target[-1], target)
        tree.stats.whiteouts += 1

    def _opaque(self, tree: SafeTree, entry: TarEntry, dparts: tuple[str, ...]) -> None:
        try:
            tree.dir_fd(dparts, entry.name, create=False)
        except FileNotFoundError:
            return
        self._clear(tree, entry, dparts)
        tree.stats.opaques += 1

    def _clear(self, tree: SafeTree, entry: TarEntry, dparts: tuple[str, ...]) -> None:
        created = tree.created or set()
        pfd = tree.dir_fd(dparts, entry.name, create=False)
        rfd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=pfd)
        try:
            names = [(e.name, e.is_dir(follow_symlinks=False)) for e in os.scandir(rfd)]
        finally:
            os.close(rfd)
        for name, is_dir in names:
            child = (*dparts, name)
            if child in created:
                if is_dir:
                    self._clear(tree, entry, child)
            else:
                tree.remove(tree.dir_fd(dparts, entry.name, create=False), name, child)


class OverlayWhiteouts:
    """Whiteouts converted to overlayfs form in an upperdir."""

    track_created = False

    def handle(self, tree: SafeTree, entry: TarEntry, parts: tuple[str, ...]) -> None:
        if parts[-1] == OPAQUE_MARKER:
            dparts = parts[:-1]
            dfd = tree.dir_fd(dparts, entry.name)
            fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=dfd)
            try:
                os.setxattr(fd, OVERLAY_OPAQUE_XATTR, b"y")
            finally:
                os.close(fd)
            tree.stats.opaques += 1
            return
        target = _whiteout_target(entry, parts)
        if target is None:
            return
        pfd = tree.dir_fd(target[:-1], entry.name)
        name = target[-1]
        try:
            os.mknod(name, stat.S_IFCHR, 0, dir_fd=pfd)
        except FileExistsError:
            tree.remove(pfd, name, target)
            os.mknod(name, stat.S_IFCHR, 0, dir_fd=pfd)
        if tree.chown:
            os.chown(name, entry.uid, entry.gid, dir_fd=pfd, follow_symlinks=False)
        tree.stats.whiteouts += 1


def apply_layer(stream: BinaryIO, target: str | os.PathLike[str], *,
                whiteouts: Whiteouts = Whiteouts.FLAT, options: TarOptions | None = None,
                compression: str | None = None,
                expected_diff_id: Digest | None = None,
                hash_blob: bool = True) -> LayerStats:
    """Apply one layer stream onto ``target``; returns its diff_id and stats.

    ``compression`` None means detect it. ``expected_diff_id`` raises
    DigestMismatch *after* the apply (the stream is only known at its end): the
    caller then discards the target, as it does on any other error.
    ``hash_blob=False`` skips hashing the compressed bytes (``digest`` is then
    None): for blobs the content store verified at ingest, where hashing them
    again on every unpack only costs CPU; the diff_id is always computed.
    """
    t0 = time.monotonic()
    hook = {Whiteouts.FLAT: FlatWhiteouts, Whiteouts.OVERLAY: OverlayWhiteouts}.get(whiteouts)
    stats, source = extract_tar(stream, target, options, hook() if hook else None, compression,
                                hash_raw=hash_blob)
    diff_id = Digest.parse(source.diff_id)
    if expected_diff_id is not None and expected_diff_id != diff_id:
        raise DigestMismatch(f"layer diff_id mismatch: expected {expected_diff_id}, got {diff_id}")
    return LayerStats(
        diff_id=diff_id,
        digest=Digest.parse(source.digest) if hash_blob or source.compression == "none" else None,
        compression=source.compression,
        size=source.size, compressed_size=source.raw_size, entries=stats.entries,
        files=stats.files, dirs=stats.dirs, symlinks=stats.symlinks, hardlinks=stats.hardlinks,
        whiteouts=stats.whiteouts, opaques=stats.opaques, bytes_written=stats.bytes_written,
        seconds=time.monotonic() - t0, skipped=tuple(stats.skipped))


def diff_id_of(stream: BinaryIO, limits: TarLimits | None = None) -> Digest:
    """The diff_id of a layer blob without applying it (``load`` of compressed layers)."""
    source = Source(stream, limits or TarLimits(), hash_raw=False)
    source.drain()
    return Digest.parse(source.diff_id)


_MEDIA_COMPRESSION = {"gzip": "gzip", "zstd": "zstd", "tar": "none"}


def compression_for_media_type(media_type: str) -> str | None:
    """"gzip", "zstd" or "none" for an OCI/Docker layer media type; None if unknown.

    apply_layer detects compression from the bytes anyway; this is for callers that
    want to check a manifest's claim or pick a Content-Type.
    """
    if media_type in ("application/vnd.docker.image.rootfs.diff.tar.gzip",
                      "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"):
        return "gzip"
    tail = media_type.rsplit(".", 1)[-1].split("+")[-1]
    if media_type.startswith("application/vnd.oci.image.layer.") or \
            media_type.startswith("application/vnd.docker.image.rootfs."):
        return _MEDIA_COMPRESSION.get(tail)
    return None


def chain_id(diff_ids: Sequence[Digest]) -> Digest:
    """The ChainID of a stack of layers, bottom first (OCI image-spec)."""
    if not diff_ids:
        raise ValueError("chain_id of no layers")
    return chain_ids(diff_ids)[-1]


def chain_ids(diff_ids: Sequence[Digest]) -> list[Digest]:
    """ChainIDs of every prefix of the stack: ``[chain(L0), chain(L0,L1), ...]``."""
    out: list[Digest] = []
    for d in diff_ids:
        if not out:
            out.append(d)
        else:
            h = hashlib.sha256(f"{out[-1]} {d}".encode()).hexdigest()
            out.append(Digest("sha256", h))
    return out


__all__ = [
    "OPAQUE_MARKER", "FlatWhiteouts", "LayerStats", "OverlayWhiteouts", "Whiteouts",
    "apply_layer", "chain_id", "chain_ids", "compression_for_media_type", "diff_id_of",
]
