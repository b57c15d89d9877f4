"""Layer apply: compression detection, diff_id/chain_id, flat whiteouts, metadata."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import os
import stat
from pathlib import Path

import pytest
import zstandard

from dockyard.errors import DigestMismatch, InvalidArgument
from dockyard.image.digest import Digest
from dockyard.image.layers import Whiteouts, apply_layer, chain_id, chain_ids
from dockyard.image.safetar import TarOptions
from tests.unit.image import tarkit as T

LAYER = T.tar(T.directory("etc", mtime=1_600_000_000), T.file("etc/hosts", b"127.0.0.1 x\n"),
              T.symlink("etc/link", "hosts"), T.hardlink("etc/hard", "etc/hosts"))
COMPRESSORS = {
    "none": lambda b: b,
    "gzip": gzip.compress,
    "zstd": lambda b: zstandard.ZstdCompressor().compress(b),
    "xz": lzma.compress,
    "bzip2": bz2.compress,
}


def sha(data: bytes) -> Digest:
    return Digest("sha256", hashlib.sha256(data).hexdigest())


@pytest.mark.parametrize("compression", sorted(COMPRESSORS))
def test_compression_is_detected_and_diff_id_is_the_uncompressed_digest(
        tmp_path: Path, compression: str) -> None:
    blob = COMPRESSORS[compression](LAYER)
    stats = apply_layer(io.BytesIO(blob), tmp_path)
    assert stats.compression == compression
    assert stats.diff_id == sha(LAYER)
    assert stats.digest == sha(blob)
    assert stats.size == len(LAYER) and stats.compressed_size == len(blob)
    assert (tmp_path / "etc/hosts").read_bytes() == b"127.0.0.1 x\n"
    assert os.readlink(tmp_path / "etc/link") == "hosts"
    assert os.stat(tmp_path / "etc/hard").st_ino == os.stat(tmp_path / "etc/hosts").st_ino
    assert os.stat(tmp_path / "etc").st_mtime_ns == 1_600_000_000 * 10**9


def test_diff_id_covers_trailing_padding(tmp_path: Path) -> None:
    blob = LAYER + b"\0" * 8192
    assert apply_layer(io.BytesIO(blob), tmp_path).diff_id == sha(blob)


def test_multi_member_gzip(tmp_path: Path) -> None:
    blob = gzip.compress(LAYER[:1024]) + gzip.compress(LAYER[1024:])
    assert apply_layer(io.BytesIO(blob), tmp_path).diff_id == sha(LAYER)


def test_garbage_after_gzip_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match=r"garbage|corrupt"):
        apply_layer(io.BytesIO(gzip.compress(LAYER) + b"junk!"), tmp_path)


def test_truncated_gzip_is_refused(tmp_path: Path) -> None:
    blob = gzip.compress(LAYER)
    with pytest.raises(InvalidArgument, match="truncated"):
        apply_layer(io.BytesIO(blob[: len(blob) // 2]), tmp_path)


def test_expected_diff_id_mismatch(tmp_path: Path) -> None:
    with pytest.raises(DigestMismatch):
        apply_layer(io.BytesIO(LAYER), tmp_path, expected_diff_id=sha(b"other"))
    assert apply_layer(io.BytesIO(LAYER), tmp_path, expected_diff_id=sha(LAYER))


def test_chain_id_follows_the_oci_definition() -> None:
    a, b, c = sha(b"a"), sha(b"b"), sha(b"c")
    ab = hashlib.sha256(f"{a} {b}".encode()).hexdigest()
    abc = hashlib.sha256(f"sha256:{ab} {c}".encode()).hexdigest()
    assert chain_id([a]) == a
    assert chain_ids([a, b, c]) == [a, Digest("sha256", ab), Digest("sha256", abc)]
    assert chain_id([a, b, c]) == Digest("sha256", abc)


def _lower(root: Path) -> None:
    apply_layer(io.BytesIO(T.tar(
        T.directory("a"), T.file("a/x", b"x"), T.file("a/y", b"y"),
        T.directory("b"), T.file("b/z", b"z"),
        T.directory("c"), T.file("c/old", b"old"), T.directory("c/sub"), T.file("c/sub/f"),
        T.directory("d"), T.file("d/keep", b"k"), T.file("d/drop", b"d"),
    )), root)


def test_flat_whiteouts_delete_and_opaque_hides_lower(tmp_path: Path) -> None:
    _lower(tmp_path)
    stats = apply_layer(io.BytesIO(T.tar(
        T.file("a/.wh.x"), T.file(".wh.b"),
        T.directory("c"), T.file("c/new", b"new"), T.file("c/.wh..wh..opq"),
        T.directory("c/sub"), T.file("c/sub/again", b"again"),
        T.file("d/.wh.drop"), T.file(".wh.missing"), T.file("a/.wh..wh.plnk"),
    )), tmp_path, whiteouts=Whiteouts.FLAT)
    assert not (tmp_path / "a/x").exists() and (tmp_path / "a/y").read_bytes() == b"y"
    assert not (tmp_path / "b").exists()
    assert sorted(os.listdir(tmp_path / "c")) == ["new", "sub"]
    assert os.listdir(tmp_path / "c/sub") == ["again"]
    assert os.listdir(tmp_path / "d") == ["keep"]
    assert not list(tmp_path.rglob(".wh.*"))
    assert stats.opaques == 1 and stats.whiteouts == 4  # .wh.missing counts too


def test_opaque_before_siblings(tmp_path: Path) -> None:
    _lower(tmp_path)
    apply_layer(io.BytesIO(T.tar(T.directory("c"), T.file("c/.wh..wh..opq"),
                                 T.file("c/new", b"n"))), tmp_path)
    assert os.listdir(tmp_path / "c") == ["new"]


def test_whiteouts_none_keeps_wh_files(tmp_path: Path) -> None:
    apply_layer(io.BytesIO(T.tar(T.file(".wh.x", b"literal"))), tmp_path,
                whiteouts=Whiteouts.NONE)
    assert (tmp_path / ".wh.x").read_bytes() == b"literal"


def test_metadata_is_preserved(tmp_path: Path) -> None:
    uid = 1234 if os.geteuid() == 0 else os.geteuid()
    blob = T.tar(
        T.pax({"SCHILY.xattr.user.note": b"hello\x00bin", "mtime": "1600000000.123456789",
               "path": "long/" + "n" * 150}),
        T.file("ignored-name", b"data", mode=0o640, uid=uid, gid=uid),
        T.file("suid", b"#!", mode=0o4755),
        T.header("fifo", "6", mode=0o600),
        T.header("v7dir/", "\0", mode=0o711),
    )
    apply_layer(io.BytesIO(blob), tmp_path, options=TarOptions(keep_setuid=True))
    p = tmp_path / ("long/" + "n" * 150)
    st = os.stat(p)
    assert p.read_bytes() == b"data"
    assert stat.S_IMODE(st.st_mode) == 0o640
    assert (st.st_uid, st.st_gid) == (uid, uid)
    assert st.st_mtime_ns == 1600000000123456789
    try:
        assert os.getxattr(p, "user.note") == b"hello\x00bin"
    except OSError:
        pytest.skip("this filesystem has no user xattrs")
    assert stat.S_IMODE(os.stat(tmp_path / "suid").st_mode) == 0o4755
    assert stat.S_ISFIFO(os.lstat(tmp_path / "fifo").st_mode)
    assert stat.S_ISDIR(os.lstat(tmp_path / "v7dir").st_mode)


def test_root_entry_sets_root_metadata(tmp_path: Path) -> None:
    root = tmp_path / "r"
    root.mkdir()
    apply_layer(io.BytesIO(T.tar(T.directory("./", mode=0o750, mtime=1_000_000))), root)
    assert stat.S_IMODE(root.stat().st_mode) == 0o750
    assert root.stat().st_mtime == 1_000_000


def test_many_small_files_and_deep_parents_created(tmp_path: Path) -> None:
    entries = [T.file(f"x/{i % 7}/y/{i}", str(i).encode()) for i in range(500)]
    stats = apply_layer(io.BytesIO(T.tar(*entries)), tmp_path)
    assert stats.files == 500
    assert (tmp_path / "x/3/y/430").read_bytes() == b"430"
    assert stat.S_IMODE((tmp_path / "x/3").stat().st_mode) == 0o755


def test_stream_from_a_pipe_like_reader(tmp_path: Path) -> None:
    class Trickle(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self.data = data

        def read(self, n: int = -1) -> bytes:
            chunk, self.data = self.data[:7], self.data[7:]
            return chunk

    stats = apply_layer(Trickle(gzip.compress(LAYER)), tmp_path)
    assert stats.diff_id == sha(LAYER)


def test_diff_id_of_a_compressed_blob() -> None:
    from dockyard.image.layers import diff_id_of

    assert diff_id_of(io.BytesIO(gzip.compress(LAYER))) == sha(LAYER)
    assert diff_id_of(io.BytesIO(LAYER)) == sha(LAYER)


@pytest.mark.parametrize(("media_type", "expected"), [
    ("application/vnd.oci.image.layer.v1.tar+gzip", "gzip"),
    ("application/vnd.oci.image.layer.v1.tar+zstd", "zstd"),
    ("application/vnd.oci.image.layer.v1.tar", "none"),
    ("application/vnd.docker.image.rootfs.diff.tar.gzip", "gzip"),
    ("application/vnd.oci.image.config.v1+json", None),
])
def test_compression_for_media_type(media_type: str, expected: str | None) -> None:
    from dockyard.image.layers import compression_for_media_type

    assert compression_for_media_type(media_type) == expected


def test_prefetch_thread_ends_on_success_and_on_refusal(tmp_path: Path) -> None:
    import threading

    from dockyard.image.tario import TarLimits

    ok = tmp_path / "ok"
    ok.mkdir()
    assert apply_layer(io.BytesIO(gzip.compress(LAYER)), ok).diff_id == sha(LAYER)
    bomb = gzip.compress(b"\0" * (8 << 20))
    with pytest.raises(InvalidArgument):
        apply_layer(io.BytesIO(bomb), tmp_path,
                    options=TarOptions(limits=TarLimits(max_total_bytes=1 << 20)))
    with pytest.raises(InvalidArgument):  # refused by the consumer while the producer runs
        apply_layer(io.BytesIO(gzip.compress(T.tar(T.file("../x", b"y")) + b"\0" * (16 << 20))),
                    tmp_path)
    assert not [t for t in threading.enumerate() if t.name == "dockyard-unpack-read"]
