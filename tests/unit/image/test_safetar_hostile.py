"""The hostile tarball corpus: every archive is rejected or contained.

Each case builds an archive that tries to reach outside the extraction root (or to
exhaust the machine). The check is the same for all: the canary directory beside
the root is byte-for-byte untouched, nothing new appears beside the root, and
the archive either raised InvalidArgument (UnsafeContent is one) naming the
problem, or was applied with its effects kept inside the root (case-specific
assertions say where they landed). Every case runs with the kernel's openat2
resolver and with the userspace walk.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dockyard.errors import InvalidArgument, UnsafeContent
from dockyard.image.inroot import openat2_available
from dockyard.image.layers import Whiteouts, apply_layer
from dockyard.image.safetar import TarOptions
from dockyard.image.tario import TarLimits
from tests.unit.image import tarkit as T

SMALL = TarLimits(max_total_bytes=4 << 20, max_entries=100, max_file_size=1 << 20,
                  max_path_length=300, max_depth=20, max_header_bytes=8192,
                  max_xattr_bytes=4096)


@dataclass
class Case:
    build: Callable[[Path], bytes]  # gets the canary dir (absolute host path)
    outcome: str  # "reject", "contain" or "either"
    check: Callable[[Path, Path], None] | None = None  # (root, canary) after a contain
    limits: TarLimits = field(default_factory=lambda: SMALL)
    whiteouts: Whiteouts = Whiteouts.FLAT
    reason: str = ""  # a word the rejection message must contain


def _exists(rel: str):
    def check(root: Path, canary: Path) -> None:
        assert os.path.lexists(root / rel), f"{rel} should have landed inside the root"
    return check


def _file_is(rel: str, data: bytes):
    def check(root: Path, canary: Path) -> None:
        p = root / rel
        assert not p.is_symlink() and p.read_bytes() == data
    return check


def _mode_is(rel: str, mode: int):
    def check(root: Path, canary: Path) -> None:
        assert stat.S_IMODE(os.lstat(root / rel).st_mode) == mode
    return check


def _absent(rel: str):
    def check(root: Path, canary: Path) -> None:
        assert not os.path.lexists(root / rel)
    return check


def _gzip_bomb(c: Path) -> bytes:
    body = T.tar(T.file("zeros", b"\0" * (1 << 20)) * 1) + b"\0" * (32 << 20)
    return gzip.compress(body, compresslevel=1)


def _zstd_bomb(c: Path) -> bytes:
    import zstandard

    return zstandard.ZstdCompressor().compress(b"\0" * (64 << 20))


CASES: dict[str, Case] = {
    "dotdot-path": Case(lambda c: T.tar(T.file("../canary/evil", b"x")), "reject", reason=".."),
    "dotdot-inside-path": Case(lambda c: T.tar(T.file("a/../../canary/evil", b"x")), "reject",
                               reason=".."),
    "absolute-dotdot": Case(lambda c: T.tar(T.file("/../canary/evil", b"x")), "reject"),
    "absolute-path-stripped": Case(lambda c: T.tar(T.file(f"{c}/evil", b"x")), "contain",
                                   check=lambda r, c: _file_is(f"{str(c).lstrip('/')}/evil",
                                                               b"x")(r, c)),
    "symlink-relative-escape-then-write": Case(
        lambda c: T.tar(T.symlink("s", "../canary"), T.file("s/evil", b"x")), "either"),
    "symlink-absolute-escape-then-write": Case(
        lambda c: T.tar(T.symlink("s", str(c)), T.file("s/evil", b"x")), "either"),
    "symlink-to-slash-then-mkdir-write": Case(
        lambda c: T.tar(T.symlink("s", "/"), T.file("s/etc/evil", b"x")), "contain",
        check=_file_is("etc/evil", b"x")),
    "symlink-chain-escape": Case(
        lambda c: T.tar(T.directory("d"), T.symlink("d/up", "../.."), T.symlink("e", "d/up/.."),
                        T.file("e/canary/evil", b"x")), "either"),
    "hardlink-dotdot": Case(lambda c: T.tar(T.hardlink("h", "../canary/file")), "reject"),
    "hardlink-absolute-host-path": Case(lambda c: T.tar(T.hardlink("h", f"{c}/file")), "reject",
                                        reason="not found"),
    "hardlink-through-escaping-symlink": Case(
        lambda c: T.tar(T.symlink("s", str(c)), T.hardlink("h", "s/file")), "reject"),
    "hardlink-to-escaping-symlink-then-write": Case(
        lambda c: T.tar(T.symlink("s", f"{c}/file"), T.hardlink("h", "s"),
                        T.file("h", b"overwritten")), "contain",
        check=_file_is("h", b"overwritten")),
    "symlink-then-file-same-name": Case(
        lambda c: T.tar(T.symlink("f", f"{c}/file"), T.file("f", b"mine")), "contain",
        check=_file_is("f", b"mine")),
    "symlink-swaps-used-directory": Case(
        lambda c: T.tar(T.directory("d"), T.file("d/a", b"1"), T.symlink("d", str(c)),
                        T.file("d/b", b"2")), "either"),
    "symlink-swap-to-slash-then-write": Case(
        lambda c: T.tar(T.directory("d"), T.file("d/a", b"1"), T.symlink("d", "/"),
                        T.file("d/b", b"2")), "contain", check=_file_is("b", b"2")),
    "hardlink-to-directory": Case(lambda c: T.tar(T.directory("d"), T.hardlink("h", "d")),
                                  "reject"),
    "hardlink-to-root": Case(lambda c: T.tar(T.hardlink("h", "./")), "reject"),
    "file-replaces-root": Case(lambda c: T.tar(T.file("./", b"x")), "reject", reason="root"),
    "parent-is-a-file": Case(lambda c: T.tar(T.file("f", b"x"), T.file("f/g", b"y")), "reject"),
    "symlink-loop-prefix": Case(
        lambda c: T.tar(T.symlink("a", "b"), T.symlink("b", "a"), T.file("a/x", b"y")),
        "reject"),
    "whiteout-dotdot": Case(lambda c: T.tar(T.file("../.wh.canary")), "reject"),
    "whiteout-of-root": Case(lambda c: T.tar(T.file(".wh.")), "reject"),
    "whiteout-of-dotdot": Case(lambda c: T.tar(T.directory("a"), T.file("a/.wh..")), "reject"),
    "whiteout-through-escaping-symlink": Case(
        lambda c: T.tar(T.symlink("s", str(c)), T.file("s/.wh.file")), "contain"),
    "opaque-through-escaping-symlink": Case(
        lambda c: T.tar(T.symlink("s", str(c)), T.file("s/.wh..wh..opq")), "contain"),
    "overlay-whiteout-through-symlink": Case(
        lambda c: T.tar(T.symlink("s", str(c)), T.file("s/.wh.file")), "either",
        whiteouts=Whiteouts.OVERLAY),
    "duplicate-entries-later-wins": Case(
        lambda c: T.tar(T.file("x", b"first"), T.file("x", b"second")), "contain",
        check=_file_is("x", b"second")),
    "duplicate-dir-then-file": Case(
        lambda c: T.tar(T.directory("x"), T.file("x/y", b"1"), T.file("x", b"flat")),
        "contain", check=_file_is("x", b"flat")),
    "char-device-skipped": Case(
        lambda c: T.tar(T.header("dev/mem", "3", devmajor=1, devminor=1)), "contain",
        check=_absent("dev/mem")),
    "block-device-skipped": Case(
        lambda c: T.tar(T.header("sda", "4", devmajor=8, devminor=0)), "contain",
        check=_absent("sda")),
    "setuid-stripped": Case(lambda c: T.tar(T.file("suid", b"#!", mode=0o4755)), "contain",
                            check=_mode_is("suid", 0o755)),
    "overlay-xattr-dropped": Case(
        lambda c: T.tar(T.pax({"SCHILY.xattr.trusted.overlay.opaque": "y"}), T.directory("d")),
        "contain", check=lambda r, c: _no_xattr(r / "d", "trusted.overlay.opaque")),
    "total-size-bomb": Case(
        lambda c: T.tar(*[T.file(f"f{i}", b"a" * (900 << 10)) for i in range(6)]), "reject",
        reason="limit"),
    "entry-count-bomb": Case(lambda c: T.tar(*[T.file(f"f{i}") for i in range(150)]), "reject",
                             reason="entries"),
    "single-file-too-big": Case(lambda c: T.tar(T.file("big", b"a" * ((1 << 20) + 1))),
                                "reject", reason="limit"),
    "size-field-claims-huge": Case(
        lambda c: T.header("big", size_field=b"\x80" + b"\0" * 3 + b"\x7f" + b"\xff" * 7),
        "reject", reason="limit"),
    "negative-base256-size": Case(lambda c: T.header("neg", size_field=b"\xff" * 12), "reject",
                                  reason="negative"),
    "path-too-long": Case(lambda c: T.tar(T.pax({"path": "a/" * 200 + "f"}), T.file("x")),
                          "reject", reason="longer"),
    "nesting-too-deep": Case(lambda c: T.tar(T.file("d/" * 30 + "f")), "reject",
                             reason="deeper"),
    "gzip-bomb": Case(_gzip_bomb, "reject", reason="bomb"),
    "zstd-bomb": Case(_zstd_bomb, "reject", reason="bomb"),
    "huge-pax-header": Case(lambda c: T.header("PaxHeader", "x", size=1 << 40) + T.end(),
                            "reject", reason="extended header"),
    "huge-gnu-longname": Case(lambda c: T.header("././@LongLink", "L", size=1 << 30) + T.end(),
                              "reject", reason="extended header"),
    "gnu-sparse": Case(lambda c: T.tar(T.header("sparse", "S", size=0)), "reject",
                       reason="sparse"),
    "pax-sparse": Case(lambda c: T.tar(T.pax({"GNU.sparse.major": "1", "GNU.sparse.minor": "0"}),
                                       T.file("s")), "reject", reason="sparse"),
    "pax-path-escape": Case(lambda c: T.tar(T.pax({"path": "../canary/evil"}), T.file("ok", b"x")),
                            "reject", reason=".."),
    "pax-linkpath-escape": Case(
        lambda c: T.tar(T.pax({"linkpath": "../../canary/file"}), T.hardlink("h", "ok")),
        "reject"),
    "gnu-longlink-escape": Case(
        lambda c: T.tar(T.header("././@LongLink", "K", size=18) + T.pad(b"../canary/file\0\0\0\0"),
                        T.hardlink("h", "x")), "reject"),
    "pax-record-overrun": Case(
        lambda c: T.tar(T.header("PaxHeader", "x", size=12) + T.pad(b"99 path=abc\n"),
                        T.file("x")), "reject", reason="pax"),
    "pax-nul-in-path": Case(lambda c: T.tar(T.pax({"path": b"a\0/../../canary/evil"}),
                                            T.file("x")), "reject"),
    "xattr-bomb": Case(lambda c: T.tar(T.pax({"SCHILY.xattr.user.big": "v" * 6000}),
                                       T.file("x")), "reject", reason="xattr"),
    "bad-checksum": Case(lambda c: T.tar(T.header("x", bad_checksum=True)), "reject",
                         reason="checksum"),
    "truncated-data": Case(lambda c: T.header("x", size=4096) + b"abc", "reject",
                           reason="truncated"),
    "unknown-entry-type": Case(lambda c: T.tar(T.header("v", "V")), "reject",
                               reason="unsupported"),
    "dangling-symlink-prefix": Case(
        lambda c: T.tar(T.symlink("s", "/nonexistent/deeper"), T.file("s/x", b"y")), "reject"),
}


def _no_xattr(path: Path, key: str) -> None:
    assert key not in os.listxattr(path)


RESOLVERS = [pytest.param(True, id="openat2"), pytest.param(False, id="walk")]


@pytest.mark.parametrize("use_openat2", RESOLVERS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_archive_is_rejected_or_contained(tmp_path: Path, name: str,
                                                  use_openat2: bool) -> None:
    if use_openat2 and not openat2_available():
        pytest.skip("this kernel has no openat2: only the userspace walk can be tested")
    case = CASES[name]
    canary = tmp_path / "canary"
    canary.mkdir()
    (canary / "file").write_bytes(b"precious")
    (canary / "sub").mkdir()
    (canary / "sub" / "deep").write_bytes(b"also precious")
    root = tmp_path / "root"
    root.mkdir()
    before = T.snapshot_tree(canary)
    data = case.build(canary)
    options = TarOptions(limits=case.limits, use_openat2=use_openat2)
    try:
        apply_layer(io.BytesIO(data), root, whiteouts=case.whiteouts, options=options)
    except InvalidArgument as e:
        assert case.outcome in ("reject", "either"), f"{name}: wrongly rejected: {e}"
        assert isinstance(e, InvalidArgument)
        assert case.reason.lower() in e.message.lower(), e.message
        if case.reason:
            assert e.message
    else:
        assert case.outcome in ("contain", "either"), f"{name}: should have been rejected"
        if case.check is not None:
            case.check(root, canary)
    assert T.snapshot_tree(canary) == before, f"{name}: the canary changed"
    assert sorted(os.listdir(tmp_path)) == ["canary", "root"]


def test_corpus_is_big_enough() -> None:
    assert len(CASES) >= 40


def test_rejection_names_the_entry(tmp_path: Path) -> None:
    with pytest.raises(UnsafeContent, match=r"'\.\./canary/evil'"):
        apply_layer(io.BytesIO(T.tar(T.file("../canary/evil", b"x"))), tmp_path)
