"""Network benchmark: dockyard vs docker, in one run, all traffic on this machine.

Paths (as /work/shared/bench/peers/07-network.sh measures docker, 1 MiB writes):
  container -> container on a user-defined bridge network;
  host -> a port published on 127.0.0.1 (dockyard: kernel DNAT; docker: docker-proxy);
  host -> the container's bridge address (no NAT, for reference);
  connection rate to the published port (connect, send 1 byte, wait for close).

Both engines run inside one private network namespace standing in for the host (so
dockerd's bridge and iptables rules never touch the machine's real ones; dockerd runs
with its defaults there: docker0, iptables, userland proxy). dockyard's side uses the
network service with its "containers" being processes in the netns it made: the data
path (veth, bridge, nftables) is what a dockyard container gets; each "container" also
gets a cpu cgroup of its own, as docker's do. The programs in the containers are the
host's python3 running this file's ``_recv``/``_send``/``_conns`` helpers (docker: with
/usr bind-mounted read-only, as the peers script does).

Run as root: /opt/dockyard/venv/bin/python bench/network.py [--runs 5] [--mib 1000]
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
ROOT = HERE.parents[1]
MiB = 1 << 20
PY = "/usr/bin/python3"


# -- helpers that run inside containers (stdlib only) ------------------------------------
def _recv(port: int) -> None:
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(128)
    while True:
        c, _ = ls.accept()
        while c.recv(MiB):
            pass
        c.close()


def _send(host: str, port: int, mib: int) -> None:
    buf = bytes(MiB)
    s = socket.create_connection((host, port))
    t = time.perf_counter()
    for _ in range(mib):
        s.sendall(buf)
    s.shutdown(socket.SHUT_WR)
    s.recv(1)
    print(f"SECONDS {time.perf_counter() - t:.6f}")


def _conns(host: str, port: int, n: int) -> None:
    t = time.perf_counter()
    for _ in range(n):
        s = socket.create_connection((host, port))
        s.sendall(b"x")
        s.shutdown(socket.SHUT_WR)
        s.recv(1)
        s.close()
    print(f"SECONDS {time.perf_counter() - t:.6f}")


# -- the measuring side ------------------------------------------------------------------
def sh(*argv: str, check: bool = True, timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f"{argv} failed: {r.stderr.strip() or r.stdout.strip()}")
    return r


def seconds(cmd: list[str]) -> float:
    out = sh(*cmd, timeout=120).stdout
    for line in out.splitlines():
        if line.startswith("SECONDS "):
            return float(line.split()[1])
    raise RuntimeError(f"{cmd}: no timing in {out!r}")


def helper(*args: object) -> list[str]:
    return [PY, str(HERE), *map(str, args)]


def wait_port(host: str, port: int, netns: str | None = None) -> None:
    probe = (f"import socket,time\nfor _ in range(100):\n try:\n  socket.create_connection("
             f"('{host}',{port}),timeout=1).close();break\n except OSError: time.sleep(0.1)")
    cmd = [PY, "-c", probe]
    if netns:
        cmd = ["nsenter", f"--net={netns}", *cmd]
    sh(*cmd, timeout=30)


def dockyard_side(tmp: Path, args, stack) -> dict[str, list[str]]:
    """dockyard's containers, set up; returns the command per path (cleanup on ``stack``)."""
    import asyncio
    import threading

    sys.path[:0] = [str(ROOT / "src")]
    from dockyard.network.service import ContainerNetRequest, NetworkService

    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    stack.callback(loop.call_soon_threadsafe, loop.stop)

    def call(coro):
        return asyncio.run_coroutine_threadsafe(coro, loop).result(60)

    def req(n: str, mode: str, **kw) -> ContainerNetRequest:
        cid = (n.encode().hex() + "0" * 64)[:64]
        return ContainerNetRequest(cid, n, n, "", mode, {}, kw.get("ports", {}), False, {},
                                   [], [], [], [], str(tmp / "ctr" / n))

    svc = NetworkService(tmp / "dy" / "network", tmp / "dy" / "exec",
                         {"default-address-pools": [{"base": "10.91.0.0/16", "size": 24}]},
                         link_prefix="dyb", nft_table="dockyard-bench", default_bridge="dyb0")
    procs: list[subprocess.Popen] = []
    # like any container (docker's included), each gets a cpu cgroup of its own:
    # processes left in the root group would compete with everything else there
    cg_root = Path(f"/sys/fs/cgroup/cpu/dybench{os.getpid()}")
    groups = {n: cg_root / n for n in ("srv", "cli", "pub")}
    for g in groups.values():
        g.mkdir(parents=True, exist_ok=True)

    def in_group(name: str, argv: list[str]) -> list[str]:
        return ["sh", "-c", f'echo $$ > {groups[name]}/cgroup.procs && exec "$@"', "sh",
                *argv]

    def cleanup() -> None:
        for p in procs:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        for g in [*groups.values(), cg_root]:
            for _ in range(50):
                try:
                    g.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)
        call(svc.uninstall())
    stack.callback(cleanup)
    call(svc.start())
    svc.create({"Name": "bench"})
    srv = call(svc.setup(req("srv", "bench")))
    cli = call(svc.setup(req("cli", "bench")))
    pub = call(svc.setup(req("pub", "bridge", ports={
        "81/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8091"}]})))
    sip = srv.settings["Networks"]["bench"]["IPAddress"]
    pip = pub.settings["IPAddress"]
    for name, net, port in (("srv", srv, 5003), ("pub", pub, 81)):
        procs.append(subprocess.Popen(in_group(name, ["nsenter", f"--net={net.netns}",
                                                      *helper("_recv", port)]),
                                      start_new_session=True))
    wait_port(sip, 5003, cli.netns)
    wait_port("127.0.0.1", 8091)
    return {"c2c": in_group("cli", ["nsenter", f"--net={cli.netns}",
                                    *helper("_send", sip, 5003, args.mib)]),
            "published": helper("_send", "127.0.0.1", 8091, args.mib),
            "direct": helper("_send", pip, 81, args.mib),
            "conns": helper("_conns", "127.0.0.1", 8091, args.conns)}


class Docker:
    def __init__(self, tmp: Path) -> None:
        tag = f"dyb{os.getpid()}"
        self.exec_root = Path(f"/run/{tag}")
        self.data_root = tmp / "docker"
        self.sock = self.exec_root / "docker.sock"
        self.exec_root.mkdir(parents=True, exist_ok=True)
        self.data_root.mkdir(parents=True, exist_ok=True)
        with open(tmp / "dockerd.log", "wb") as log:
            self.proc = self._spawn(log)
        for _ in range(300):
            if self.sock.exists() and self.cli("version", check=False).returncode == 0:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        self.close()
        tail = (tmp / "dockerd.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"dockerd did not start:\n{tail}")

    def _spawn(self, log) -> subprocess.Popen:
        tag = self.exec_root.name
        return subprocess.Popen(
            ["dockerd", "--data-root", str(self.data_root), "--exec-root", str(self.exec_root),
             "--pidfile", str(self.exec_root / "dockerd.pid"), "-H", f"unix://{self.sock}",
             "--storage-driver", "overlay2", "--containerd-namespace", tag,
             "--containerd-plugins-namespace", tag + "p"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return sh("/usr/bin/docker", "-H", f"unix://{self.sock}", *args, check=check)

    def close(self) -> None:
        if self.proc.poll() is None:
            ids = self.cli("ps", "-aq", check=False).stdout.split()
            if ids:
                self.cli("rm", "-f", *ids, check=False)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        for root in (self.exec_root, self.data_root):
            points = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text()
                      .splitlines() if line.split()[4].startswith(str(root))]
            for p in sorted(points, key=len, reverse=True):
                subprocess.run(["umount", "-l", p], capture_output=True)
        subprocess.run(["rm", "-rf", str(self.exec_root), str(self.data_root)])


def busybox_tar(tmp: Path) -> Path:
    import tarfile

    sys.path[:0] = [str(ROOT)]
    from tests.support.busybox import make_rootfs

    rootfs = make_rootfs(tmp / "bbroot", Path("/bin/busybox"))
    path = tmp / "bb.tar"
    with tarfile.open(path, "w") as tar:
        tar.add(rootfs, arcname=".")
    return path


def docker_side(tmp: Path, args, stack) -> dict[str, list[str]]:
    d = Docker(tmp)
    stack.callback(d.close)
    pyc = ("/bin/busybox ln -sf usr/lib /lib; /bin/busybox ln -sf usr/lib64 /lib64; "
           f"exec {PY} /bench/network.py")
    vol = ["-v", "/usr:/usr:ro", "-v", f"{HERE.parent}:/bench:ro"]
    d.cli("import", str(busybox_tar(tmp)), "busybox:bench")
    d.cli("network", "create", "bench")
    d.cli("run", "-d", "--name", "srv", "--network", "bench", *vol, "busybox:bench",
          "/bin/sh", "-c", f"{pyc} _recv 5003")
    d.cli("run", "-d", "--name", "cli", "--network", "bench", *vol, "busybox:bench",
          "/bin/sleep", "100000")
    d.cli("run", "-d", "--name", "pub", "-p", "127.0.0.1:8081:81", *vol, "busybox:bench",
          "/bin/sh", "-c", f"{pyc} _recv 81")
    sip = d.cli("inspect", "-f", '{{(index .NetworkSettings.Networks "bench").IPAddress}}',
                "srv").stdout.strip()
    pip = d.cli("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "pub").stdout.strip()
    wait_port("127.0.0.1", 8081)
    wait_port(pip, 81)
    time.sleep(0.5)
    return {"c2c": ["/usr/bin/docker", "-H", f"unix://{d.sock}", "exec", "cli", "/bin/sh",
                    "-c", f"{pyc} _send {sip} 5003 {args.mib}"],
            "published": helper("_send", "127.0.0.1", 8081, args.mib),
            "direct": helper("_send", pip, 81, args.mib),
            "conns": helper("_conns", "127.0.0.1", 8081, args.conns)}


def inner(args) -> None:
    """Both engines set up at once; each path measured alternately (dockyard, docker,
    dockyard, ...) after one warm-up each, so both see the same machine state."""
    import tempfile
    from contextlib import ExitStack

    sh("ip", "link", "set", "lo", "up")
    res: dict[str, dict[str, float]] = {"dockyard": {}, "docker": {}}
    with tempfile.TemporaryDirectory(prefix="dybench-") as tmp, ExitStack() as stack:
        sides = {"docker": docker_side(Path(tmp), args, stack) if not args.no_docker else {},
                 "dockyard": dockyard_side(Path(tmp), args, stack)}
        for key in ("c2c", "published", "direct", "conns"):
            times: dict[str, list[float]] = {name: [] for name in sides if sides[name]}
            for name in times:
                seconds(sides[name][key])            # warm-up
            for _ in range(args.runs):
                for name in times:
                    times[name].append(seconds(sides[name][key]))
            for name, ts in times.items():
                res[name][key] = statistics.median(ts)
    print("RESULT " + json.dumps(res))


def report(res: dict, args) -> None:
    mb = args.mib * MiB / 1e6
    rows = [("container -> container (user bridge)", "c2c"),
            ("host -> published 127.0.0.1 port", "published"),
            ("host -> container bridge IP", "direct")]
    print(f"| path ({args.mib} MiB, 1 MiB writes, median of {args.runs}) | dockyard | "
          "docker | ratio |")
    print("|---|---|---|---|")
    for name, key in rows:
        dy = mb / res["dockyard"][key]
        dk = mb / res["docker"][key] if key in res["docker"] else float("nan")
        print(f"| {name} | {dy:.0f} MB/s | {dk:.0f} MB/s | {dy / dk:.2f}x |")
    dy = args.conns / res["dockyard"]["conns"]
    dk = args.conns / res["docker"]["conns"] if res["docker"] else float("nan")
    print(f"| connections/s to the published port ({args.conns} serial) | {dy:.0f}/s | "
          f"{dk:.0f}/s | {dy / dk:.2f}x |")


def main() -> None:
    import argparse

    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        mode, rest = sys.argv[1], sys.argv[2:]
        if mode == "_recv":
            return _recv(int(rest[0]))
        if mode == "_send":
            return _send(rest[0], int(rest[1]), int(rest[2]))
        if mode == "_conns":
            return _conns(rest[0], int(rest[1]), int(rest[2]))
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--mib", type=int, default=1000)
    p.add_argument("--conns", type=int, default=2000)
    p.add_argument("--no-docker", action="store_true")
    p.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.inner:
        return inner(args)
    if os.geteuid() != 0:
        sys.exit("run as root")
    ns = f"dybench{os.getpid()}"
    sh("ip", "netns", "add", ns)
    try:
        argv = [sys.executable, str(HERE), "--inner", "--runs", str(args.runs), "--mib",
                str(args.mib), "--conns", str(args.conns)] + (["--no-docker"]
                                                                if args.no_docker else [])
        # nsenter --net, not ip netns exec: that remounts /sys, hiding the cgroup
        # mounts dockerd needs
        r = subprocess.run(["nsenter", f"--net=/run/netns/{ns}", *argv],
                           capture_output=True, text=True, timeout=3600)
        line = next((x for x in r.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            sys.exit(f"benchmark failed:\n{r.stdout}\n{r.stderr}")
        report(json.loads(line[7:]), args)
    finally:
        sh("ip", "netns", "del", ns, check=False)


if __name__ == "__main__":
    main()
