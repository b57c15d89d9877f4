"""The content store publishes a blob only after its digest and size check out."""

from __future__ import annotations

import io

import pytest

from dockyard.errors import DigestMismatch, InvalidArgument, NotFound
from dockyard.image.content import ContentStore
from dockyard.image.digest import Digest


def test_put_and_read_back(tmp_path):
    store = ContentStore(tmp_path)
    info = store.put_bytes(b"hello")
    assert info.size == 5
    assert store.read_bytes(info.digest) == b"hello"
    assert store.verify(info.digest)


def test_wrong_digest_is_refused_and_nothing_is_kept(tmp_path):
    store = ContentStore(tmp_path)
    wrong = Digest.of_bytes(b"other")
    with pytest.raises(DigestMismatch):
        store.put_bytes(b"hello", expected=wrong)
    assert list(store.list()) == []
    assert list(store.ingest_dir.iterdir()) == []


def test_wrong_size_is_refused(tmp_path):
    store = ContentStore(tmp_path)
    d = Digest.of_bytes(b"hello")
    with pytest.raises(DigestMismatch):
        store.put_stream(io.BytesIO(b"hello"), expected=d, expected_size=4)
    assert not store.exists(d)


def test_abandoned_writer_leaves_nothing(tmp_path):
    store = ContentStore(tmp_path)
    w = store.writer()
    w.write(b"partial")
    assert list(store.list()) == []
    w.discard()
    assert list(store.ingest_dir.iterdir()) == []


@pytest.mark.parametrize("text", ["", "sha256", "sha256:abc", "md5:" + "0" * 32,
                                  "sha256:" + "G" * 64, "sha256:../../etc/passwd"])
def test_bad_digests_are_rejected(text):
    with pytest.raises(InvalidArgument):
        Digest.parse(text)


def test_missing_blob_is_not_found(tmp_path):
    store = ContentStore(tmp_path)
    with pytest.raises(NotFound):
        store.open(Digest.of_bytes(b"x"))
