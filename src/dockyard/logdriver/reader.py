"""``read_logs``: a container's log back as entries, for ``docker logs`` (asyncio side).

Files are read oldest first (``<path>.N`` ... ``<path>.1``, ``<path>``). ``tail`` keeps
the last N messages across all files, then ``since``/``until`` filter them (dockerd's
order: the tail is cut first). ``follow`` keeps reading the live file after its end,
and across rotation: once the file at ``<path>`` is a new one (another inode), what is
left of the old one is read through the still-open descriptor before the new one is
opened; a truncated file (``max-file`` 1) is read again from its start. Following
ends when ``stop`` is set (after a last read to the end) or past ``until``.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import AsyncIterator

from dockyard.errors import InvalidArgument
from dockyard.logdriver.entry import LogEntry
from dockyard.logdriver.rotate import rotated_names

POLL_S = 0.05
_CHUNK = 1 << 16


class _Parser:
    """Turns bytes of one file into entries, keeping an incomplete tail for later."""

    def __init__(self, driver: str) -> None:
        self.driver = driver
        self.rest = b""

    def reset(self) -> None:
        self.rest = b""

    def feed(self, data: bytes) -> list[LogEntry]:
        buf = self.rest + data
        if self.driver == "local":
            from dockyard.logdriver.local import split_records

            out, used = split_records(buf)
            self.rest = buf[used:]
            return out
        from dockyard.logdriver.jsonfile import decode

        *lines, self.rest = buf.split(b"\n")
        out = []
        for line in lines:
            if not line.strip():
                continue
            try:
                out.append(decode(line))
            except ValueError:
                continue  # a damaged line (disk full, crash mid-write): skip it
        return out


def _read_files(names: list[str], driver: str) -> list[LogEntry]:
    out: list[LogEntry] = []
    for name in names:
        parser = _Parser(driver)
        try:
            with open(name, "rb") as f:
                while chunk := f.read(_CHUNK):
                    out.extend(parser.feed(chunk))
        except FileNotFoundError:
            continue  # rotated away while we listed
    return out


def _read_rest(fd: int, parser: _Parser) -> list[LogEntry]:
    out: list[LogEntry] = []
    while chunk := os.read(fd, _CHUNK):
        out.extend(parser.feed(chunk))
    return out


async def read_logs(path: str, driver: str = "json-file", *, since: float | None = None,
                    until: float | None = None, tail: int | None = None,
                    follow: bool = False, stop: asyncio.Event | None = None
                    ) -> AsyncIterator[LogEntry]:
    if driver in ("none", ""):
        raise InvalidArgument("configured logging driver does not support reading")
    if driver not in ("json-file", "local"):
        raise InvalidArgument(f'unknown log driver "{driver}"')
    if tail is not None and tail < 0:
        tail = None

    def wanted(e: LogEntry) -> bool | None:
        """True = yield, False = skip, None = past ``until`` (stop)."""
        if since is None and until is None:
            return True
        t = e.timestamp
        if until is not None and t > until:
            return None
        return since is None or t >= since

    fd = -1
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        if not follow:
            return
    parser = _Parser(driver)
    names = rotated_names(path)[:-1] if fd >= 0 else rotated_names(path)

    def first_part() -> list[LogEntry]:
        out = _read_files(names, driver)
        if fd >= 0:
            out += _read_rest(fd, parser)
        return out

    try:
        entries = await asyncio.to_thread(first_part)
        if tail is not None:
            entries = list(deque(entries, maxlen=tail)) if tail else []
        for e in entries:
            ok = wanted(e)
            if ok is None:
                return
            if ok:
                yield e
        if not follow:
            return
        while True:
            if fd < 0:
                try:
                    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                    parser.reset()
                except FileNotFoundError:
                    pass
            got = _read_rest(fd, parser) if fd >= 0 else []
            for e in got:
                ok = wanted(e)
                if ok is None:
                    return
                if ok:
                    yield e
            if got:
                continue
            change = _changed(path, fd) if fd >= 0 else None
            if change == "replaced":
                # Rotated once or more since the last look: the files between the one
                # we read and the new live one are complete; read them first.
                newer = _newer_rotated(path, fd)
                os.close(fd)
                fd = -1
                for old in newer:
                    try:
                        rest = _read_rest(old, _Parser(driver))
                    finally:
                        os.close(old)
                    for e in rest:
                        ok = wanted(e)
                        if ok is None:
                            return
                        if ok:
                            yield e
                parser.reset()
                continue
            if change == "truncated":
                os.lseek(fd, 0, os.SEEK_SET)
                parser.reset()
                continue
            if stop is not None and stop.is_set():
                return
            await _sleep_or_stop(stop)
    finally:
        if fd >= 0:
            os.close(fd)


def _newer_rotated(path: str, fd: int) -> list[int]:
    """Open the rotated files newer than the one ``fd`` reads, oldest first."""
    own = os.fstat(fd)
    names = rotated_names(path)[:-1] if os.path.exists(path) else rotated_names(path)
    start = 0
    for i, name in enumerate(names):
        try:
            st = os.stat(name)
        except FileNotFoundError:
            continue
        if (st.st_ino, st.st_dev) == (own.st_ino, own.st_dev):
            start = i + 1
    out = []
    for name in names[start:]:
        try:
            out.append(os.open(name, os.O_RDONLY | os.O_CLOEXEC))
        except FileNotFoundError:
            continue
    return out


def _changed(path: str, fd: int) -> str | None:
    """"replaced" when ``path`` is now another file (rotated), "truncated" when the
    file ``fd`` reads shrank below our offset (``max-file`` 1), else None."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None  # keep reading the old one until a new file appears
    own = os.fstat(fd)
    if (st.st_ino, st.st_dev) != (own.st_ino, own.st_dev):
        return "replaced"
    if own.st_size < os.lseek(fd, 0, os.SEEK_CUR):
        return "truncated"
    return None


async def _sleep_or_stop(stop: asyncio.Event | None) -> None:
    if stop is None:
        await asyncio.sleep(POLL_S)
        return
    try:
        await asyncio.wait_for(stop.wait(), POLL_S)
    except TimeoutError:
        pass
