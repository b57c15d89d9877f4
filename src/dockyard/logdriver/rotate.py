"""An append-only log file rotated by size, with docker's names and rules.

dockerd's rule (loggerutils.LogFile): before a write, if the current file has
reached ``max_size``, rotate; so a file may end one message past the limit.
Rotation renames ``<path>.N-1`` -> ``<path>.N`` ... ``<path>`` -> ``<path>.1`` and
starts an empty ``<path>``; with ``max_file`` 1 the file is emptied instead (a new
file renamed over it, so followers notice).
Each message is one ``write(2)`` on an ``O_APPEND`` descriptor, so a reader that
follows the file never sees half a record unless the disk is full.
"""

from __future__ import annotations

import os


class RotatingFile:
    def __init__(self, path: str, max_size: int | None = None, max_file: int = 1) -> None:
        if max_size is not None and max_size <= 0:
            max_size = None
        if max_file < 1:
            from dockyard.errors import InvalidArgument

            raise InvalidArgument(f"max-file must be at least 1, not {max_file}")
        self.path = path
        self.max_size = max_size
        self.max_file = max_file
        self.fd = self._open()
        self.size = os.fstat(self.fd).st_size

    def _open(self) -> int:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        try:
            return os.open(self.path, flags, 0o640)
        except FileNotFoundError:  # e.g. the local driver's own directory, first use
            os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
            return os.open(self.path, flags, 0o640)

    def write(self, data: bytes) -> None:
        if self.max_size is not None and self.size >= self.max_size:
            self.rotate()
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]
        self.size += len(data)

    def write_many(self, records: list[bytes]) -> None:
        """``write`` each record, batched into one write(2) between rotations."""
        batch: list[bytes] = []
        pending = 0
        for rec in records:
            if self.max_size is not None and self.size + pending >= self.max_size:
                if batch:
                    self.write(b"".join(batch))  # rotates first if needed
                    batch.clear()
                    pending = 0
                if self.size >= self.max_size:
                    self.rotate()
            batch.append(rec)
            pending += len(rec)
        if batch:
            self.write(b"".join(batch))

    def rotate(self) -> None:
        if self.max_file < 2:
            # "Truncate" by putting a new file in its place: a reader following the
            # old one sees another inode at the path (a same-inode truncation to a
            # size it had already read past would be invisible to it).
            tmp = f"{self.path}.new"
            fd = os.open(tmp, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_TRUNC |
                         os.O_CLOEXEC, 0o640)
            os.rename(tmp, self.path)
            os.close(self.fd)
            self.fd = fd
            self.size = 0
            return
        for n in range(self.max_file - 1, 1, -1):
            try:
                os.rename(f"{self.path}.{n - 1}", f"{self.path}.{n}")
            except FileNotFoundError:
                pass
        os.rename(self.path, f"{self.path}.1")
        os.close(self.fd)
        self.fd = self._open()
        self.size = 0

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def rotated_names(path: str, max_file: int | None = None) -> list[str]:
    """Existing files of a log, oldest first: ``<path>.N`` ... ``<path>.1``, ``<path>``."""
    out = []
    n = 1
    while max_file is None or n < max_file:
        name = f"{path}.{n}"
        if not os.path.exists(name):
            break
        out.append(name)
        n += 1
    out.reverse()
    if os.path.exists(path):
        out.append(path)
    return out
