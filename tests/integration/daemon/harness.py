"""``dockyardd`` as a subprocess for tests, and a tiny HTTP client over its socket.

Each daemon gets its own data root, exec root, pidfile, config file and socket
under the test's directory; ``stop`` (SIGTERM) and ``kill`` (SIGKILL) both wait
for the process, so no test leaves a daemon behind.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

START_TIMEOUT = 30.0


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 60.0) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def messages(self) -> list[dict[str, Any]]:
        """A streamed JSON-message body, one object per line."""
        return [json.loads(line) for line in self.body.splitlines() if line.strip()]


@dataclass
class Daemon:
    workdir: Path
    data_root: Path
    socket_path: Path
    process: subprocess.Popen | None = None
    log: Path = field(init=False)
    config_file: Path = field(init=False)
    pidfile: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.workdir / "dockyardd.log"
        self.config_file = self.workdir / "daemon.json"
        self.pidfile = self.workdir / "exec" / "dockyardd.pid"

    @property
    def host(self) -> str:
        return f"unix://{self.socket_path}"

    def argv(self, *extra: str) -> list[str]:
        return [sys.executable, "-m", "dockyard.daemon.main", "-H", self.host,
                "--data-root", str(self.data_root), "--exec-root", str(self.workdir / "exec"),
                "--config-file", str(self.config_file), "--pidfile", str(self.pidfile),
                *extra]

    def start(self, *extra: str) -> Daemon:
        assert self.process is None or self.process.poll() is not None
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(self.argv(*extra), stdout=out, stderr=out,
                                            stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dockyardd exited with {self.process.returncode}:\n"
                                   f"{self.log_tail()}")
            try:
                if self.request("GET", "/_ping").status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"dockyardd did not answer in {START_TIMEOUT}s:\n{self.log_tail()}")

    def stop(self) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            raise RuntimeError(f"dockyardd ignored SIGTERM:\n{self.log_tail()}") from None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except FileNotFoundError:
            return "(no log)"

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None, timeout: float = 120.0) -> Reply:
        conn = UnixHTTPConnection(str(self.socket_path), timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
        finally:
            conn.close()


def short_workdir(tmp_path_factory: Any, name: str = "d") -> Path:
    """A directory with a short path: a unix socket path must fit in 108 bytes."""
    path = tmp_path_factory.mktemp(name)
    assert len(str(path / "dockyard.sock")) < 100, path
    return path


@contextmanager
def running_daemon(workdir: Path, *extra: str, data_root: Path | None = None
                   ) -> Iterator[Daemon]:
    d = Daemon(workdir, data_root or workdir / "root", workdir / "dockyard.sock")
    d.start(*extra)
    try:
        yield d
    finally:
        try:
            d.stop()
        finally:
            d.kill()


def bootstrap_busybox(data_root: Path, tag: str = "busybox:latest") -> str:
    """A busybox image (from the host's static busybox) in ``data_root``; its id."""
    out = subprocess.run([sys.executable, "-m", "dockyard.cli.main", "image", "bootstrap",
                          "busybox", "--tag", tag], capture_output=True, text=True,
                         env={**os.environ, "DOCKYARD_ROOT": str(data_root)}, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f"bootstrap failed: {out.stderr}")
    return out.stdout.strip().splitlines()[-1]


__all__ = ["Daemon", "Reply", "UnixHTTPConnection", "bootstrap_busybox", "running_daemon",
           "short_workdir"]
