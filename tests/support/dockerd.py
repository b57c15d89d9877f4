"""A private dockerd for interop tests, started and stopped by the test session.

Each test session runs its own dockerd (its own data-root, exec-root, socket and
pidfile, and no bridge or iptables changes), so it never touches a dockerd the
user runs and several sessions can run side by side. ``dockyard`` is registered as
an extra runtime pointing at this tree's ``dockyard-runtime``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

DOCKER_CLI = "/usr/bin/docker"  # the 20.10 client; the v28 one on PATH needs buildx


@dataclass
class Dockerd:
    host: str
    data_root: Path
    exec_root: Path
    runtime_wrapper: Path
    process: subprocess.Popen
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    def cli(self, *args: str, check: bool = True, timeout: float = 120,
            input: str | bytes | None = None, text: bool = True) -> subprocess.CompletedProcess:
        """Run ``docker ARGS`` against this daemon (legacy builder, 20.10 client)."""
        result = subprocess.run([DOCKER_CLI, "-H", self.host, *args], env=self.env,
                                capture_output=True, text=text, timeout=timeout, input=input)
        if check and result.returncode != 0:
            raise AssertionError(
                f"docker {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}")
        return result

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def _write_runtime_wrapper(path: Path) -> Path:
    src = Path(__file__).resolve().parents[2] / "src"
    path.write_text(
        "#!/bin/sh\n"
        f"PYTHONPATH={src} exec {sys.executable} -m dockyard.runtime.cli \"$@\"\n")
    path.chmod(0o755)
    return path


def start_dockerd(workdir: Path, token: str, timeout: float = 60) -> Dockerd:
    dockerd = shutil.which("dockerd") or "/usr/sbin/dockerd"
    if not Path(dockerd).exists() or not Path(DOCKER_CLI).exists():
        raise RuntimeError("docker.io is not installed (dockerd, /usr/bin/docker): "
                           "run scripts/setup.sh, which installs it")
    data_root = workdir / "data"
    # Unix socket paths are short-limited (108 bytes): keep the exec-root in /run.
    exec_root = Path(f"/run/dyd-{token}")
    data_root.mkdir(parents=True, exist_ok=True)
    exec_root.mkdir(parents=True, exist_ok=True)
    sock = exec_root / "docker.sock"
    wrapper = _write_runtime_wrapper(workdir / "dockyard-runtime")
    log_path = workdir / "dockerd.log"
    cmd = [
        dockerd,
        "--data-root", str(data_root),
        "--exec-root", str(exec_root),
        "--pidfile", str(exec_root / "dockerd.pid"),
        "-H", f"unix://{sock}",
        "--bridge", "none",
        "--iptables=false",
        "--ip6tables=false",
        "--ip-masq=false",
        "--storage-driver", "overlay2",
        "--add-runtime", f"dockyard={wrapper}",
        "--containerd-namespace", f"dy{token}",
        "--containerd-plugins-namespace", f"dy{token}p",
    ]
    env = dict(os.environ)
    env.pop("DOCKER_HOST", None)
    env["DOCKER_BUILDKIT"] = "0"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, env=env)
    d = Dockerd(f"unix://{sock}", data_root, exec_root, wrapper, proc, log_path, env)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dockerd exited with {proc.returncode}:\n{d.log_tail()}")
        if sock.exists() and d.cli("version", check=False, timeout=10).returncode == 0:
            return d
        time.sleep(0.2)
    stop_dockerd(d)
    raise RuntimeError(f"dockerd did not answer within {timeout}s:\n{d.log_tail()}")


def stop_dockerd(d: Dockerd) -> None:
    """Remove every container, stop the daemon and its containerd, unmount, clean up."""
    if d.process.poll() is None:
        ids = d.cli("ps", "-aq", check=False, timeout=30).stdout.split()
        if ids:
            d.cli("rm", "-f", *ids, check=False, timeout=120)
        d.process.send_signal(signal.SIGTERM)
        try:
            d.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(d.process.pid, signal.SIGKILL)
            d.process.wait(timeout=10)
    # A managed containerd and shims live in the daemon's session: end any left.
    try:
        os.killpg(d.process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for root in (d.exec_root, d.data_root):
        _unmount_below(root)
    shutil.rmtree(d.exec_root, ignore_errors=True)
    shutil.rmtree(d.data_root, ignore_errors=True)


def _unmount_below(root: Path) -> None:
    prefix = str(root)
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ")
            if point == prefix or point.startswith(prefix + "/"):
                points.append(point)
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True)
