"""Start latency through the shim's zygote, beside ``runc run -d`` and
``dockyard-runtime run -d`` on the same busybox bundle.

What is timed, per container (``sleep 1000``; each container is killed and deleted
afterwards, untimed):

* ``zygote``: ``await Zygote.start(req)`` - request sent over the zygote's socket,
  double fork, the worker's in-process create + start, the shim's answer: the
  program is running (exec'd) when it returns;
* ``zygote+exit``: the same for ``true``, plus ``ShimClient.wait()`` until
  ``exit.json`` is written (the shim's part of a ``run --rm true``);
* ``runc run -d`` and ``dockyard-runtime run -d``: one command each, process wall
  time (what a daemon pays per container when it execs a runtime, without a shim).

Prints a Markdown table (median, p90, min in ms). Timings are not asserted.
``--pss N`` instead starts N idle containers (``sleep 1000``) and prints the shims'
memory from ``/proc/<pid>/smaps_rollup`` (PSS, private dirty) and the zygote's.

    /opt/dockyard/venv/bin/python bench/shim_start.py [-n 30]
    /opt/dockyard/venv/bin/python bench/shim_start.py --pss 20

Run as root from the repository (``PYTHONPATH=src``). Leaves nothing behind.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "src"), str(REPO)]
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(REPO / "src"), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))])

from tests.support.busybox import find_static_busybox, make_rootfs  # noqa: E402

from dockyard.runtime.default_spec import default_spec  # noqa: E402
from dockyard.shim import ShimClient, ShimRequest, Zygote  # noqa: E402
from dockyard.shim.types import LogConfig  # noqa: E402

TOKEN = f"dybench{os.getpid():x}"


def spec_for(rootfs: Path, args: list[str]) -> dict:
    spec = default_spec()
    spec["process"]["terminal"] = False
    spec["process"]["args"] = args
    spec["root"] = {"path": str(rootfs), "readonly": False}
    return spec


class Bench:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.rootfs = make_rootfs(base / "rootfs", find_static_busybox() or Path("/bin/busybox"))
        self.n = 0

    def bundle(self, args: list[str]) -> tuple[str, Path]:
        self.n += 1
        cid = f"{TOKEN}-{self.n}"
        bundle = self.base / "bundles" / cid
        bundle.mkdir(parents=True)
        (bundle / "config.json").write_text(json.dumps(spec_for(self.rootfs, args)))
        return cid, bundle

    async def zygote_runs(self, z: Zygote, n: int, args: list[str], wait: bool
                          ) -> list[float]:
        out = []
        for _ in range(n):
            cid, bundle = self.bundle(args)
            req = ShimRequest(cid, str(bundle), runtime_root=str(self.base / "dy-root"),
                              log=LogConfig(path=str(bundle / "log.json")))
            t = time.perf_counter()
            await z.start(req)
            shim = ShimClient(bundle)
            if wait:
                await shim.wait()
            out.append(time.perf_counter() - t)
            if not wait:
                await shim.kill(9)
                await shim.wait()
        return out

    def cli_runs(self, cmd: list[str], root: Path, n: int) -> list[float]:
        out = []
        for _ in range(n):
            cid, bundle = self.bundle(["sleep", "1000"])
            argv = [*cmd, "--root", str(root), "run", "-d", "--bundle", str(bundle), cid]
            t = time.perf_counter()
            subprocess.run(argv, check=True, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            out.append(time.perf_counter() - t)
            subprocess.run([*cmd, "--root", str(root), "delete", "--force", cid],
                           check=False, capture_output=True)
        return out


def rollup(pid: int) -> dict[str, int]:
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1])
    return out


async def measure_pss(b: Bench, z: Zygote, n: int) -> None:
    from dockyard.shim.files import SHIM_PID, read_pid

    started = []
    try:
        for _ in range(n):
            cid, bundle = b.bundle(["sleep", "1000"])
            req = ShimRequest(cid, str(bundle), runtime_root=str(b.base / "dy-root"),
                              log=LogConfig(path=str(bundle / "log.json")))
            await z.start(req)
            started.append(bundle)
        await asyncio.sleep(1)
        shims = [rollup(read_pid(str(bundle / SHIM_PID))) for bundle in started]
        zyg = rollup(z.pid)
        avg = {k: sum(s[k] for s in shims) / len(shims) for k in ("Pss", "Private_Dirty", "Rss")}
        print(f"{n} idle shims (busybox sleep 1000): PSS avg {avg['Pss']:.0f} KiB "
              f"(max {max(s['Pss'] for s in shims)}), private dirty avg "
              f"{avg['Private_Dirty']:.0f} KiB, RSS avg {avg['Rss']:.0f} KiB; "
              f"zygote PSS {zyg['Pss']} KiB, RSS {zyg['Rss']} KiB")
    finally:
        for bundle in started:
            shim = ShimClient(bundle)
            try:
                await shim.kill(9)
            except Exception:
                pass
            await shim.wait()


def row(name: str, times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    p90 = ms[min(len(ms) - 1, int(len(ms) * 0.9))]
    return f"| {name} | {statistics.median(ms):.1f} | {p90:.1f} | {ms[0]:.1f} | {len(ms)} |"


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=30)
    ap.add_argument("--pss", type=int, default=0, metavar="N",
                    help="measure the memory of N idle shims instead")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root")
    base = Path(tempfile.mkdtemp(prefix="dy-shim-bench-"))
    z = None
    try:
        b = Bench(base)
        t = time.perf_counter()
        z = await Zygote.spawn(base / "exec")
        spawn = time.perf_counter() - t
        if a.pss:
            await measure_pss(b, z, a.pss)
            return
        await b.zygote_runs(z, 3, ["sleep", "1000"], wait=False)  # warm caches
        rows = [row("zygote start (running)", await b.zygote_runs(z, a.n, ["sleep", "1000"],
                                                                  wait=False)),
                row("zygote start + exit.json (`true`)",
                    await b.zygote_runs(z, a.n, ["true"], wait=True))]
        runc = shutil.which("runc")
        if runc:
            rows.append(row("`runc run -d`", b.cli_runs([runc], base / "runc-root", a.n)))
        dy = shutil.which("dockyard-runtime")
        dy_cmd = [dy] if dy else [sys.executable, "-m", "dockyard.runtime.cli"]
        rows.append(row("`dockyard-runtime run -d`", b.cli_runs(dy_cmd, base / "dy-cli", a.n)))
        print(f"zygote spawn (interpreter + preload, once per daemon): {spawn * 1000:.0f} ms\n")
        print("| path | median ms | p90 ms | min ms | n |")
        print("|---|---|---|---|---|")
        print("\n".join(rows))
    finally:
        if z is not None:
            await z.close()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
