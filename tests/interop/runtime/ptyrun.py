"""Drive an interactive command through a pseudo-terminal, like a person at a shell.

``docker run -it`` refuses to start unless its stdin is a terminal, so the test gives
it the slave side of a fresh pty and talks to it through the master: send a line,
wait until some text shows up, collect the exit status. No pexpect needed.
"""

from __future__ import annotations

import os
import select
import subprocess
import time
from dataclasses import dataclass, field


@dataclass
class PtySession:
    """A child process whose stdin/stdout/stderr are one pty's slave side."""

    proc: subprocess.Popen
    master: int
    transcript: bytearray = field(default_factory=bytearray)

    @classmethod
    def spawn(cls, argv: list[str], env: dict[str, str] | None = None,
              rows: int = 24, cols: int = 80) -> PtySession:
        import fcntl
        import struct
        import termios

        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        try:
            proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                                    start_new_session=True, close_fds=True)
        finally:
            os.close(slave)
        return cls(proc, master)

    def send(self, text: str) -> None:
        os.write(self.master, text.encode())

    def _read_some(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return False
        try:
            chunk = os.read(self.master, 4096)
        except OSError:  # EIO: every slave fd is closed, the child is gone
            return False
        if not chunk:
            return False
        self.transcript += chunk
        return True

    def expect(self, text: str, timeout: float = 30) -> str:
        """Wait until ``text`` has appeared in the output; return the output so far."""
        deadline = time.monotonic() + timeout
        while text.encode() not in self.transcript:
            left = deadline - time.monotonic()
            if left <= 0 or (not self._read_some(min(left, 0.5)) and
                             self.proc.poll() is not None and not self._read_some(0.1)):
                raise AssertionError(
                    f"{text!r} did not appear on the terminal; got {self.output()!r}")
        return self.output()

    def wait(self, timeout: float = 30) -> int:
        """Drain the output until the child exits; return its exit status."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read_some(0.2)
        while self._read_some(0.1):
            pass
        if self.proc.poll() is None:
            self.close()
            raise AssertionError(f"terminal session did not end; got {self.output()!r}")
        return self.proc.returncode

    def output(self) -> str:
        return self.transcript.decode(errors="replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        try:
            os.close(self.master)
        except OSError:
            pass
