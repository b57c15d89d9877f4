"""The container's output and input in the shim: log lines, attached clients, stdin.

Output chunks are cut into messages for the log driver as dockerd's copier does:
one message per line (newline kept), a line longer than 16 KiB in 16 KiB pieces,
what is left at end of stream as a last message without newline. Attached clients
get the raw chunks (tty) or docker's multiplexed frames (no tty); a client that
stops reading is dropped once 8 MiB wait for it, so a stuck client never stalls
the container or its log. Input from clients goes to the container's stdin through
a buffer; while more than 1 MiB waits, clients are not read (back-pressure).
"""

from __future__ import annotations

import os
import time

from dockyard.logdriver.entry import STREAMS, frame

MAX_MESSAGE = 16 * 1024
CLIENT_BACKLOG = 8 << 20
STDIN_BACKLOG = 1 << 20


class Attach:
    """One attached client connection (a raw, non-blocking socket fd)."""

    __slots__ = ("fd", "out", "reading", "stderr", "stdin", "stdout")

    def __init__(self, fd: int, stdin: bool, stdout: bool, stderr: bool) -> None:
        self.fd = fd
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.out = bytearray()
        self.reading = True

    def wants(self, stream: str) -> bool:
        return self.stdout if stream == "stdout" else self.stderr

    def push(self, data: bytes) -> bool:
        """Queue and try to send; False when the client is gone or too far behind."""
        self.out += data
        return self.flush()

    def flush(self) -> bool:
        while self.out:
            try:
                n = os.write(self.fd, self.out)
            except BlockingIOError:
                return len(self.out) <= CLIENT_BACKLOG
            except OSError:
                return False
            del self.out[:n]
        return True

    def flush_blocking(self, timeout: float) -> None:
        import select

        deadline = time.monotonic() + timeout
        while self.out and self.flush():
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([], [self.fd], [], left)[1]:
                break
        self.out.clear()


class Output:
    """Fans a stream's chunks out to the log writer and the attached clients.

    The writer is opened on the first output: an idle container's shim never
    runs (so never copies the pages of) the log driver's code.
    """

    def __init__(self, writer, tty: bool, log: dict | None = None) -> None:
        self.writer = writer
        self.log = log
        self.tty = tty
        self.partial = {"stdout": b"", "stderr": b""}
        self.clients: list[Attach] = []
        self.dropped = 0        # bytes the log could not take
        self.log_error = ""

    def _writer(self):
        if self.writer is None:
            from dockyard.logdriver.writers import open_writer

            log = self.log() if callable(self.log) else self.log
            self.writer = open_writer(log["driver"], log["path"], log["max_size"],
                                      log["max_file"])
        return self.writer

    def close(self) -> None:
        if self.writer is not None:
            try:
                self.writer.close()
            except OSError:
                pass

    def data(self, stream: str, chunk: bytes) -> list[Attach]:
        """Handle a chunk; return the clients that must be dropped."""
        self._log(stream, chunk, time.time_ns())
        if not self.clients:
            return []
        payload = chunk if self.tty else frame(STREAMS[stream], chunk)
        return [c for c in self.clients if c.wants(stream) and not c.push(payload)]

    def _log(self, stream: str, chunk: bytes, t_ns: int) -> None:
        buf = self.partial[stream] + chunk if self.partial[stream] else chunk
        messages = []
        start, size = 0, len(buf)
        while start < size:
            end = buf.find(b"\n", start, start + MAX_MESSAGE)
            if end >= 0:
                messages.append(buf[start:end + 1])
                start = end + 1
            elif size - start >= MAX_MESSAGE:
                messages.append(buf[start:start + MAX_MESSAGE])
                start += MAX_MESSAGE
            else:
                break
        self.partial[stream] = buf[start:]
        if messages:
            self._write(stream, messages, t_ns)

    def _write(self, stream: str, messages: list[bytes], t_ns: int) -> None:
        """Hand messages to the log; a log that cannot be written (disk full, its
        directory gone) loses them, never the container's monitor: counted in
        ``dropped`` and retried with the next output."""
        try:
            writer = self._writer()
            if hasattr(writer, "write_many"):
                writer.write_many(stream, messages, t_ns)
            else:
                for m in messages:
                    writer.write(stream, m, t_ns)
        except (OSError, ValueError) as e:
            self.dropped += sum(len(m) for m in messages)
            self.log_error = str(e)

    def end(self, stream: str) -> None:
        """The stream is at EOF: log what is left of its last line."""
        rest = self.partial[stream]
        if rest:
            self._write(stream, [rest], time.time_ns())
            self.partial[stream] = b""


class Stdin:
    """The write end of the container's stdin pipe (or the pty master), buffered."""

    def __init__(self, fd: int, tty: bool) -> None:
        self.fd = fd
        self.tty = tty
        self.pending = bytearray()
        self.close_when_drained = False

    @property
    def open(self) -> bool:
        return self.fd >= 0

    def feed(self, data: bytes) -> None:
        if self.fd >= 0 and not self.close_when_drained:
            self.pending += data
            self.drain()

    def drain(self) -> None:
        while self.pending and self.fd >= 0:
            try:
                n = os.write(self.fd, self.pending)
            except BlockingIOError:
                return
            except OSError:  # the container closed its stdin
                self.pending.clear()
                self._close()
                return
            del self.pending[:n]
        if self.close_when_drained and not self.pending:
            self._close()

    def close(self) -> None:
        """Close stdin once what is queued is written (tty: send EOF, ^D)."""
        if self.fd < 0:
            return
        if self.tty:
            self.pending += b"\x04"
            self.drain()
            return
        self.close_when_drained = True
        self.drain()

    def _close(self) -> None:
        # A tty's master is also the output: the output side closes it.
        if self.fd >= 0 and not self.tty:
            os.close(self.fd)
        self.fd = -1

    @property
    def backlogged(self) -> bool:
        return len(self.pending) > STDIN_BACKLOG
