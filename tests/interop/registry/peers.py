"""Start and stop the registries the interop tests and bench talk to, all on
127.0.0.1: ``dockyard registry serve`` and distribution's ``docker-registry``.

Both are context managers that kill what they started on every path.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[3] / "src"
DISTRIBUTION = "/usr/bin/docker-registry"


@dataclass
class Registry:
    host: str                # 127.0.0.1:PORT
    process: subprocess.Popen
    storage: Path
    log: Path

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def dockyard_cmd(*args: str) -> list[str]:
    """The real ``dockyard`` entry point (``dockyard.cli.main``) from this tree."""
    return [sys.executable, "-m", "dockyard.cli.main", *args]


def dockyard_env(root: Path, docker_config: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")])
    env["DOCKYARD_ROOT"] = str(root)
    env["DOCKYARD_DAEMON_CONFIG"] = str(root / "no-daemon.json")
    env["DOCKER_CONFIG"] = str(docker_config or root / "docker-config")
    return env


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"registry exited ({proc.returncode}):\n{log.read_text()}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return          # 401 is an answer too
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"registry at {url} did not answer:\n{log.read_text()}")


@contextmanager
def dockyard_registry(workdir: Path, *extra: str) -> Iterator[Registry]:
    """``dockyard registry serve`` on a free loopback port."""
    storage = workdir / "dockyard-registry"
    log = workdir / "dockyard-registry.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            dockyard_cmd("registry", "serve", "--listen", "127.0.0.1:0", "--storage",
                          str(storage), *extra),
            stdout=subprocess.PIPE, stderr=out, env=dockyard_env(workdir))
    try:
        line = proc.stdout.readline().decode()
        if "listening on" not in line:
            proc.wait(timeout=10)
            raise RuntimeError(f"dockyard registry did not start: {line}\n{log.read_text()}")
        host = line.rsplit(" ", 1)[1].strip()
        yield Registry(host, proc, storage, log)
    finally:
        _stop(proc)
        if proc.stdout:
            proc.stdout.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def distribution_registry(workdir: Path, htpasswd: Path | None = None) -> Iterator[Registry]:
    """Debian's docker-registry (distribution 2.8) with a config written here."""
    if not Path(DISTRIBUTION).exists():
        raise RuntimeError("docker-registry is not installed: apt-get install docker-registry")
    storage = workdir / "distribution"
    storage.mkdir(parents=True, exist_ok=True)
    port = free_port()
    auth = ""
    if htpasswd:
        auth = f"auth:\n  htpasswd:\n    realm: dytest\n    path: {htpasswd}\n"
    config = workdir / "distribution.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
        + auth)
    log = workdir / "distribution.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([DISTRIBUTION, "serve", str(config)], stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_http(f"http://127.0.0.1:{port}/v2/", proc, log)
        yield Registry(f"127.0.0.1:{port}", proc, storage, log)
    finally:
        _stop(proc)


def make_htpasswd(path: Path, user: str, password: str) -> Path:
    tool = shutil.which("htpasswd")
    if tool is None:
        raise RuntimeError("htpasswd is not installed: apt-get install apache2-utils")
    out = subprocess.run([tool, "-Bbn", user, password], capture_output=True, text=True,
                         check=True)
    path.write_text(out.stdout)
    return path


def run(cmd: list[str], env: dict[str, str] | None = None, input: str | None = None,
        timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, env=env, input=input, capture_output=True, text=True,
                       timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({r.returncode}):\n"
                             f"{r.stdout}\n{r.stderr}")
    return r


__all__ = ["Registry", "distribution_registry", "dockyard_cmd", "dockyard_env",
           "dockyard_registry", "make_htpasswd", "run"]
