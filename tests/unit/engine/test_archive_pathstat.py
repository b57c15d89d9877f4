"""The path-stat document's pieces: Go FileMode bits, RFC 3339 times, docker's path forms."""

from __future__ import annotations

import stat

import pytest

from dockyard.engine.archive import go_file_mode, rfc3339_nano, unix_mode
from dockyard.engine.fsview import base_name, container_abs


@pytest.mark.parametrize("st_mode,go", [
    (stat.S_IFDIR | 0o755, 2147484141),             # what dockerd sends for a 0755 dir
    (stat.S_IFREG | 0o640, 0o640),
    (stat.S_IFLNK | 0o777, 134218239),             # 1<<27 | 0777
    (stat.S_IFCHR | 0o666, (1 << 26) | (1 << 21) | 0o666),
    (stat.S_IFBLK | 0o660, (1 << 26) | 0o660),
    (stat.S_IFIFO | 0o600, (1 << 25) | 0o600),
    (stat.S_IFSOCK | 0o755, (1 << 24) | 0o755),
    (stat.S_IFREG | stat.S_ISUID | 0o755, (1 << 23) | 0o755),
    (stat.S_IFREG | stat.S_ISGID | 0o755, (1 << 22) | 0o755),
    (stat.S_IFDIR | stat.S_ISVTX | 0o777, (1 << 31) | (1 << 20) | 0o777),
])
def test_go_file_mode_bits(st_mode: int, go: int):
    assert go_file_mode(st_mode) == go
    assert unix_mode(go) == st_mode


@pytest.mark.parametrize("ns,text", [
    (1_700_000_000_000_000_000, "2023-11-14T22:13:20Z"),
    (1_700_000_000_278_164_838, "2023-11-14T22:13:20.278164838Z"),
    (1_700_000_000_883_491_300, "2023-11-14T22:13:20.8834913Z"),
])
def test_rfc3339_nano_like_go(ns: int, text: str):
    assert rfc3339_nano(ns) == text


@pytest.mark.parametrize("path,abs_path,name", [
    ("/data", "/data", "data"),
    ("/data/", "/data/", "data"),
    ("/data/.", "/data/.", "."),
    ("data", "/data", "data"),
    ("/bin/../etc/./passwd", "/etc/passwd", "passwd"),
    ("/", "/", "/"),
    ("/..", "/", "/"),
    ("//x//y/", "/x/y/", "y"),
])
def test_docker_path_forms(path: str, abs_path: str, name: str):
    assert container_abs(path) == abs_path
    assert base_name(abs_path) == name
