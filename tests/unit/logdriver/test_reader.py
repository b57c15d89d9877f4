"""read_logs: order across rotated files, tail, since/until, follow across rotation."""

from __future__ import annotations

import asyncio

import pytest

from dockyard.errors import InvalidArgument
from dockyard.logdriver import read_logs
from dockyard.logdriver.jsonfile import JsonFileWriter
from dockyard.logdriver.local import LocalWriter

BASE = 1_700_000_000_000_000_000
S = 1_000_000_000


def collect(path, driver="json-file", **kw):
    async def go():
        return [e async for e in read_logs(str(path), driver, **kw)]
    return asyncio.run(go())


@pytest.fixture(params=["json-file", "local"])
def written(request, tmp_path):
    """20 messages, one a second, rotated over several files."""
    path = tmp_path / "c.log"
    cls = JsonFileWriter if request.param == "json-file" else LocalWriter
    w = cls(str(path), max_size=120, max_file=10)
    for i in range(20):
        w.write("stdout" if i % 2 == 0 else "stderr", b"msg %02d\n" % i, BASE + i * S)
    w.close()
    return path, request.param


def test_reads_everything_in_order_across_rotation(written):
    path, driver = written
    assert path.with_name("c.log.1").exists()
    entries = collect(path, driver)
    assert [e.data for e in entries] == [b"msg %02d\n" % i for i in range(20)]
    assert entries[1].stream == "stderr"
    assert entries[3].timestamp == pytest.approx((BASE + 3 * S) / 1e9)


def test_tail(written):
    path, driver = written
    assert [e.data for e in collect(path, driver, tail=3)] == \
        [b"msg 17\n", b"msg 18\n", b"msg 19\n"]
    assert collect(path, driver, tail=0) == []
    assert len(collect(path, driver, tail=-1)) == 20
    assert len(collect(path, driver, tail=100)) == 20


def test_since_until(written):
    path, driver = written
    got = collect(path, driver, since=(BASE + 5 * S) / 1e9, until=(BASE + 7 * S) / 1e9)
    assert [e.data for e in got] == [b"msg 05\n", b"msg 06\n", b"msg 07\n"]
    # the tail is cut first, then since filters it (dockerd's order)
    got = collect(path, driver, tail=5, since=(BASE + 17 * S) / 1e9)
    assert [e.data for e in got] == [b"msg 17\n", b"msg 18\n", b"msg 19\n"]


def test_missing_file_is_empty_and_none_refused(tmp_path):
    assert collect(tmp_path / "nope") == []
    with pytest.raises(InvalidArgument, match="does not support reading"):
        collect(tmp_path / "nope", "none")
    with pytest.raises(InvalidArgument):
        collect(tmp_path / "nope", "syslog")


def test_damaged_lines_are_skipped(tmp_path):
    path = tmp_path / "c.log"
    w = JsonFileWriter(str(path))
    w.write("stdout", b"a\n", BASE)
    w.close()
    with open(path, "ab") as f:
        f.write(b'{"log":"bro\n')
    w = JsonFileWriter(str(path))
    w.write("stdout", b"b\n", BASE)
    w.close()
    assert [e.data for e in collect(path)] == [b"a\n", b"b\n"]


def test_follow_across_rotation_and_stop(tmp_path):
    path = tmp_path / "c.log"

    async def go():
        w = JsonFileWriter(str(path), max_size=100, max_file=3)
        w.write("stdout", b"before\n", BASE)
        stop = asyncio.Event()
        got = []

        async def reader():
            async for e in read_logs(str(path), "json-file", follow=True, stop=stop):
                got.append(e.data)

        task = asyncio.create_task(reader())
        await asyncio.sleep(0.1)
        for i in range(10):  # ~80 bytes each: rotates every other write
            w.write("stdout", b"live %d\n" % i, BASE + S)
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        stop.set()
        await asyncio.wait_for(task, 5)
        w.close()
        return got

    got = asyncio.run(go())
    assert got == [b"before\n"] + [b"live %d\n" % i for i in range(10)]


def test_follow_waits_for_the_file_and_tails(tmp_path):
    path = tmp_path / "c.log"

    async def go():
        stop = asyncio.Event()
        got = []

        async def reader():
            async for e in read_logs(str(path), "json-file", follow=True, stop=stop,
                                     tail=1):
                got.append(e.data)

        task = asyncio.create_task(reader())
        await asyncio.sleep(0.1)
        w = JsonFileWriter(str(path))
        w.write("stdout", b"late\n", BASE)
        w.close()
        await asyncio.sleep(0.2)
        stop.set()
        await asyncio.wait_for(task, 5)
        return got

    assert asyncio.run(go()) == [b"late\n"]


def test_follow_after_truncation(tmp_path):
    path = tmp_path / "c.log"

    async def go():
        w = JsonFileWriter(str(path), max_size=30, max_file=1)
        stop = asyncio.Event()
        got = []

        async def reader():
            async for e in read_logs(str(path), "json-file", follow=True, stop=stop):
                got.append(e.data)

        task = asyncio.create_task(reader())
        for i in range(4):
            w.write("stdout", b"t%d\n" % i, BASE)
            await asyncio.sleep(0.15)
        stop.set()
        await asyncio.wait_for(task, 5)
        w.close()
        return got

    assert asyncio.run(go()) == [b"t0\n", b"t1\n", b"t2\n", b"t3\n"]
