"""The client against a registry that lies or breaks: clear errors, nothing
corrupt kept, Range resume works."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from dockyard.errors import DigestMismatch, Unauthorized, Unavailable
from dockyard.image.content import ContentStore
from dockyard.image.digest import Digest
from dockyard.registry import client as client_mod
from dockyard.registry import manifest as mf
from dockyard.registry.client import RegistryClient, new_session
from dockyard.registry.credentials import Credential
from tests.unit.registry.fake_registry import Fake, manifest_entry
from tests.unit.registry.images import OCI_MANIFEST, sha

DATA = bytes(range(256)) * 4096          # 1 MiB
DESC = mf.Descriptor("application/octet-stream", Digest.parse(sha(DATA)), len(DATA))


def run_with(fake: Fake, fn, credential: Credential | None = None):
    async def main():
        server = TestServer(fake.app(), host="127.0.0.1")
        await server.start_server()
        try:
            async with new_session() as session:
                c = RegistryClient(f"127.0.0.1:{server.port}", session, credential=credential)
                return await fn(c)
        finally:
            await server.close()
    return asyncio.run(main())


def assert_nothing_kept(store: ContentStore) -> None:
    assert list(store.list()) == []
    assert list(store.ingest_dir.iterdir()) == []


def test_plain_download_is_verified_and_stored(tmp_path: Path):
    store = ContentStore(tmp_path)
    fake = Fake(blobs={sha(DATA): DATA})
    info = run_with(fake, lambda c: c.fetch_blob("x", DESC, store))
    assert info.digest == DESC.digest and store.read_bytes(DESC.digest) == DATA


def test_registry_lying_about_blob_digest(tmp_path: Path):
    store = ContentStore(tmp_path)
    evil = bytearray(DATA)
    evil[1000] ^= 0xFF
    fake = Fake(blobs={sha(DATA): bytes(evil)})
    with pytest.raises(DigestMismatch, match="nothing kept"):
        run_with(fake, lambda c: c.fetch_blob("x", DESC, store))
    assert_nothing_kept(store)


def test_registry_sending_more_than_the_descriptor_says(tmp_path: Path):
    store = ContentStore(tmp_path)
    fake = Fake(blobs={sha(DATA): DATA + b"extra"})
    with pytest.raises(DigestMismatch, match="more data"):
        run_with(fake, lambda c: c.fetch_blob("x", DESC, store))
    assert_nothing_kept(store)


def test_connection_closed_mid_blob_resumes_with_range(tmp_path: Path):
    store = ContentStore(tmp_path)
    fake = Fake(blobs={sha(DATA): DATA}, break_after=300_000, breaks=2)
    run_with(fake, lambda c: c.fetch_blob("x", DESC, store))
    assert store.read_bytes(DESC.digest) == DATA
    assert len(fake.ranges_seen) == 2
    first = int(fake.ranges_seen[0].split("=")[1].rstrip("-"))
    assert 0 < first <= 300_000
    assert list(store.ingest_dir.iterdir()) == []


def test_server_ignoring_range_restarts_cleanly(tmp_path: Path):
    store = ContentStore(tmp_path)
    fake = Fake(blobs={sha(DATA): DATA}, break_after=200_000, breaks=1, ignore_range=True)
    run_with(fake, lambda c: c.fetch_blob("x", DESC, store))
    assert store.read_bytes(DESC.digest) == DATA


def test_connection_that_always_breaks_gives_up_clearly(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(client_mod, "RETRIES", 2)
    store = ContentStore(tmp_path)
    fake = Fake(blobs={sha(DATA): DATA}, break_after=1000, breaks=100)
    with pytest.raises(Unavailable, match="connection failed 3 times"):
        run_with(fake, lambda c: c.fetch_blob("x", DESC, store))
    assert_nothing_kept(store)


def test_manifest_whose_content_does_not_match_the_claimed_digest():
    body = b'{"schemaVersion": 2}'
    fake = Fake(manifests={"v1": manifest_entry(body, OCI_MANIFEST, sha(b"something else"))})
    with pytest.raises(DigestMismatch, match="expected"):
        run_with(fake, lambda c: c.get_manifest("x", "v1"))


def test_manifest_by_digest_that_the_registry_answers_with_other_bytes():
    asked = sha(b"the real one")
    fake = Fake(manifests={asked: manifest_entry(b'{"schemaVersion": 2}', OCI_MANIFEST,
                                                 asked)})
    with pytest.raises(DigestMismatch):
        run_with(fake, lambda c: c.get_manifest("x", asked))


def test_bearer_token_flow_with_credentials(tmp_path: Path):
    store = ContentStore(tmp_path)
    fake = Fake(blobs={sha(DATA): DATA}, token_user=("alice", "s3cret"))
    run_with(fake, lambda c: c.fetch_blob("x", DESC, store), Credential("alice", "s3cret"))
    assert store.exists(DESC.digest)


def test_bearer_token_flow_with_wrong_or_no_credentials(tmp_path: Path):
    store = ContentStore(tmp_path)
    fake = Fake(blobs={sha(DATA): DATA}, token_user=("alice", "s3cret"))
    with pytest.raises(Unauthorized, match="rejected"):
        run_with(fake, lambda c: c.fetch_blob("x", DESC, store), Credential("alice", "nope"))
    with pytest.raises(Unauthorized, match="dockyard login"):
        run_with(fake, lambda c: c.fetch_blob("x", DESC, store))
    assert_nothing_kept(store)


def test_unreachable_registry_is_a_clear_unavailable_error(tmp_path: Path):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]      # bound, never listening: connection refused

        async def main():
            async with new_session() as session:
                c = RegistryClient(f"127.0.0.1:{port}", session)
                await c.get_manifest("x", "latest")
        with pytest.raises(Unavailable, match=f"registry 127.0.0.1:{port} not reachable"):
            asyncio.run(main())


def test_chunk_ranges_cover_the_blob_exactly():
    from dockyard.registry.client import chunk_ranges
    assert chunk_ranges(10, 4) == [(0, 4), (4, 4), (8, 2)]
    assert chunk_ranges(8, 4) == [(0, 4), (4, 4)]
    assert chunk_ranges(3, 4) == [(0, 3)]
    assert chunk_ranges(0, 4) == []
    with pytest.raises(ValueError):
        chunk_ranges(5, 0)
