"""changes() on fixture layers: added, modified, deleted (.wh. form), parents, ignores."""

from __future__ import annotations

import os
from pathlib import Path

from dockyard.engine.changes import ADDED, DELETED, MODIFIED, changes


def _tree(root: Path, files: dict[str, str | None]) -> Path:
    for rel, content in files.items():
        p = root / rel
        if content is None:
            p.mkdir(parents=True, exist_ok=True)
        else:
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(content)
    return root


def test_changes_from_an_upperdir_fixture(tmp_path: Path):
    lower = _tree(tmp_path / "lower", {"etc/passwd": "root", "etc/group": "g",
                                       "usr/bin/ls": "ls", "home": None, "tmp": None})
    upper = _tree(tmp_path / "upper", {"etc/passwd": "root\nx", "etc/.wh.group": "",
                                       "tmp/t": "t", "newd/sub/f": "f", "home": None,
                                       "etc/hostname": "", "dev/null": "", "proc": None})
    st = os.stat(lower / "home")   # a copied-up directory keeps its times
    os.utime(upper / "home", ns=(st.st_atime_ns, st.st_mtime_ns))
    got = changes(upper, lowers=[lower])
    assert got == [
        {"Path": "/etc", "Kind": MODIFIED},
        {"Path": "/etc/group", "Kind": DELETED},
        {"Path": "/etc/passwd", "Kind": MODIFIED},
        {"Path": "/newd", "Kind": ADDED},
        {"Path": "/newd/sub", "Kind": ADDED},
        {"Path": "/newd/sub/f", "Kind": ADDED},
        {"Path": "/tmp", "Kind": MODIFIED},
        {"Path": "/tmp/t", "Kind": ADDED},
    ]   # /home unchanged; /etc/hostname, /dev, /proc are the engine's own


def test_directory_mode_change_is_a_modification(tmp_path: Path):
    lower = _tree(tmp_path / "lower", {"home": None})
    upper = _tree(tmp_path / "upper", {"home": None})
    os.chmod(lower / "home", 0o755)
    os.chmod(upper / "home", 0o700)
    assert changes(upper, lowers=[lower]) == [{"Path": "/home", "Kind": MODIFIED}]


def test_touched_directory_is_a_modification_unless_only_engine_files_explain_it(
        tmp_path: Path):
    lower = _tree(tmp_path / "lower", {"home": None, "etc/passwd": "p"})
    upper = _tree(tmp_path / "upper", {"home": None, "etc/hosts": ""})
    os.utime(lower / "home", ns=(1, 1_000_000_000))
    os.utime(lower / "etc", ns=(1, 1_000_000_000))
    assert changes(upper, lowers=[lower]) == [{"Path": "/home", "Kind": MODIFIED}]


def test_full_copy_layers_compare_entry_by_entry(tmp_path: Path):
    lower = _tree(tmp_path / "lower", {"a": "1", "b": "2", "d/e": "3"})
    upper = _tree(tmp_path / "upper", {"a": "1", "c": "new", "d/e": "changed!"})
    for name in ("a",):
        st = os.stat(lower / name)
        os.utime(upper / name, ns=(st.st_atime_ns, st.st_mtime_ns))
    for d in ("", "d"):
        st = os.stat(lower / d)
        os.utime(upper / d, ns=(st.st_atime_ns, st.st_mtime_ns))
    got = {c["Path"]: c["Kind"] for c in changes(upper, lowers=[lower], full=True)}
    assert got == {"/b": DELETED, "/c": ADDED, "/d": MODIFIED, "/d/e": MODIFIED}


def test_not_a_snapshot_means_no_lowers(tmp_path: Path):
    upper = _tree(tmp_path / "up", {"x": "1"})
    assert changes(upper) == [{"Path": "/x", "Kind": ADDED}]
