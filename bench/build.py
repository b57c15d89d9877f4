"""Build time: dockyard vs docker's legacy builder (and BuildKit), in one run.

The workload is the peers' (``/work/shared/bench/peers/04-build.sh``): a context
of 1000 small files and one 50 MB random file, a 10-instruction Dockerfile on a
busybox base (the host's static busybox, imported into a private dockerd; dockyard
loads docker's ``save`` of it, so both start from the same image). Measured, each
``--runs`` times, alternating the tools:

* cold             -- ``build --no-cache``;
* fully cached     -- the same build again;
* late file edited -- the content of a small file COPY'd at step 8 changed.

Tools: ``dockyard build`` (the CLI, building in its own process on its data
root), ``docker build`` with ``DOCKER_BUILDKIT=0`` against the private dockerd,
the same docker CLI against ``dockyardd`` (the legacy protocol, ``POST /build``),
and BuildKit (``DOCKER_BUILDKIT=1``) when the private dockerd offers it.

Printed: medians and min-max per tool and case, then dockyard's time as a
fraction of docker legacy's (target: cold <= 1.0, cached <= 0.5).

    /opt/dockyard/venv/bin/python bench/build.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"),
                                            os.environ.get("PYTHONPATH", "")]).rstrip(":")

DOCKERFILE = """FROM busybox:bench
ENV APP_HOME=/app MODE=bench
WORKDIR /app
COPY files/ /app/files/
COPY big.bin /app/big.bin
RUN mkdir -p /app/out && for i in $(seq 1 200); do echo "line $i" > /app/out/f$i; done
RUN sha256sum /app/big.bin > /app/big.sha && ls /app/files | wc -l > /app/count
COPY late/ /app/late/
RUN cat /app/late/small.txt > /app/out/late.copy && chown -R nobody /app/out
USER nobody
CMD ["sh", "-c", "cat /app/count"]
"""


def make_context(ctx: Path) -> None:
    (ctx / "files").mkdir(parents=True)
    (ctx / "late").mkdir()
    for i in range(1, 1001):
        (ctx / "files" / f"f{i:04d}.txt").write_bytes(os.urandom(100 + i).hex().encode())
    (ctx / "big.bin").write_bytes(os.urandom(50 << 20))
    (ctx / "late" / "small.txt").write_text("late 0\n")
    (ctx / "Dockerfile").write_text(DOCKERFILE)


def timed(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, timeout=600)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:6])}... failed: {r.stdout[-800:]!r} "
                           f"{r.stderr[-800:]!r}")
    return dt


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/build.py needs root (dockerd, mounts)", file=sys.stderr)
        return 2
    from tests.integration.build.daemon import build_daemon
    from tests.support.busybox import find_static_busybox, make_rootfs
    from tests.support.dockerd import DOCKER_CLI, start_dockerd, stop_dockerd

    token = f"bb{os.getpid():x}"
    os.environ["DOCKYARD_TEST_TOKEN"] = token
    work = Path(tempfile.mkdtemp(prefix="bench-build-"))
    dockerd = None
    try:
        ctx = work / "ctx"
        make_context(ctx)
        dockerd = start_dockerd(work / "dockerd", token)
        rootfs = make_rootfs(work / "bb-rootfs", find_static_busybox())
        with tarfile.open(work / "bb.tar", "w") as tar:
            tar.add(rootfs, arcname=".")
        dockerd.cli("import", "--change", 'CMD ["sh"]', str(work / "bb.tar"), "busybox:bench")
        dockerd.cli("save", "-o", str(work / "bb-save.tar"), "busybox:bench")
        data = work / "dy-data"
        from dockyard.image.service import ImageService
        svc = ImageService(data)
        svc.load(str(work / "bb-save.tar"))
        svc.close()
        dy_env = {**os.environ, "DOCKYARD_EXEC_ROOT": str(work / "dy-exec")}
        dy = [sys.executable, "-m", "dockyard.cli.main", "--data-root", str(data), "build",
              "-q", "-t", "bench:dy", str(ctx)]
        dk_env = {**dockerd.env, "DOCKER_BUILDKIT": "0"}
        dk = [DOCKER_CLI, "-H", dockerd.host, "build", "-q", "-t", "bench:legacy", str(ctx)]
        bk_env = {**dockerd.env, "DOCKER_BUILDKIT": "1"}
        # the private dockerd has no bridge: BuildKit's RUN needs --network host (as
        # dockyard's RUN shares the host's network namespace by default)
        bk = [DOCKER_CLI, "-H", dockerd.host, "build", "-q", "--network", "host", "-t",
              "bench:bk", str(ctx)]
        tools: dict[str, tuple[list[str], dict[str, str]]] = {
            "dockyard build": (dy, dy_env), "docker legacy": (dk, dk_env)}
        try:
            timed([*bk, "--no-cache"], bk_env)
            tools["docker buildkit"] = (bk, bk_env)
        except RuntimeError as e:
            print(f"BuildKit not measured: {str(e)[-600:]}", file=sys.stderr)
        daemon_work = Path(tempfile.mkdtemp(prefix="bd-", dir="/tmp"))
        (daemon_work / "root").mkdir()
        shutil.copytree(data, daemon_work / "root", dirs_exist_ok=True)
        with build_daemon(daemon_work) as d:
            tools["docker CLI -> dockyardd"] = (
                [DOCKER_CLI, "-H", d.host, "build", "-q", "-t", "bench:dyd", str(ctx)],
                dk_env)
            results: dict[tuple[str, str], list[float]] = {}
            for cmd, env in tools.values():   # warm every path once
                timed(cmd, env)
            for _ in range(args.runs):
                for name, (cmd, env) in tools.items():
                    results.setdefault((name, "cold"), []).append(
                        timed([*cmd, "--no-cache"], env))
                for name, (cmd, env) in tools.items():
                    timed(cmd, env)   # after a --no-cache run: make the cache current
                    results.setdefault((name, "fully cached"), []).append(timed(cmd, env))
                for name, (cmd, env) in tools.items():
                    (ctx / "late" / "small.txt").write_text(f"late {time.time_ns()}\n")
                    results.setdefault((name, "late file edited"), []).append(
                        timed(cmd, env))
        shutil.rmtree(daemon_work, ignore_errors=True)
        print(f"{'tool':26} {'case':18} {'median':>8} {'min-max':>15}  (n={args.runs})")
        for (name, case), xs in results.items():
            print(f"{name:26} {case:18} {statistics.median(xs):8.3f} "
                  f"{min(xs):7.3f}-{max(xs):.3f}")
        print()
        for case in ("cold", "fully cached", "late file edited"):
            base = statistics.median(results[("docker legacy", case)])
            for name in tools:
                if name == "docker legacy":
                    continue
                ratio = statistics.median(results[(name, case)]) / base
                print(f"{case:18} {name:26} / docker legacy = {ratio:.2f}x")
        return 0
    finally:
        if dockerd is not None:
            for tag in ("bench:legacy", "bench:bk", "busybox:bench"):
                dockerd.cli("rmi", "-f", tag, check=False)
            dockerd.cli("builder", "prune", "-af", check=False)
            stop_dockerd(dockerd)
        subprocess.run(["umount", "-R", str(work)], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
