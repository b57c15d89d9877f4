"""The user's terminal during ``run -it``/``attach``/``exec -it``.

- :class:`RawTerminal` puts a terminal in raw mode and restores it on every path
  (normal exit, exceptions, SIGTERM/SIGHUP, which it turns into SystemExit).
- :class:`SignalPipe` turns signals (SIGWINCH, and the ones ``run`` proxies) into
  bytes on a pipe the stream loop selects on, so no HTTP request ever runs inside
  a signal handler.
- :class:`DetachScanner` watches stdin for the detach sequence (default ctrl-p
  ctrl-q), holding back a partial match until it is decided.
"""

from __future__ import annotations

import _signal
import os

DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"


def parse_detach_keys(text: str) -> bytes:
    """docker's ``--detach-keys``: ``ctrl-<c>`` or a single character, comma separated."""
    out = bytearray()
    for key in text.split(","):
        key = key.strip()
        low = key.lower()
        if low.startswith("ctrl-") and len(key) == 6:
            ch = low[5]
            if "a" <= ch <= "z":
                out.append(ord(ch) - ord("a") + 1)
            elif ch in "@[\\]^_":
                out.append({"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}[ch])
            else:
                raise ValueError(f"Unknown character: '{key}'")
        elif len(key) == 1:
            out.append(ord(key))
        else:
            raise ValueError(f"Unknown character: '{key}'")
    if not out:
        raise ValueError("empty detach key sequence")
    return bytes(out)


class DetachScanner:
    """Feed stdin bytes; get back what to send and whether the user detached."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self.held = b""

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        out = bytearray()
        for b in data:
            self.held += bytes((b,))
            if self.keys.startswith(self.held):
                if len(self.held) == len(self.keys):
                    self.held = b""
                    return bytes(out), True
                continue
            out += self.held
            self.held = b""
        return bytes(out), False


def terminal_size(fd: int) -> tuple[int, int] | None:
    """(rows, columns) of a terminal fd, None when it is not one."""
    try:
        size = os.get_terminal_size(fd)
    except OSError:
        return None
    return size.lines, size.columns


class SignalPipe:
    """Signals delivered as bytes on ``self.fd`` (the signal numbers, one byte each)."""

    def __init__(self, signals: list[int]) -> None:
        self.r, self.w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.fd = self.r
        self._old: dict[int, object] = {}
        self._old_wakeup = _signal.set_wakeup_fd(self.w, warn_on_full_buffer=False)
        for sig in signals:
            try:
                self._old[sig] = _signal.signal(sig, _noop)
            except (OSError, ValueError):
                pass

    def read(self) -> list[int]:
        try:
            return list(os.read(self.r, 512))
        except BlockingIOError:
            return []

    def close(self) -> None:
        _signal.set_wakeup_fd(self._old_wakeup)
        for sig, old in self._old.items():
            try:
                _signal.signal(sig, old)
            except (OSError, ValueError, TypeError):
                pass
        os.close(self.r)
        os.close(self.w)


def _noop(signum, frame) -> None:
    """The wakeup fd carries the signal; the handler itself does nothing."""


class RawTerminal:
    """Raw mode on ``fd`` for the ``with`` block (a no-op when fd is not a terminal)."""

    def __init__(self, fd: int = 0) -> None:
        self.fd = fd
        self.saved: list | None = None
        self._old: dict[int, object] = {}

    def __enter__(self) -> RawTerminal:
        if not os.isatty(self.fd):
            return self
        import termios

        self.saved = termios.tcgetattr(self.fd)
        mode = termios.tcgetattr(self.fd)
        # cfmakeraw: no input processing, no echo, no signals from keys, 8-bit chars.
        mode[0] &= ~(termios.IGNBRK | termios.BRKINT | termios.PARMRK | termios.ISTRIP
                     | termios.INLCR | termios.IGNCR | termios.ICRNL | termios.IXON)
        mode[1] &= ~termios.OPOST
        mode[3] &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG
                     | termios.IEXTEN)
        mode[2] &= ~(termios.CSIZE | termios.PARENB)
        mode[2] |= termios.CS8
        mode[6][termios.VMIN] = 1
        mode[6][termios.VTIME] = 0
        for sig in (_signal.SIGTERM, _signal.SIGHUP):
            try:
                self._old[sig] = _signal.signal(sig, _exit_on_signal)
            except (OSError, ValueError):
                pass
        termios.tcsetattr(self.fd, termios.TCSADRAIN, mode)
        return self

    def restore(self) -> None:
        if self.saved is not None:
            import termios

            try:
                termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)
            except OSError:
                pass
            self.saved = None
        for sig, old in self._old.items():
            try:
                _signal.signal(sig, old)
            except (OSError, ValueError, TypeError):
                pass
        self._old = {}

    def __exit__(self, *exc: object) -> None:
        self.restore()


def _exit_on_signal(signum, frame) -> None:
    raise SystemExit(128 + signum)


__all__ = ["DEFAULT_DETACH_KEYS", "DetachScanner", "RawTerminal", "SignalPipe",
           "parse_detach_keys", "terminal_size"]
