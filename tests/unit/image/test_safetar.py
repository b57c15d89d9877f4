"""Path cleaning, in-root resolution (kernel and userspace agree), tar header formats."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from dockyard.errors import UnsafeContent
from dockyard.image.inroot import RootResolver, clean_path, openat2_available
from dockyard.image.layers import apply_layer
from dockyard.image.mount import MountSpec
from dockyard.image.tario import Source, TarLimits, TarReader, detect_compression, parse_pax
from tests.unit.image import tarkit as T


@pytest.mark.parametrize(("name", "parts"), [
    ("a/b/c", ("a", "b", "c")), ("/a//b/./c/", ("a", "b", "c")), ("./", ()), ("/", ()),
    ("a/../b", ("b",)), ("a/b/../../c", ("c",)), (".", ()), ("", ()),
])
def test_clean_path(name: str, parts: tuple[str, ...]) -> None:
    assert clean_path(name) == parts


@pytest.mark.parametrize("name", ["..", "../a", "a/../..", "/../x", "a/b/../../../c"])
def test_clean_path_refuses_climbing_out(name: str) -> None:
    with pytest.raises(UnsafeContent, match="climbs above"):
        clean_path(name)


def _tree(root: Path) -> None:
    (root / "real/deep").mkdir(parents=True)
    os.symlink("/real", root / "abs")
    os.symlink("../../..", root / "real/deep/up")
    os.symlink("real/deep", root / "rel")
    os.symlink("/etc", root / "hostetc")
    os.symlink("loop2", root / "loop1")
    os.symlink("loop1", root / "loop2")
    (root / "file").write_bytes(b"")


CASES = ["real", "abs", "abs/deep", "rel", "rel/up", "rel/up/real", "real/deep/up/abs/deep",
         "hostetc", "loop1", "file", "missing", "abs/missing"]


def _resolve(root: Path, path: str, use_openat2: bool) -> str:
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        r = RootResolver(fd, use_openat2=use_openat2)
        try:
            dfd = r.open_dir(clean_path(path))
        except OSError as e:
            return type(e).__name__ if not isinstance(e, OSError) or e.errno is None \
                else f"errno {e.errno}"
        try:
            return os.path.relpath(os.readlink(f"/proc/self/fd/{dfd}"), root)
        finally:
            os.close(dfd)
    finally:
        os.close(fd)


@pytest.mark.parametrize("path", CASES)
def test_userspace_walk_matches_openat2(tmp_path: Path, path: str) -> None:
    if not openat2_available():
        pytest.skip("no openat2 on this kernel: nothing to compare the walk with")
    _tree(tmp_path)
    assert _resolve(tmp_path, path, False) == _resolve(tmp_path, path, True)
    assert not _resolve(tmp_path, path, False).startswith("..")


def test_gnu_long_names_and_global_pax(tmp_path: Path) -> None:
    long = "d/" + "x" * 150
    glob = T.pax_records({"comment": "global", "path": "ignored"})
    blob = T.tar(
        T.header("g", "g", size=len(glob)) + T.pad(glob),
        T.header("././@LongLink", "L", size=len(long) + 1) + T.pad(long.encode() + b"\0"),
        T.file("short", b"data"),
        T.header("././@LongLink", "K", size=len(long) + 1) + T.pad(long.encode() + b"\0"),
        T.header("hl", "1", linkname="short"),
    )
    apply_layer(io.BytesIO(blob), tmp_path)
    assert (tmp_path / long).read_bytes() == b"data"
    assert os.stat(tmp_path / "hl").st_ino == os.stat(tmp_path / long).st_ino


def test_base256_numbers() -> None:
    big_uid = b"\x80" + (5_000_000).to_bytes(7, "big")
    blob = T.tar(T.header("f", size=0)[:108] + big_uid + T.header("f")[116:])
    hdr = bytearray(blob[:512])
    hdr[148:156] = b"        "
    hdr[148:156] = f"{sum(hdr):06o}\0 ".encode()
    reader = TarReader(Source(io.BytesIO(bytes(hdr) + T.end()), TarLimits()), TarLimits())
    (entry,) = list(reader)
    assert entry.uid == 5_000_000


def test_pax_parsing() -> None:
    body = T.pax_records({"path": "a b=c", "SCHILY.xattr.user.x": b"\x00\x01"})
    assert parse_pax(body) == {"path": b"a b=c", "SCHILY.xattr.user.x": b"\x00\x01"}


def test_detect_compression() -> None:
    assert detect_compression(b"\x1f\x8b\x08") == "gzip"
    assert detect_compression(b"\x28\xb5\x2f\xfd") == "zstd"
    assert detect_compression(b"ustar") == "none"


def test_mount_spec_data_excludes_flags() -> None:
    m = MountSpec("overlay", "overlay", ("lowerdir=a:b", "ro", "nodev", "index=off"))
    assert m.data == "lowerdir=a:b,index=off" and m.readonly
    assert MountSpec("bind", "/x", ("rbind", "rw")).data == ""
