"""Progress events as Docker JSON messages and as terminal lines."""

from __future__ import annotations

import io

from dockyard.registry.progress import JsonMessages, ProgressEvent, TerminalProgress


def test_json_messages_have_dockers_shape_and_drain_in_order():
    msgs = JsonMessages()
    msgs(ProgressEvent("", "Pulling from library/busybox"))
    msgs(ProgressEvent("abc123", "Downloading", 10, 100))
    msgs(ProgressEvent("abc123", "Pull complete"))
    assert list(msgs) == [
        {"status": "Pulling from library/busybox", "progressDetail": {}},
        {"status": "Downloading", "id": "abc123",
         "progressDetail": {"current": 10, "total": 100}},
        {"status": "Pull complete", "id": "abc123", "progressDetail": {}},
    ]
    assert list(msgs) == []


def test_terminal_progress_without_a_tty_prints_status_changes_only():
    out = io.StringIO()
    with TerminalProgress(out) as bars:
        bars(ProgressEvent("abc", "Downloading", 1, 10))
        bars(ProgressEvent("abc", "Downloading", 5, 10))
        bars(ProgressEvent("abc", "Pull complete"))
        bars(ProgressEvent("", "Digest: sha256:x"))
    assert out.getvalue().splitlines() == ["abc: Downloading", "abc: Pull complete",
                                           "Digest: sha256:x"]


def test_terminal_progress_on_a_tty_draws_bars_that_finish_full():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True
    out = Tty()
    with TerminalProgress(out) as bars:
        bars(ProgressEvent("abc", "Downloading", 5, 10))
        bars(ProgressEvent("abc", "Pull complete"))
    text = out.getvalue()
    assert "abc: Pull complete" in text and "10/10 bytes" in text
