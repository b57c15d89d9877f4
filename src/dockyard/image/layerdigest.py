"""Copy a layer blob into the content store while computing its diff_id.

Why: a docker-archive names layers by path, an OCI archive by the digest of
the (maybe compressed) blob, but the image config lists *diff_ids*, the digests
of the uncompressed tars. ``load`` must check both, and reading a big layer
twice would halve its speed, so one pass feeds the content-store writer and a
decompressor+hasher side by side. Decompression here only hashes: nothing is
written from it, so a compression bomb costs CPU time, not disk.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from typing import BinaryIO

from dockyard.errors import DigestMismatch, InvalidArgument
from dockyard.image import mediatypes as mt
from dockyard.image.content import ContentStore
from dockyard.image.digest import Digest

_CHUNK = 1 << 20


@dataclass(frozen=True)
class IngestedLayer:
    blob: Digest          # digest of the bytes as stored (compressed or not)
    size: int             # stored size
    diff_id: Digest       # digest of the uncompressed tar
    uncompressed_size: int
    compression: str      # none, gzip, zstd

    @property
    def media_type(self) -> str:
        return mt.layer_type(self.compression)


class _Inflater:
    """Incremental decompression (gzip or zstd, multi-member/frame) to a hasher."""

    def __init__(self, compression: str) -> None:
        self.compression = compression
        self.hash = hashlib.sha256()
        self.size = 0
        self._obj = self._new()

    def _new(self):
        if self.compression == "gzip":
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        if self.compression == "zstd":
            import zstandard

            return zstandard.ZstdDecompressor().decompressobj()
        return None

    def feed(self, data: bytes) -> None:
        if self._obj is None:
            self._emit(data)
            return
        try:
            while data:
                self._emit(self._obj.decompress(data))
                if not self._obj.eof:
                    return
                data = self._obj.unused_data
                self._obj = self._new()
        except zlib.error as e:
            raise InvalidArgument(f"layer is not valid gzip: {e}") from None
        except Exception as e:  # zstandard.ZstdError, without importing it eagerly
            raise InvalidArgument(f"layer is not valid {self.compression}: {e}") from None

    def _emit(self, data: bytes) -> None:
        self.hash.update(data)
        self.size += len(data)

    def finish(self) -> None:
        if self._obj is not None and self.compression == "gzip":
            self._emit(self._obj.flush())


def ingest_layer(content: ContentStore, src: BinaryIO, expected: Digest | None = None,
                 expected_size: int | None = None) -> IngestedLayer:
    """Stream ``src`` into the content store, verifying ``expected`` when given."""
    with content.writer(expected.algorithm if expected else "sha256") as w:
        first = src.read(_CHUNK)
        inflater = _Inflater(mt.sniff_compression(first))
        # An uncompressed layer's diff_id is its blob digest: hash it once only.
        plain = inflater.compression == "none" and w.digest.algorithm == "sha256"
        chunk = first
        while chunk:
            if expected_size is not None and w.size + len(chunk) > expected_size:
                raise DigestMismatch(f"layer larger than the {expected_size} bytes declared")
            w.write(chunk)
            if not plain:
                inflater.feed(chunk)
            chunk = src.read(_CHUNK)
        inflater.finish()
        info = w.commit(expected, expected_size)
    if plain:
        return IngestedLayer(info.digest, info.size, info.digest, info.size, "none")
    return IngestedLayer(info.digest, info.size, Digest("sha256", inflater.hash.hexdigest()),
                         inflater.size, inflater.compression)


__all__ = ["IngestedLayer", "ingest_layer"]
