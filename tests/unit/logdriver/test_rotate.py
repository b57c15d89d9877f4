"""Rotation by size with dockerd's names and rule (rotate before a write once full)."""

from __future__ import annotations

import pytest

from dockyard.errors import InvalidArgument
from dockyard.logdriver.jsonfile import JsonFileWriter
from dockyard.logdriver.rotate import RotatingFile, rotated_names


def test_rotates_to_numbered_files_and_drops_the_oldest(tmp_path):
    path = str(tmp_path / "log")
    f = RotatingFile(path, max_size=10, max_file=3)
    for i in range(6):
        f.write(b"%d23456789\n" % i)  # 11 bytes: every write fills a file
    f.close()
    assert rotated_names(path) == [f"{path}.2", f"{path}.1", path]
    assert _read(path) == b"523456789\n"
    assert _read(f"{path}.1") == b"423456789\n"
    assert _read(f"{path}.2") == b"323456789\n"


def test_a_file_may_pass_the_limit_by_one_message(tmp_path):
    path = str(tmp_path / "log")
    f = RotatingFile(path, max_size=10, max_file=2)
    f.write(b"12345")
    f.write(b"1234567890")  # 5 < 10 before the write: no rotation yet
    f.write(b"x")           # 15 >= 10: rotate first
    f.close()
    assert _read(f"{path}.1") == b"123451234567890"
    assert _read(path) == b"x"


def test_max_file_one_truncates(tmp_path):
    path = str(tmp_path / "log")
    f = RotatingFile(path, max_size=4, max_file=1)
    f.write(b"aaaa")
    f.write(b"bb")
    f.close()
    assert rotated_names(path) == [path]
    assert _read(path) == b"bb"


def test_no_limit_never_rotates(tmp_path):
    path = str(tmp_path / "log")
    f = RotatingFile(path, max_size=None, max_file=5)
    for _ in range(100):
        f.write(b"x" * 100)
    f.close()
    assert rotated_names(path) == [path]


def test_size_survives_reopen(tmp_path):
    path = str(tmp_path / "log")
    f = RotatingFile(path, max_size=10, max_file=2)
    f.write(b"0123456789")
    f.close()
    f = RotatingFile(path, max_size=10, max_file=2)
    f.write(b"new")
    f.close()
    assert _read(f"{path}.1") == b"0123456789"


def test_bad_max_file(tmp_path):
    with pytest.raises(InvalidArgument):
        RotatingFile(str(tmp_path / "log"), 10, 0)


def test_json_writer_rotation(tmp_path):
    path = str(tmp_path / "c-json.log")
    w = JsonFileWriter(path, max_size=200, max_file=3)
    for i in range(50):
        w.write("stdout", b"message %d\n" % i)
    w.close()
    names = rotated_names(path)
    assert names == [f"{path}.2", f"{path}.1", path]
    assert all(_read(n).endswith(b"\n") for n in names)


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def test_write_many_rotates_exactly_like_single_writes(tmp_path):
    records = [b"r%03d" % i + b"x" * (i % 17) + b"\n" for i in range(200)]
    for max_size, max_file in ((None, 1), (50, 3), (7, 2), (300, 5), (40, 1)):
        one = str(tmp_path / f"one-{max_size}-{max_file}")
        many = str(tmp_path / f"many-{max_size}-{max_file}")
        a = RotatingFile(one, max_size, max_file)
        for r in records:
            a.write(r)
        a.close()
        b = RotatingFile(many, max_size, max_file)
        for i in range(0, len(records), 13):
            b.write_many(records[i:i + 13])
        b.close()
        names_a = [n[len(one):] for n in rotated_names(one)]
        names_b = [n[len(many):] for n in rotated_names(many)]
        assert names_a == names_b
        for suffix in names_a:
            assert _read(one + suffix) == _read(many + suffix), (max_size, max_file, suffix)


def test_missing_directory_is_made(tmp_path):
    path = tmp_path / "local-logs" / "container.log"
    f = RotatingFile(str(path), 10, 2)
    f.write(b"x")
    f.close()
    assert path.read_bytes() == b"x"
    assert (path.parent.stat().st_mode & 0o777) == 0o700
