"""Hostile layer contents through ``dockyard load`` and ``dockyard import``: every
entry is refused or contained, a canary directory outside the data root is
untouched, and the store stays consistent. (Entry-level rules are img-layers'
safetar; this checks that load and import really go through it.)"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from dockyard.cli import main
from tests.conftest import require_root
from tests.unit.image.archive_helpers import old_docker_archive, write_tar


def _tar(entries: list[tuple[str, str, bytes | str]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for kind, name, value in entries:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(value)
                tar.addfile(info, io.BytesIO(value))
            elif kind == "sym":
                info.type, info.linkname = tarfile.SYMTYPE, value
                tar.addfile(info)
            elif kind == "lnk":
                info.type, info.linkname = tarfile.LNKTYPE, value
                tar.addfile(info)
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
    return buf.getvalue()


def _cases(canary: Path) -> dict[str, list]:
    c = str(canary)
    return {
        "dotdot": [("file", "../../../../../../" + c.lstrip("/") + "/pwned", b"x")],
        "absolute": [("file", c + "/pwned", b"x")],
        "symlink-then-write": [("sym", "escape", c), ("file", "escape/pwned", b"x")],
        "symlink-dir-swap": [("dir", "d", b""), ("sym", "d", c), ("file", "d/pwned", b"x")],
        "hardlink-outside": [("lnk", "hl", c + "/secret")],
        "hardlink-dotdot": [("lnk", "hl", "../../../" + c.lstrip("/") + "/secret")],
        "whiteout-outside": [("file", "../.wh." + canary.name, b"")],
        "whiteout-through-symlink": [("sym", "up", c), ("file", "up/.wh.secret", b"")],
        "opaque-through-symlink": [("sym", "up", c), ("file", "up/.wh..wh..opq", b"")],
    }


@pytest.fixture
def canary(tmp_path) -> Path:
    d = tmp_path / "canary"
    d.mkdir()
    (d / "secret").write_text("untouched")
    return d


def _state(d: Path) -> dict[str, tuple]:
    return {str(p.relative_to(d)): (p.lstat().st_mode, p.lstat().st_size,
                                    p.read_bytes() if p.is_file() else b"")
            for p in sorted(d.rglob("*"))}


@pytest.mark.parametrize("case", ["dotdot", "absolute", "symlink-then-write",
                                  "symlink-dir-swap", "hardlink-outside", "hardlink-dotdot",
                                  "whiteout-outside", "whiteout-through-symlink",
                                  "opaque-through-symlink"])
@pytest.mark.parametrize("via", ["load", "import"])
def test_hostile_layer_is_refused_or_contained(tmp_path, canary, capsys, case, via):
    require_root()
    before = _state(canary)
    base = _tar([("file", "ok", b"ok")])
    layer = _tar(_cases(canary)[case])
    root = str(tmp_path / "root")
    if via == "load":
        src = write_tar(tmp_path / "evil.tar", old_docker_archive([base, layer], ("evil:1",)))
        rc = main.main(["--data-root", root, "load", "-i", str(src)])
    else:
        src = tmp_path / "evil-rootfs.tar"
        src.write_bytes(layer)
        rc = main.main(["--data-root", root, "import", str(src), "evil:1"])
    _out, err = capsys.readouterr()
    assert _state(canary) == before, f"{case} via {via} touched the canary"
    assert rc in (0, 1)
    if rc == 1:
        assert "Error:" in err
    assert main.main(["--data-root", root, "system", "check"]) == 0
    report = capsys.readouterr().out
    assert "no damage found" in report
    if rc == 0:
        # Contained: whatever landed is inside the snapshot directories.
        snaps = Path(root) / "snapshots"
        for p in snaps.rglob("*"):
            if p.is_symlink():
                continue
            assert os.path.realpath(p).startswith(str(snaps))
