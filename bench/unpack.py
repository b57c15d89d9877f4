"""Unpack throughput of a ~200 MB, 4-layer image: dockyard vs umoci vs docker load.

The image is generated (there is no registry here): a base layer of mixed files, a
layer of big files, a layer of many small files, and a layer of changes with
whiteouts and an opaque directory. It is written once as an OCI image layout that
is at the same time a docker-archive (``manifest.json``), like Docker 25's ``save``.

Each iteration runs, in turn, on the same warm page cache:

* ``dockyard flat``     -- every layer applied into one directory (umoci's model),
                           digests and diff_ids verified;
* ``dockyard overlay``  -- prepare / apply / commit per layer on the overlay
                           snapshotter (docker's overlay2 model);
* ``dockyard load``     -- ``ImageService.load(ARCHIVE)``: ingest, verify, unpack into
                           snapshots, record (when the image store is in this tree);
* ``umoci unpack``      -- ``umoci unpack --image LAYOUT:bench BUNDLE``;
* ``docker load``       -- ``docker load -i`` into a private dockerd started for the
                           run (tests/support/dockerd.py), image removed between runs.
                           Skipped, loudly, when dockerd cannot start.

Reported: the median wall time, MB/s (uncompressed layer bytes) and files/s
(tar entries), and dockyard's ratio to each peer (>1 means dockyard is faster).

    /opt/dockyard/venv/bin/python bench/unpack.py [--runs 3] [--compression gzip|zstd|none]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import platform
import random
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

from dockyard.image.diff import DiffOptions, diff_dirs  # noqa: E402
from dockyard.image.digest import Digest  # noqa: E402
from dockyard.image.layers import Whiteouts, apply_layer, chain_ids  # noqa: E402
from dockyard.image.safetar import TarOptions  # noqa: E402
from dockyard.image.snapshots import OverlaySnapshotter, apply_to_snapshot  # noqa: E402

MEDIA = {"gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
         "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
         "none": "application/vnd.oci.image.layer.v1.tar"}


def _data(rng: random.Random, size: int) -> bytes:
    """Half random, half hex text: compresses about like real binaries and text."""
    if rng.random() < 0.5:
        return rng.randbytes(size)
    return rng.randbytes(size // 2 + 1).hex()[:size].encode()


def _gen_layers(work: Path) -> list[Path]:
    rng = random.Random(42)
    dirs = [work / f"layer{i}" for i in range(1, 5)]
    base, big, small, changes = dirs
    for i in range(40):  # base: a small OS-like tree, ~25 MB
        d = base / f"usr/lib/pkg{i}"
        d.mkdir(parents=True)
        for j in range(30):
            (d / f"lib{j}.so").write_bytes(_data(rng, rng.randint(1_000, 40_000)))
    (base / "etc").mkdir()
    for j in range(200):
        (base / f"etc/conf{j}").write_bytes(_data(rng, rng.randint(50, 3000)))
    big.mkdir()  # big files, ~75 MB
    for j, mb in enumerate((40, 25, 10)):
        (big / f"blob{j}.bin").write_bytes(_data(rng, mb << 20))
    for i in range(300):  # many small files, 30k files, ~60 MB
        d = small / f"site-packages/mod{i}"
        d.mkdir(parents=True)
        for j in range(100):
            (d / f"f{j}.py").write_bytes(_data(rng, rng.randint(200, 3800)))
    (changes / "site-packages/mod0").mkdir(parents=True)  # changes, ~20 MB
    for j in range(50):
        (changes / f"site-packages/mod0/.wh.f{j}.py").write_bytes(b"")
    for i in range(1, 20):
        (changes / f"site-packages/.wh.mod{i}").write_bytes(b"")
    (changes / "usr/lib/pkg3").mkdir(parents=True)
    (changes / "usr/lib/pkg3/.wh..wh..opq").write_bytes(b"")
    (changes / "usr/lib/pkg3/new.so").write_bytes(_data(rng, 100_000))
    (changes / "data.bin").write_bytes(_data(rng, 20 << 20))
    return dirs


def _put(blobs: Path, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    (blobs / digest.split(":")[1]).write_bytes(data)
    return digest


def build_image(work: Path, compression: str) -> dict:
    """Generate the layers and write LAYOUT (OCI layout + docker manifest.json)."""
    layout = work / "layout"
    blobs = layout / "blobs/sha256"
    blobs.mkdir(parents=True)
    layers, diff_ids, size, entries = [], [], 0, 0
    for d in _gen_layers(work / "gen"):
        buf = io.BytesIO()
        st = diff_dirs(None, d, buf, DiffOptions(compression=compression))
        digest = _put(blobs, buf.getvalue())
        assert digest == str(st.digest)
        layers.append({"mediaType": MEDIA[compression], "digest": digest,
                       "size": st.compressed_size})
        diff_ids.append(str(st.diff_id))
        size += st.size
        entries += st.entries
    shutil.rmtree(work / "gen")
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": f"layer {i}"} for i in range(4)]}).encode()
    cfg_digest = _put(blobs, config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": cfg_digest, "size": len(config)},
        "layers": layers}).encode()
    man_digest = _put(blobs, manifest)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (layout / "index.json").write_text(json.dumps({
        "schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": man_digest,
            "size": len(manifest),
            "annotations": {"org.opencontainers.image.ref.name": "bench"}}]}))
    (layout / "manifest.json").write_text(json.dumps([{
        "Config": f"blobs/sha256/{cfg_digest.split(':')[1]}",
        "RepoTags": ["dockyard-bench:unpack"],
        "Layers": [f"blobs/sha256/{lay['digest'].split(':')[1]}" for lay in layers]}]))
    archive = work / "image.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(layout, arcname=".")
    return {"layout": layout, "archive": archive, "layers": layers, "diff_ids": diff_ids,
            "size": size, "entries": entries}


def _blob(image: dict, digest: str) -> Path:
    return image["layout"] / "blobs/sha256" / digest.split(":")[1]


LAYER_OPTIONS = TarOptions(keep_setuid=True)


def run_flat(image: dict, work: Path) -> None:
    target = work / "flat"
    target.mkdir()
    for layer, diff_id in zip(image["layers"], image["diff_ids"], strict=True):
        with open(_blob(image, layer["digest"]), "rb") as f:
            st = apply_layer(f, target, whiteouts=Whiteouts.FLAT, options=LAYER_OPTIONS,
                             expected_diff_id=Digest.parse(diff_id))
        assert str(st.digest) == layer["digest"], "blob digest mismatch"


def run_overlay(image: dict, work: Path) -> None:
    snaps = OverlaySnapshotter(work / "snaps")
    parent = None
    for i, (layer, chain) in enumerate(
            zip(image["layers"], chain_ids([Digest.parse(d) for d in image["diff_ids"]]),
                strict=True)):
        key = f"extract-{i}"
        snaps.prepare(key, parent)
        with open(_blob(image, layer["digest"]), "rb") as f:
            st = apply_to_snapshot(snaps, key, f, options=LAYER_OPTIONS)
        assert str(st.digest) == layer["digest"]
        snaps.commit(str(chain), key)
        parent = str(chain)


def run_umoci(image: dict, work: Path) -> None:
    subprocess.run(["umoci", "unpack", "--image", f"{image['layout']}:bench",
                    str(work / "bundle")], check=True, capture_output=True)


def check_same_tree(image: dict, work: Path) -> None:
    """dockyard's flat unpack and umoci's rootfs must hold the same files."""
    flat, bundle = work / "cmp-flat", work / "cmp-bundle"
    flat.mkdir()
    for layer in image["layers"]:
        with open(_blob(image, layer["digest"]), "rb") as f:
            apply_layer(f, flat, options=LAYER_OPTIONS)
    subprocess.run(["umoci", "unpack", "--image", f"{image['layout']}:bench", str(bundle)],
                   check=True, capture_output=True)
    r = subprocess.run(["diff", "-r", "--no-dereference", str(flat), str(bundle / "rootfs")],
                       capture_output=True, text=True)
    shutil.rmtree(flat)
    shutil.rmtree(bundle)
    if r.returncode:
        raise SystemExit(f"dockyard and umoci unpacked different trees:\n{r.stdout[:2000]}")


def start_docker(work: Path):
    try:
        from tests.support.dockerd import start_dockerd
    except ImportError as e:
        return None, f"tests/support/dockerd.py not importable: {e}"
    try:
        return start_dockerd(work / "dockerd", f"bench{os.getpid():x}"), ""
    except (RuntimeError, OSError) as e:
        return None, str(e).splitlines()[0]


def dockyard_load_runner(image: dict, work: Path):
    """``dockyard load -i ARCHIVE`` (the image store's whole path), when this tree has it."""
    try:
        from dockyard.image.service import ImageService
    except ImportError:
        return None

    def run() -> None:
        svc = ImageService(work / "dyroot")
        try:
            svc.load(str(image["archive"]))
        finally:
            svc.close()
    return run


def untimed_cleanup(work: Path, docker, settle: float) -> None:
    """Remove the previous round's output (not timed for anyone), then let the disk settle.

    Why the wait: on ext4 without a journal (this VM's root), the inode allocator
    skips inodes freed in the last 60 s (``recently_deleted()`` in
    fs/ext4/ialloc.c, 60 s more while the inode table block is dirty), scanning
    past every one of them on each create. Right after a 30,000-file tree is
    deleted, creating files near it costs 10-20x more (perf: 75 % of the time in
    recently_deleted/find_inode_bit); whichever tool ran next paid for it.
    """
    for name in ("flat", "snaps", "bundle", "dyroot"):
        shutil.rmtree(work / name, ignore_errors=True)
    if docker is not None:
        docker.cli("rmi", "-f", "dockyard-bench:unpack", check=False)
    os.sync()
    if settle:
        time.sleep(settle)


def run_docker(d, image: dict) -> None:
    d.cli("load", "-q", "-i", str(image["archive"]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--compression", choices=sorted(MEDIA), default="gzip")
    ap.add_argument("--no-docker", action="store_true")
    ap.add_argument("--settle", type=float, default=65.0,
                    help="seconds to wait after deleting a round's output (see untimed_cleanup)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root (chown, overlay mounts, umoci, dockerd)")
    work = Path(tempfile.mkdtemp(prefix="dockyard-bench-unpack-", dir="/var/tmp"))
    docker = None
    try:
        t0 = time.monotonic()
        image = build_image(work, args.compression)
        print(f"# image: {image['size'] / 1e6:.0f} MB uncompressed, {image['entries']} entries, "
              f"4 {args.compression} layers ({sum(x['size'] for x in image['layers']) / 1e6:.0f}"
              f" MB as stored); generated in {time.monotonic() - t0:.0f}s", flush=True)
        check_same_tree(image, work)
        print("# check: dockyard's flat unpack == umoci's rootfs (diff -r)", flush=True)
        runners = {"dockyard flat": lambda: run_flat(image, work),
                   "dockyard overlay": lambda: run_overlay(image, work),
                   "umoci unpack": lambda: run_umoci(image, work)}
        load = dockyard_load_runner(image, work)
        if load is not None:
            runners["dockyard load"] = load
        else:
            print("# dockyard load: not in this tree (dockyard.image.service comes with the "
                  "img-store branch)", file=sys.stderr, flush=True)
        docker_note = "skipped: --no-docker"
        if not args.no_docker:
            docker, docker_note = start_docker(work)
            if docker is not None:
                docker_note = ""
                runners["docker load"] = lambda: run_docker(docker, image)
        if docker_note:
            print("#" * 78 + f"\n# docker load NOT MEASURED: {docker_note}\n" + "#" * 78,
                  file=sys.stderr, flush=True)
        times: dict[str, list[float]] = {name: [] for name in runners}
        loads: list[float] = []
        names = list(runners)
        for rnd in range(args.runs + 1):  # the first round warms up and is not counted
            untimed_cleanup(work, docker, args.settle)
            loads.append(os.getloadavg()[0])
            # Every tool writes its own output and nothing is deleted inside a round,
            # so no tool pays for another's deletions; the order rotates per round.
            for name in names[rnd % len(names):] + names[:rnd % len(names)]:
                t = time.monotonic()
                runners[name]()
                times[name].append(time.monotonic() - t)
        untimed_cleanup(work, docker, 0)
        print(f"# load average (1 min) at the start of each round: "
              f"{' '.join(f'{x:.1f}' for x in loads)}", flush=True)
        report(image, {k: v[1:] for k, v in times.items()}, args, docker_note)
    finally:
        if docker is not None:
            from tests.support.dockerd import stop_dockerd

            stop_dockerd(docker)
        shutil.rmtree(work, ignore_errors=True)


def report(image: dict, times: dict[str, list[float]], args, docker_note: str) -> None:
    med = {k: statistics.median(v) for k, v in times.items()}
    mb, n = image["size"] / 1e6, image["entries"]
    print(f"\n### unpack, {time.strftime('%Y-%m-%d')}, {platform.node()}, "
          f"{os.cpu_count()} CPUs, kernel {platform.release()}, {args.compression} layers, "
          f"median of {args.runs}\n")
    print("| tool | seconds | MB/s | files/s |")
    print("|---|---:|---:|---:|")
    for name, s in med.items():
        print(f"| {name} | {s:.2f} | {mb / s:.0f} | {n / s:.0f} |")
    print()
    for ours in ("dockyard flat", "dockyard overlay", "dockyard load"):
        if ours not in med:
            continue
        for peer in ("umoci unpack", "docker load"):
            if peer in med:
                print(f"- {ours} vs {peer}: {med[peer] / med[ours]:.2f}x "
                      f"({'faster' if med[ours] < med[peer] else 'SLOWER'})")
    if docker_note:
        print(f"- docker load: NOT MEASURED ({docker_note})")
    print("\nRaw seconds: " + " · ".join(
        f"`{k}` {' '.join(f'{x:.2f}' for x in v)}" for k, v in times.items()))


if __name__ == "__main__":
    main()
