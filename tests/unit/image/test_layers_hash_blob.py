"""apply_layer(hash_blob=False): the blob is not hashed, the diff_id still is and is checked."""

from __future__ import annotations

import gzip
import hashlib
import io
from pathlib import Path

import pytest

from dockyard.errors import DigestMismatch
from dockyard.image.digest import Digest
from dockyard.image.layers import apply_layer
from tests.unit.image import tarkit as T

LAYER = T.tar(T.directory("etc"), T.file("etc/hosts", b"127.0.0.1 x\n"))


def sha(data: bytes) -> Digest:
    return Digest("sha256", hashlib.sha256(data).hexdigest())


def test_compressed_blob_digest_is_not_computed_but_diff_id_is(tmp_path: Path) -> None:
    stats = apply_layer(io.BytesIO(gzip.compress(LAYER)), tmp_path, hash_blob=False,
                        expected_diff_id=sha(LAYER))
    assert stats.digest is None
    assert stats.diff_id == sha(LAYER)
    assert (tmp_path / "etc/hosts").read_bytes() == b"127.0.0.1 x\n"


def test_uncompressed_blob_digest_is_the_diff_id(tmp_path: Path) -> None:
    stats = apply_layer(io.BytesIO(LAYER), tmp_path, hash_blob=False)
    assert stats.digest == stats.diff_id == sha(LAYER)


def test_diff_id_is_still_checked(tmp_path: Path) -> None:
    with pytest.raises(DigestMismatch):
        apply_layer(io.BytesIO(gzip.compress(LAYER)), tmp_path, hash_blob=False,
                    expected_diff_id=sha(b"something else"))
