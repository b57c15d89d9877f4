"""Rendering the builder's JSON messages for a person.

The executor emits docker's messages (``{"stream": ...}``, ``{"aux": ...}``,
``{"error": ...}``); the API passes them on unchanged, and the CLI renders them
here: ``plain`` prints the stream as docker's legacy builder does; ``tty`` is a
live view (rich) of the current step with the last lines of its output and a
list of finished steps with their times; ``quiet`` prints nothing (the CLI
prints the id at the end).
"""

from __future__ import annotations

import sys
import time
from collections import deque
from typing import Any, TextIO


class PlainProgress:
    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout

    def __call__(self, msg: dict[str, Any]) -> None:
        text = msg.get("stream")
        if text:
            self.out.write(text)
            self.out.flush()

    def close(self) -> None:
        pass


class QuietProgress:
    def __call__(self, msg: dict[str, Any]) -> None:
        pass

    def close(self) -> None:
        pass


class TtyProgress:
    """A rich live view: finished steps with durations, the running step, and the
    last lines of its output."""

    TAIL = 8

    def __init__(self, console=None) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = console or Console(stderr=False)
        self.done: list[tuple[str, float, bool]] = []
        self.current = ""
        self.started = time.monotonic()
        self.step_started = self.started
        self.tail: deque[str] = deque(maxlen=self.TAIL)
        self.cached = False
        self.live = Live(self._render(), console=self.console, refresh_per_second=8,
                         transient=False)
        self.live.start()

    def _render(self):
        from rich.console import Group
        from rich.text import Text

        lines = []
        for text, secs, cached in self.done:
            mark = "CACHED " if cached else ""
            lines.append(Text(f" ✔ {mark}{text}  {secs:.1f}s", style="green" if not cached
                              else "cyan"))
        if self.current:
            lines.append(Text(f" ▶ {self.current}  "
                              f"{time.monotonic() - self.step_started:.1f}s", style="bold"))
            lines += [Text("   " + t, style="dim") for t in self.tail]
        lines.append(Text(f"[+] Building {time.monotonic() - self.started:.1f}s"))
        return Group(*lines)

    def _finish_step(self) -> None:
        if self.current:
            self.done.append((self.current, time.monotonic() - self.step_started, self.cached))
        self.current = ""
        self.tail.clear()
        self.cached = False

    def __call__(self, msg: dict[str, Any]) -> None:
        text = msg.get("stream")
        if not text:
            return
        for line in text.splitlines():
            if line.startswith("Step "):
                self._finish_step()
                self.current = line
                self.step_started = time.monotonic()
            elif line.startswith(" ---> Using cache"):
                self.cached = True
            elif line.startswith((" ---> ", "Removing intermediate container")):
                continue
            elif line.startswith(("Successfully built", "Successfully tagged")):
                self._finish_step()
                self.done.append((line, 0.0, False))
            elif line.strip():
                self.tail.append(line)
        self.live.update(self._render())

    def close(self) -> None:
        self._finish_step()
        self.live.update(self._render())
        self.live.stop()


def make_progress(mode: str, quiet: bool = False):
    if quiet:
        return QuietProgress()
    if mode == "auto":
        mode = "tty" if sys.stdout.isatty() else "plain"
    if mode == "tty":
        return TtyProgress()
    return PlainProgress()


__all__ = ["PlainProgress", "QuietProgress", "TtyProgress", "make_progress"]
