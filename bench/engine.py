"""The engine against docker, side by side in one run (issue 5's bench).

1. ``run --rm busybox true`` through each engine's own CLI (``dockyard`` vs
   ``/usr/bin/docker``), default network and ``--network none``; whole-process wall
   time, alternating engines (ABBA) so both see the same machine.
2. ``ps`` with 50 running containers (``sleep 100000``) in each engine.
3. Host memory per idle container with those 50 running: PSS (smaps_rollup) of the
   per-container processes (docker: containerd-shim-runc-v2; dockyard: dockyard-shim)
   plus the growth of the daemons (dockerd + containerd; dockyardd + its zygote)
   between "no containers" and "50 running". The containers' own ``sleep`` is
   reported separately (it is the same static busybox on both).

Both engines run privately: a dockerd and a dockyardd of this run, each with its own
data root, exec root and socket, started here and stopped at the end with everything
they made. docker gets its default bridge (as a user's docker has), so this run
creates docker0-like state for the private dockerd; dockyard its own bridge.

    /opt/dockyard/venv/bin/python bench/engine.py [-n 20] [--density 50]

Run as root. Prints a Markdown block for bench/RESULTS.md. Never asserts timings.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOCKER_CLI = "/usr/bin/docker"


@dataclass
class Engine:
    name: str
    cli: list[str]
    env: dict[str, str]
    image: str
    daemon_pids: list[int] = field(default_factory=list)
    samples: dict[str, list[float]] = field(default_factory=dict)

    def run(self, *args: str, check: bool = True, timeout: float = 120
            ) -> subprocess.CompletedProcess:
        out = subprocess.run([*self.cli, *args], env=self.env, capture_output=True,
                             text=True, timeout=timeout)
        if check and out.returncode != 0:
            raise RuntimeError(f"{self.name} {' '.join(args)}: {out.returncode}\n"
                               f"{out.stdout}\n{out.stderr}")
        return out

    def timed(self, phase: str, *args: str) -> float:
        t0 = time.perf_counter()
        self.run(*args)
        dt = time.perf_counter() - t0
        self.samples.setdefault(phase, []).append(dt)
        return dt


def pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def pids_named(prefixes: tuple[str, ...]) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        text = b" ".join(argv).decode(errors="replace")
        if any(p in text for p in prefixes):
            found.append(int(entry))
    return found


def descendants(root: int) -> list[int]:
    """Every process below ``root`` (by ppid), root excluded."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


# --- the two engines -------------------------------------------------------------------

def start_docker(work: Path, rootfs_tar: Path) -> tuple[Engine, subprocess.Popen]:
    sock = work / "docker.sock"
    exec_root = Path(tempfile.mkdtemp(prefix="dyb-", dir="/run"))
    env = {**os.environ, "DOCKER_HOST": f"unix://{sock}", "DOCKER_BUILDKIT": "0"}
    # dockerd's own bridge for this run (-b wants it made already; not docker0)
    subprocess.run(["ip", "link", "add", "dybench0", "type", "bridge"], check=True)
    subprocess.run(["ip", "addr", "add", "10.199.0.1/24", "dev", "dybench0"], check=True)
    subprocess.run(["ip", "link", "set", "dybench0", "up"], check=True)
    with open(work / "dockerd.log", "wb") as log:
        proc = subprocess.Popen(
            ["dockerd", "--data-root", str(work / "docker"), "--exec-root", str(exec_root),
             "--pidfile", str(exec_root / "dockerd.pid"), "-H", f"unix://{sock}",
             "--bridge", "dybench0", "--storage-driver",
             "overlay2", "--containerd-namespace", "dybench",
             "--containerd-plugins-namespace", "dybenchp"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    proc.exec_root = exec_root   # type: ignore[attr-defined]
    proc.data_root = work / "docker"   # type: ignore[attr-defined]
    engine = Engine("docker", [DOCKER_CLI], env, "busybox:bench")
    _wait_until(lambda: engine.run("version", check=False, timeout=10).returncode == 0,
                "dockerd", work / "dockerd.log")
    engine.run("import", "--change", 'CMD ["sh"]', str(rootfs_tar), "busybox:bench")
    engine.daemon_pids = [proc.pid, *descendants(proc.pid)]
    return engine, proc


def start_dockyard(work: Path) -> tuple[Engine, subprocess.Popen]:
    sock = work / "dockyard.sock"
    data_root = work / "dockyard"
    exec_root = Path(tempfile.mkdtemp(prefix="dyk-", dir="/run"))
    env = {**os.environ, "DOCKYARD_HOST": f"unix://{sock}", "DOCKYARD_ROOT": str(data_root)}
    subprocess.run([sys.executable, "-m", "dockyard.cli.main", "image", "bootstrap",
                    "busybox", "--tag", "busybox:bench"], env=env, check=True,
                   capture_output=True)
    with open(work / "dockyardd.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dockyard.daemon.main", "-H", f"unix://{sock}",
             "--data-root", str(data_root), "--exec-root", str(exec_root),
             "--config-file", str(work / "daemon.json")],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    proc.exec_root = exec_root   # type: ignore[attr-defined]
    proc.data_root = data_root   # type: ignore[attr-defined]
    engine = Engine("dockyard", [shutil.which("dockyard") or "dockyard"], env,
                    "busybox:bench")
    _wait_until(lambda: engine.run("version", check=False, timeout=10).returncode == 0,
                "dockyardd", work / "dockyardd.log")
    engine.daemon_pids = [proc.pid, *descendants(proc.pid)]
    return engine, proc


def stop(engine: Engine, proc: subprocess.Popen) -> None:
    ids = engine.run("ps", "-aq", check=False, timeout=60).stdout.split()
    if ids:
        engine.run("rm", "-f", *ids, check=False, timeout=600)
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    exec_root = proc.exec_root   # type: ignore[attr-defined]
    data_root = proc.data_root   # type: ignore[attr-defined]
    # dockerd's overlay2 bind-mounts its data root on itself; both roots hold mounts
    for root in (exec_root, data_root):
        _unmount_below(root)
    shutil.rmtree(exec_root, ignore_errors=True)


def _unmount_below(root: Path) -> None:
    prefix = str(root)
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    for point in sorted((p for p in points if p == prefix or p.startswith(prefix + "/")),
                        key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True)


def _wait_until(ready, what: str, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer in {timeout}s:\n{log.read_text()[-2000:]}")


# --- the measurements ------------------------------------------------------------------

def bench_run(engines: list[Engine], n: int) -> None:
    for e in engines:                                  # warm-up: caches, first cgroup
        for net in ("default", "none"):
            e.run("run", "--rm", "--network", net if net != "default" else "bridge",
                  e.image, "true")
    for i in range(n):
        order = engines if i % 2 == 0 else list(reversed(engines))
        for e in order:
            e.timed("run --rm (bridge)", "run", "--rm", e.image, "true")
            e.timed("run --rm (none)", "run", "--rm", "--network", "none", e.image, "true")


def bench_density(engines: list[Engine], count: int, runs: int = 5) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for e in engines:
        before = sum(pss_kib(p) for p in e.daemon_pids)
        label = f"dybench-{e.name}"
        ids = [e.run("run", "-d", "--label", label, e.image, "sleep", "100000")
               .stdout.strip() for _ in range(count)]
        time.sleep(3)                                  # let start-up garbage settle
        for _ in range(runs):
            e.timed(f"ps ({count} running)", "ps")
        shim_markers = (("containerd-shim",) if e.name == "docker"
                        else ("dockyard-shim",))
        shims = [p for p in pids_named(shim_markers) if p not in e.daemon_pids]
        shim_pss = sum(pss_kib(p) for p in shims)
        after = sum(pss_kib(p) for p in e.daemon_pids)
        sleeps = [p for p in pids_named(("sleep 100000",))]
        out[e.name] = {
            "shims": len(shims),
            "shim_pss_kib": shim_pss / max(len(shims), 1),
            "daemon_growth_kib": (after - before) / count,
            "per_container_kib": (shim_pss + after - before) / count,
            "sleep_pss_kib": sum(pss_kib(p) for p in sleeps) / max(len(sleeps), 1),
        }
        e.run("rm", "-f", *ids, timeout=600)
    return out


def report(engines: list[Engine], density: dict[str, dict], count: int) -> str:
    docker, dockyard = engines
    lines = [f"### engine bench, {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
             "", "| what | docker | dockyard | dockyard/docker |", "|---|---|---|---|"]
    for phase in docker.samples:
        d = statistics.median(docker.samples[phase])
        y = statistics.median(dockyard.samples.get(phase, [float("nan")]))
        lines.append(f"| {phase} | {d * 1000:.1f} ms | {y * 1000:.1f} ms | {y / d:.2f}x |")
    if density:
        dd, yd = density["docker"], density["dockyard"]
        lines.append(f"| PSS per idle container, {count} running (shim + daemon growth) | "
                     f"{dd['per_container_kib'] / 1024:.2f} MiB | "
                     f"{yd['per_container_kib'] / 1024:.2f} MiB | "
                     f"{yd['per_container_kib'] / dd['per_container_kib']:.2f}x |")
        for name, d in density.items():
            lines.append(f"| {name}: {d['shims']} shims, {d['shim_pss_kib']:.0f} KiB each; "
                         f"daemons +{d['daemon_growth_kib']:.0f} KiB/ctr; container's own "
                         f"sleep {d['sleep_pss_kib']:.0f} KiB | | | |")
    lines.append("")
    lines.append("medians of whole-process wall time; engines alternated (ABBA).")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=20, help="rounds of run --rm per engine")
    ap.add_argument("--density", type=int, default=50, help="containers for ps and PSS")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("run as root", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="dockyard-bench-engine-"))
    started: list[tuple[Engine, subprocess.Popen]] = []
    try:
        sys.path.insert(0, str(REPO))
        from tests.support.busybox import find_static_busybox, make_rootfs

        busybox = find_static_busybox()
        if busybox is None:
            print("no static busybox (apt install busybox-static)", file=sys.stderr)
            return 2
        rootfs = make_rootfs(work / "busybox", busybox)
        tar_path = work / "busybox.tar"
        with tarfile.open(tar_path, "w") as tar:
            tar.add(rootfs, arcname=".")
        started.append(start_docker(work, tar_path))
        started.append(start_dockyard(work))
        engines = [e for e, _ in started]
        bench_run(engines, args.n)
        density = bench_density(engines, args.density)
        print(report(engines, density, args.density))
    finally:
        for engine, proc in reversed(started):
            stop(engine, proc)
        subprocess.run(["ip", "link", "del", "dybench0"], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
