"""Progress of pulls and pushes: one event type, two ways to show it.

Pull and push report :class:`ProgressEvent` to a callback. :class:`TerminalProgress`
draws rich progress bars on a terminal (plain status lines otherwise);
:class:`JsonMessages` turns the same events into Docker's JSON progress messages
(``{"status", "progressDetail": {"current", "total"}, "id"}``), iterable, for the
daemon API's streamed responses.
"""

from __future__ import annotations

import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO


@dataclass(frozen=True)
class ProgressEvent:
    id: str                 # short digest of the blob, or "" for the whole operation
    status: str             # "Downloading", "Pull complete", "Pushed", ...
    current: int = 0
    total: int = 0


Reporter = Callable[[ProgressEvent], None]


def quiet(_event: ProgressEvent) -> None:
    """A reporter that shows nothing."""


def json_message(ev: ProgressEvent) -> dict[str, Any]:
    """One Docker JSON progress message."""
    msg: dict[str, Any] = {"status": ev.status}
    if ev.id:
        msg["id"] = ev.id
    if ev.total or ev.current:
        msg["progressDetail"] = {"current": ev.current, "total": ev.total}
    else:
        msg["progressDetail"] = {}
    return msg


class JsonMessages:
    """A reporter collecting Docker JSON messages; iterate to drain them (thread-safe)."""

    def __init__(self) -> None:
        self._q: deque[dict[str, Any]] = deque()
        self._lock = threading.Lock()

    def __call__(self, ev: ProgressEvent) -> None:
        with self._lock:
            self._q.append(json_message(ev))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while True:
            with self._lock:
                if not self._q:
                    return
                item = self._q.popleft()
            yield item


_DONE = frozenset({"Download complete", "Pull complete", "Pushed", "Already exists",
                   "Layer already exists"})


class TerminalProgress:
    """Bars per blob on a TTY (rich), one line per status change elsewhere."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self._tty = self.stream.isatty()
        self._progress = None
        self._tasks: dict[str, Any] = {}
        self._totals: dict[str, int] = {}
        self._last: dict[str, str] = {}

    def __enter__(self) -> TerminalProgress:
        if self._tty:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TransferSpeedColumn,
            )
            self._progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                      DownloadColumn(), TransferSpeedColumn(),
                                      console=Console(file=self.stream), transient=False)
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def __call__(self, ev: ProgressEvent) -> None:
        if self._progress is None:
            if ev.id and self._last.get(ev.id) != ev.status:
                self._last[ev.id] = ev.status
                print(f"{ev.id}: {ev.status}", file=self.stream, flush=True)
            elif not ev.id:
                print(ev.status, file=self.stream, flush=True)
            return
        if not ev.id:
            self._progress.console.print(ev.status)
            return
        task = self._tasks.get(ev.id)
        desc = f"{ev.id}: {ev.status}"
        if task is None:
            task = self._progress.add_task(desc, total=ev.total or None)
            self._tasks[ev.id] = task
        if ev.total:
            self._totals[ev.id] = ev.total
        completed = ev.current or None
        if ev.status in _DONE and ev.id in self._totals:
            completed = self._totals[ev.id]
        self._progress.update(task, description=desc, completed=completed,
                              total=ev.total or None)


__all__ = ["JsonMessages", "ProgressEvent", "Reporter", "TerminalProgress", "json_message",
           "quiet"]
