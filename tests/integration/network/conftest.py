"""A small lab for network integration tests: token-named netns, bridges, processes.

Everything created here carries the session token (``DOCKYARD_TEST_TOKEN``) in its
name and is removed at the end of the test, errors included: processes first (they
hold sockets in the namespaces), then veths, bridges, nft table, namespaces.
Subnets are 10.<100 + pid % 100>.<n>.0/24, only ever on these bridges.
"""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from dockyard.network import bridge, nat, veth
from dockyard.network.names import bridge_name, veth_name
from tests.conftest import require_root

OCTET = 100 + os.getpid() % 100


def sh(*argv: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{argv} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_port_range(count: int) -> int:
    """The first of ``count`` consecutive TCP ports free on every address, chosen below
    the kernel's ephemeral range so no outgoing connection takes one meanwhile."""
    import random

    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, max(low - count, 20001))
        held = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                held.append(s)
                s.bind(("0.0.0.0", port))
            return base
        except OSError:
            continue
        finally:
            for s in held:
                s.close()
    raise RuntimeError(f"no {count} consecutive free ports below {low}")


class Lab:
    def __init__(self, token: str, busybox: Path) -> None:
        self.token = token
        self.busybox = str(busybox)
        self.table = f"dockyard-{token}"
        self.netns: list[str] = []
        self.bridges: list[str] = []
        self.veths: list[str] = []
        self.procs: list[subprocess.Popen] = []
        self._n = 0

    def subnet(self, n: int) -> str:
        return f"10.{OCTET}.{n}.0/24"

    def ip(self, n: int, host: int) -> str:
        return f"10.{OCTET}.{n}.{host}"

    def add_netns(self) -> str:
        self._n += 1
        name = f"{self.token}-n{self._n}"
        sh("ip", "netns", "add", name)
        self.netns.append(name)
        return name

    def path(self, ns: str) -> str:
        return f"/run/netns/{ns}"

    def add_bridge(self, n: int, **kw) -> str:
        name = bridge_name(f"b{n}", prefix=self.token)
        self.bridges.append(name)
        bridge.create_bridge(bridge.BridgeSpec(name, (f"{self.ip(n, 1)}/24",), **kw))
        return name

    def plug(self, ns: str, br: str, n: int, host: int, **kw) -> veth.EndpointInfo:
        name = veth_name(f"{ns[-2:]}{host}", prefix=self.token)
        self.veths.append(name)
        return veth.attach(veth.EndpointSpec(
            name, self.path(ns), br, (f"{self.ip(n, host)}/24",), (self.ip(n, 1),), **kw))

    def run(self, ns: str, *argv: str, check: bool = True, timeout: float = 30):
        return sh("ip", "netns", "exec", ns, self.busybox, *argv, check=check,
                  timeout=timeout)

    def spawn(self, ns: str, *argv: str) -> subprocess.Popen:
        # stdin stays an open pipe: busybox nc hangs up when its stdin ends
        p = subprocess.Popen(["ip", "netns", "exec", ns, self.busybox, *argv],
                             stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        self.procs.append(p)
        return p

    def pings(self, ns: str, ip: str) -> bool:
        return self.run(ns, "ping", "-c", "1", "-W", "1", ip, check=False).returncode == 0

    def pings_within(self, ns: str, ip: str, seconds: float = 5.0) -> bool:
        """For a path that just came (back) up: a neighbour entry left FAILED by an
        earlier probe needs a moment to be resolved again."""
        import time

        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.pings(ns, ip):
                return True
        return False

    def teardown(self) -> list[str]:
        errors = []
        for p in self.procs:
            p.kill()
            p.wait(timeout=10)
            if p.stdin:
                p.stdin.close()
        for name in self.veths:
            try:
                veth.detach(name)
            except Exception as e:  # keep going: everything must be tried
                errors.append(f"veth {name}: {e}")
        for name in self.bridges:
            try:
                bridge.delete_bridge(name)
            except Exception as e:
                errors.append(f"bridge {name}: {e}")
        try:
            nat.remove(self.table)
        except Exception as e:
            errors.append(f"nft table {self.table}: {e}")
        for ns in self.netns:
            r = sh("ip", "netns", "del", ns, check=False)
            if r.returncode != 0:
                errors.append(f"netns {ns}: {r.stderr.strip()}")
        return errors


@pytest.fixture
def lab(busybox_binary: Path):
    require_root()
    token = os.environ["DOCKYARD_TEST_TOKEN"]
    lab = Lab(token, busybox_binary)
    try:
        yield lab
    finally:
        errors = lab.teardown()
    assert not errors, f"lab teardown failed: {errors}"
    tables = sh("nft", "list", "tables").stdout
    assert lab.table not in tables
