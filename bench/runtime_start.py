"""Start latency: ``dockyard-runtime`` against ``runc`` on one busybox bundle.

Both runtimes get the same bundle (``runc spec`` defaults, ``terminal: false``,
``args: ["true"]``), each with its own state root, and are timed alternately in one
run (ABBA order) so both see the same machine: whole-process wall time of

* ``run --bundle B ID`` (create + start + wait + delete in one command), and
* ``create`` + ``start`` + ``delete --force`` as three commands (each timed too).

The interpreter's bare start-up (``python -c pass``, ``python -S -c pass``) is
printed beside them: it is the floor a Python runtime cannot go under, so it says
how much of dockyard's time is ours. Prints a Markdown block for bench/RESULTS.md.

    /opt/dockyard/venv/bin/python bench/runtime_start.py [-n 30] [--dockyard 'CMD']
    /opt/dockyard/venv/bin/python bench/runtime_start.py --importtime   # what imports cost

Run as root. Leaves nothing behind: every container is deleted, the bundle and
state roots are removed, and leftover cgroups named after this run are reported.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Runtime:
    name: str
    argv: list[str]
    root: Path
    env: dict[str, str]
    samples: dict[str, list[float]] = field(default_factory=dict)

    def cmd(self, *args: str) -> list[str]:
        return [*self.argv, "--root", str(self.root), *args]

    def timed(self, phase: str, *args: str, check: bool = True) -> float:
        """Run one command; record its wall time and its CPU time (user+sys, via wait4).

        CPU time is the steadier figure on a shared machine: it leaves out time spent
        waiting for a core. It counts the command and the children it reaped (runc's
        `runc init`, dockyard's stages; the container's `true` under `run`).
        """
        # stderr goes to a file, not a pipe: a created container's init keeps the
        # runtime's stdio open, so reading a pipe to EOF would wait for the container.
        with tempfile.TemporaryFile() as err:
            t0 = time.perf_counter()
            proc = subprocess.Popen(self.cmd(*args), env=self.env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=err)
            _, status, usage = os.wait4(proc.pid, 0)
            dt = time.perf_counter() - t0
            proc.returncode = os.waitstatus_to_exitcode(status)
            if check and proc.returncode != 0:
                err.seek(0)
                raise SystemExit(f"{self.name} {' '.join(args)} failed ({proc.returncode}): "
                                 f"{err.read().decode(errors='replace').strip()}")
        self.samples.setdefault(phase, []).append(dt)
        self.samples.setdefault(phase + " cpu", []).append(usage.ru_utime + usage.ru_stime)
        return dt


def default_dockyard() -> tuple[list[str], dict[str, str]]:
    """The ``dockyard-runtime`` console script (else its equivalent ``python -c``),
    running this tree's code (PYTHONPATH=<repo>/src first, as the tests do)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"),
                                                      env.get("PYTHONPATH")]))
    found = shutil.which("dockyard-runtime")
    if found:
        return [found], env
    return [sys.executable, "-c", "import sys; from dockyard.runtime.cli import main; "
            "sys.exit(main())"], env


def with_bytecode(env: dict[str, str], cache: Path) -> dict[str, str]:
    """Let Python keep compiled bytecode (in a private cache dir), as an installed
    package has: with PYTHONDONTWRITEBYTECODE set (it is on some machines) every run
    of an edited tree would compile its modules again, which is not what users pay."""
    env = dict(env)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    return env


def make_bundle(where: Path) -> Path:
    sys.path.insert(0, str(REPO))
    from tests.support.busybox import find_static_busybox, make_rootfs

    busybox = find_static_busybox()
    if busybox is None:
        raise SystemExit("static busybox not found: apt-get install busybox-static")
    bundle = where / "bundle"
    make_rootfs(bundle / "rootfs", busybox)
    subprocess.run(["runc", "spec"], cwd=bundle, check=True)
    config = json.loads((bundle / "config.json").read_text())
    config["process"]["terminal"] = False
    config["process"]["args"] = ["true"]
    # runc spec lists ambient caps that are not inheritable; runc silently fails to raise
    # them (CapAmb is 0 inside), so dropping the list changes nothing for runc and keeps
    # the bundle valid for a runtime that checks it.
    config["process"]["capabilities"].pop("ambient", None)
    (bundle / "config.json").write_text(json.dumps(config, indent=1))
    return bundle


def one_round(rt: Runtime, bundle: Path, cid: str) -> None:
    rt.timed("run", "run", "--bundle", str(bundle), cid)
    cid2 = cid + "c"
    t = rt.timed("create", "create", "--bundle", str(bundle), cid2)
    t += rt.timed("start", "start", cid2)
    t += rt.timed("delete", "delete", "--force", cid2)
    rt.samples.setdefault("create+start+delete", []).append(t)
    rt.samples.setdefault("create+start+delete cpu", []).append(
        sum(rt.samples[p + " cpu"][-1] for p in ("create", "start", "delete")))


def interpreter_floor(n: int, env: dict[str, str]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for label, argv in (("python -c pass", [sys.executable, "-c", "pass"]),
                        ("python -S -c pass", [sys.executable, "-S", "-c", "pass"])):
        for _ in range(n):
            t0 = time.perf_counter()
            subprocess.run(argv, check=True, env=env)
            out.setdefault(label, []).append(time.perf_counter() - t0)
    return out


def ms(x: float) -> str:
    return f"{x * 1000:.1f}"


def summary_rows(runc: Runtime, dy: Runtime) -> list[str]:
    rows = ["| phase | runc median (mean) ms | dockyard median (mean) ms | ratio median | "
            "ratio mean |", "|---|---|---|---|---|"]
    phases = ("run", "create+start+delete", "create", "start", "delete")
    for phase in (*phases, *(p + " cpu" for p in phases)):
        a, b = runc.samples[phase], dy.samples[phase]
        ma, mb = statistics.median(a), statistics.median(b)
        ea, eb = statistics.fmean(a), statistics.fmean(b)
        rows.append(f"| {phase} | {ms(ma)} ({ms(ea)}) | {ms(mb)} ({ms(eb)}) | "
                    f"{mb / ma:.2f}x | {eb / ea:.2f}x |")
    return rows


def dockyard_source(dy: Runtime) -> str:
    """Where the measured dockyard code lives, and its git commit (+dirty)."""
    where = str(REPO / "src")
    try:
        python = python_argv(dy.argv)[0]
    except SystemExit:
        python = None
    if python:
        p = subprocess.run([python, "-c", "import dockyard, os; "
                            "print(os.path.dirname(os.path.dirname(dockyard.__file__)))"],
                           env=dy.env, capture_output=True, text=True)
        where = p.stdout.strip() or where
    rev = subprocess.run(["git", "-C", where, "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip() or "?"
    dirty = subprocess.run(["git", "-C", where, "status", "--porcelain", "--", "."],
                           capture_output=True, text=True).stdout.strip()
    return f"{where} @ {rev}{' + uncommitted changes' if dirty else ''}"


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    runc_v = subprocess.run(["runc", "--version"], capture_output=True, text=True)
    load = os.getloadavg()[0]
    return (f"{platform.node()}: {os.cpu_count()} cpu ({cpu}), kernel {platform.release()}, "
            f"Python {platform.python_version()}, "
            f"{runc_v.stdout.splitlines()[0] if runc_v.returncode == 0 else 'runc ?'}, "
            f"load average {load:.1f} at start")


def python_argv(argv: list[str]) -> list[str]:
    """``argv`` as ``python SCRIPT ...`` (so -X options can go in) if it is a script."""
    head = Path(argv[0])
    if head.name.startswith("python"):
        return argv
    first = head.read_bytes()[:200].split(b"\n", 1)[0] if head.is_file() else b""
    if first.startswith(b"#!") and b"python" in first:
        return [*first[2:].decode().split(), *argv]
    raise SystemExit(f"--importtime: {argv[0]} is neither python nor a python script")


def importtime(dy: Runtime, bundle: Path, token: str, n: int, top: int) -> None:
    """Print what `dockyard-runtime run` spends on imports: per module, the minimum over
    n runs of its self and cumulative import time (-X importtime), which filters out the
    noise of a busy machine."""
    py = python_argv(dy.argv)
    argv = [py[0], "-X", "importtime", *py[1:]]
    self_us: dict[str, int] = {}
    cum_us: dict[str, int] = {}
    for i in range(n + 1):
        p = subprocess.run([*argv, "--root", str(dy.root), "run", "--bundle", str(bundle),
                            f"{token}-imp{i}"], env=dy.env, capture_output=True, text=True,
                           stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            raise SystemExit(f"dockyard run failed: {p.stderr[-2000:]}")
        if i == 0:
            continue  # the first run fills the bytecode cache
        for line in p.stderr.splitlines():
            if not line.startswith("import time:") or "cumulative" in line:
                continue
            own, cum, name = line[len("import time:"):].split("|")
            name = name.rstrip()[1:]  # "| name": nested imports keep their indent
            self_us[name] = min(self_us.get(name, 1 << 60), int(own))
            cum_us[name] = min(cum_us.get(name, 1 << 60), int(cum))
    print(f"`dockyard-runtime run`: {len(self_us)} modules imported, sum of their minimum "
          f"self times {sum(self_us.values()) / 1000:.1f} ms (n={n}). Top-level imports by "
          f"cumulative time:")
    for name in sorted((k for k in cum_us if not k.startswith(" ")),
                       key=lambda k: -cum_us[k])[:top]:
        print(f"  {cum_us[name] / 1000:6.1f} ms cumulative {self_us[name] / 1000:6.1f} ms self"
              f"  {name}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=30, help="iterations per runtime (default 30)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--dockyard", help="command for dockyard-runtime (default: installed "
                    "script, else this tree's code)")
    ap.add_argument("--runc", default="runc")
    ap.add_argument("--label", help="names the dockyard code measured (default: its git commit)")
    ap.add_argument("--importtime", action="store_true",
                    help="only print what dockyard-runtime's imports cost")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: containers need namespaces, mounts and cgroups")

    dy_argv, dy_env = default_dockyard()
    if args.dockyard:
        dy_argv, dy_env = shlex.split(args.dockyard), dict(os.environ)
    token = f"bench{os.getpid()}"
    work = Path(tempfile.mkdtemp(prefix=f"dockyard-{token}-"))
    runc = Runtime("runc", shlex.split(args.runc), work / "root-runc", dict(os.environ))
    dy = Runtime("dockyard", dy_argv, work / "root-dockyard",
                  with_bytecode(dy_env, work / "pycache"))
    try:
        bundle = make_bundle(work)
        if args.importtime:
            importtime(dy, bundle, token, max(args.n // 3, 5), 25)
            return
        for i in range(args.warmup):
            for rt in (runc, dy):
                one_round(rt, bundle, f"{token}-{rt.name}-w{i}")
        for rt in (runc, dy):
            rt.samples.clear()
        started = datetime.datetime.now(datetime.UTC)
        host = machine()
        for i in range(args.n):
            order = (runc, dy) if i % 2 == 0 else (dy, runc)
            for rt in order:
                one_round(rt, bundle, f"{token}-{rt.name}-{i}")
        floor = interpreter_floor(max(5, args.n // 3), dy.env)
        print(f"### runtime start latency, {started:%Y-%m-%d %H:%M} UTC\n")
        print(f"Machine: {host}. n={args.n} per runtime, alternating (ABBA), "
              f"{args.warmup} warm-up rounds. dockyard command: `{shlex.join(dy_argv)}`, "
              f"code {args.label or dockyard_source(dy)}.\n")
        print("\n".join(summary_rows(runc, dy)))
        print()
        for label, xs in floor.items():
            print(f"- interpreter floor `{label}`: median {ms(statistics.median(xs))} ms")
        ratio = statistics.median(dy.samples["run"]) / statistics.median(runc.samples["run"])
        print(f"- `run` ratio dockyard/runc: **{ratio:.2f}x** (target <= 1.5x)")
    finally:
        cleanup(runc, dy, token, work)


def cleanup(runc: Runtime, dy: Runtime, token: str, work: Path) -> None:
    problems = []
    for rt in (runc, dy):
        if rt.root.is_dir():
            for entry in rt.root.iterdir():
                if entry.is_dir():
                    problems.append(f"{rt.name} left {entry.name}")
                    subprocess.run(rt.cmd("delete", "--force", entry.name), env=rt.env,
                                   capture_output=True)
    for top, dirs, _ in os.walk("/sys/fs/cgroup"):
        for d in list(dirs):
            if token in d:
                problems.append(f"cgroup left: {os.path.join(top, d)}")
                dirs.remove(d)
        if top.count("/") > 6:
            dirs.clear()
    shutil.rmtree(work, ignore_errors=True)
    if problems:
        print("LEFT BEHIND (a bug in the runtime named): " + "; ".join(problems),
              file=sys.stderr)


if __name__ == "__main__":
    main()
