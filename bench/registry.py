"""Registry transfer benchmark: dockyard vs docker (clients) and dockyard's server
vs distribution's (skopeo as the common client), in one run.

The image: busybox plus 4 layers of 50 MiB of random (incompressible) data, as in
/work/shared/bench/peers/05-registry.sh; MB = 10^6 bytes of uncompressed layer
data, so figures compare with that script's. Everything stays on 127.0.0.1.

Rows (median of --rounds, operations alternated inside each round):
  push/pull, dockyard CLI vs docker CLI, both to one distribution registry
      (emptied before every push; docker pull after ``docker rmi``, dockyard pull
      into an empty data root; both pulls unpack the layers);
  push/pull, skopeo to dockyard's server vs to distribution's (fresh storage each time);
  push/pull, dockyard CLI to dockyard's server (for reference).

Run as root: /opt/dockyard/venv/bin/python bench/registry.py [--rounds N]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tests.interop.registry.peers import (  # noqa: E402
    distribution_registry,
    dockyard_cmd,
    dockyard_env,
    dockyard_registry,
)
from tests.support.dockerd import DOCKER_CLI, start_dockerd, stop_dockerd  # noqa: E402
from tests.unit.registry.images import (  # noqa: E402
    busybox_tar,
    make_image,
    seed_store,
    sha,
    tar_of,
    write_oci_layout,
)

from dockyard.image.store import ImageStore  # noqa: E402

MiB = 1 << 20


def sh(cmd: list[str], env: dict[str, str] | None = None) -> None:
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stdout}\n{r.stderr}")


def timed(fn: Callable[[], None]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def docker_archive(img, tars: list[bytes], path: Path, tag: str) -> None:
    """A docker-archive (``docker load``) with uncompressed layers."""
    with tarfile.open(path, "w") as out:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
        cfg = sha(img.config).split(":")[1] + ".json"
        add(cfg, img.config)
        layers = []
        for t in tars:
            name = sha(t).split(":")[1] + "/layer.tar"
            add(name, t)
            layers.append(name)
        add("manifest.json", json.dumps([{"Config": cfg, "RepoTags": [tag],
                                          "Layers": layers}]).encode())


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root (dockerd)")
    work = Path(tempfile.mkdtemp(prefix="dy-bench-registry-"))
    results: dict[str, list[float]] = {}

    def record(name: str, seconds: float) -> None:
        results.setdefault(name, []).append(seconds)
        print(f"  {name}: {seconds:.2f}s", flush=True)

    with ExitStack() as stack:
        stack.callback(shutil.rmtree, work, True)
        print("building the image ...", flush=True)
        tars = [busybox_tar()] + [tar_of({f"data/l{i}.bin": os.urandom(50 * MiB)})
                                  for i in range(4)]
        img = make_image(tars)
        data_bytes = sum(len(t) for t in tars[1:])
        layout = write_oci_layout(img, work / "layout", "v1")
        archive = work / "image.tar"
        docker_archive(img, tars, archive, "bench/big:src")

        print("starting dockerd ...", flush=True)
        dockerd = start_dockerd(work / "dockerd", f"bench{os.getpid():x}")
        stack.callback(stop_dockerd, dockerd)

        def docker(*a: str) -> None:
            sh([DOCKER_CLI, "-H", dockerd.host, *a], env=dockerd.env)
        docker("load", "-i", str(archive))
        seed_root = work / "dy-seed"
        dist = stack.enter_context(distribution_registry(work / "dist-shared"))
        dimg = f"{dist.host}/bench/docker:v1"
        yimg = f"{dist.host}/bench/dockyard:v1"
        docker("tag", "bench/big:src", dimg)
        store = ImageStore(seed_root)
        seed_store(store, img, yimg)
        store.close()

        def wipe_dist() -> None:
            shutil.rmtree(dist.storage / "docker", ignore_errors=True)

        def push_docker(rnd: int) -> None:
            wipe_dist()
            record("push docker -> distribution", timed(lambda: docker("push", dimg)))

        def push_dockyard(rnd: int) -> None:
            wipe_dist()
            record("push dockyard -> distribution", timed(lambda: sh(
                dockyard_cmd("push", "-q", yimg), env=dockyard_env(seed_root))))

        def pull_docker(rnd: int) -> None:
            docker("rmi", dimg, "bench/big:src")
            record("pull docker <- distribution", timed(lambda: docker("pull", dimg)))
            docker("tag", dimg, "bench/big:src")

        def pull_dockyard(rnd: int) -> None:
            fresh = work / f"dy-pull-{rnd}"
            record("pull dockyard <- distribution", timed(lambda: sh(
                dockyard_cmd("pull", "-q", yimg), env=dockyard_env(fresh))))
            shutil.rmtree(fresh, ignore_errors=True)

        def skopeo_against(label: str, start) -> Callable[[int], None]:
            def run_it(rnd: int) -> None:
                d = work / f"skopeo-{label.split()[0]}-{rnd}"
                d.mkdir()
                with start(d) as reg:
                    dest = f"docker://{reg.host}/bench/skopeo:v1"
                    record(f"skopeo push -> {label}", timed(lambda: sh(
                        ["skopeo", "copy", "--dest-tls-verify=false", f"oci:{layout}:v1",
                         dest])))
                    out = d / "oci-out"
                    record(f"skopeo pull <- {label}", timed(lambda: sh(
                        ["skopeo", "copy", "--src-tls-verify=false", dest,
                         f"oci:{out}:v1"])))
                    if label == "dockyard server":
                        name = f"{reg.host}/bench/dy:v1"
                        s = ImageStore(d / "dy-src")
                        seed_store(s, img, name)
                        s.close()
                        record("push dockyard -> dockyard server", timed(lambda: sh(
                            dockyard_cmd("push", "-q", name), env=dockyard_env(d / "dy-src"))))
                        record("pull dockyard <- dockyard server", timed(lambda: sh(
                            dockyard_cmd("pull", "-q", name), env=dockyard_env(d / "dy-dst"))))
                shutil.rmtree(d, ignore_errors=True)
            return run_it

        pairs = [
            (push_docker, push_dockyard),
            (skopeo_against("dockyard server", dockyard_registry),
             skopeo_against("distribution", distribution_registry)),
        ]
        for rnd in range(1, args.rounds + 1):
            print(f"round {rnd}", flush=True)
            # Who goes first alternates between rounds, so drifting machine load
            # does not always favour the same side.
            for a, b in pairs:
                for step in ((a, b) if rnd % 2 else (b, a)):
                    step(rnd)
            # both images are in the registry after the push pair: pull them back
            docker("push", dimg)
            sh(dockyard_cmd("push", "-q", yimg), env=dockyard_env(seed_root))
            for step in ((pull_docker, pull_dockyard) if rnd % 2
                         else (pull_dockyard, pull_docker)):
                step(rnd)
        docker("rmi", "-f", dimg, "bench/big:src")

    med = {k: statistics.median(v) for k, v in results.items()}

    def row(op: str, ours: str, peer: str) -> str:
        a, b = med[ours], med[peer]
        return (f"| {op} | {a:.2f} s ({data_bytes / 1e6 / a:.0f} MB/s) | "
                f"{b:.2f} s ({data_bytes / 1e6 / b:.0f} MB/s) | {b / a:.2f} |")
    lines = [
        f"Image: busybox + 4 x 50 MiB random layers ({data_bytes / 1e6:.1f} MB of layer "
        f"data); median of {args.rounds} rounds, alternating; ratio = peer time / "
        "dockyard time (> 1: dockyard faster).", "",
        "| operation | dockyard | peer | ratio |", "|---|---|---|---|",
        row("push to distribution: dockyard CLI vs docker CLI",
            "push dockyard -> distribution", "push docker -> distribution"),
        row("pull from distribution (incl. unpack): dockyard CLI vs docker CLI",
            "pull dockyard <- distribution", "pull docker <- distribution"),
        row("skopeo push: dockyard server vs distribution",
            "skopeo push -> dockyard server", "skopeo push -> distribution"),
        row("skopeo pull: dockyard server vs distribution",
            "skopeo pull <- dockyard server", "skopeo pull <- distribution"),
        f"| dockyard CLI push/pull to dockyard server (reference) | "
        f"{med['push dockyard -> dockyard server']:.2f} s / "
        f"{med['pull dockyard <- dockyard server']:.2f} s | | |",
    ]
    print("\n".join(lines))
    print("\nraw:", json.dumps({k: [round(x, 2) for x in v] for k, v in results.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
