"""A NetworkService under test, with fake containers (busybox processes in the netns it
made), on an event loop in a background thread like the daemon's.

Kernel names carry the session token (``link_prefix``, nft table, default bridge);
the state and netns files live under tmp_path; the address pool is private to this
pytest process (10.<100 + pid % 100>.128.0/17, /24 networks). ``close`` kills the
processes, uninstalls the service and checks its leak report is empty.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import threading
import time
from pathlib import Path

from dockyard.network.service import ContainerNet, ContainerNetRequest, NetworkService
from tests.integration.network.conftest import OCTET


class SvcLab:
    def __init__(self, tmp_path: Path, token: str, busybox: Path, **config) -> None:
        self.tmp = tmp_path
        self.token = token
        self.busybox = str(busybox)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.procs: list[subprocess.Popen] = []
        self.config = {"default-address-pools": [{"base": f"10.{OCTET}.128.0/17",
                                                  "size": 24}], **config}
        self.svc = self.new_service()
        self.call(self.svc.start())

    def new_service(self) -> NetworkService:
        return NetworkService(self.tmp / "data" / "network", self.tmp / "exec", self.config,
                              link_prefix=self.token, nft_table=f"dysvc-{self.token}",
                              default_bridge=f"{self.token}-0")

    def call(self, coro, timeout: float = 60):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def request(self, cid: str, name: str, mode: str = "", **kw) -> ContainerNetRequest:
        fields = dict(container_id=cid, name=name, hostname=cid[:12], domainname="",
                      network_mode=mode, endpoints={}, port_bindings={}, publish_all=False,
                      exposed_ports={}, dns=[], dns_search=[], dns_options=[],
                      extra_hosts=[], files_dir=str(self.tmp / "containers" / cid))
        fields.update(kw)
        return ContainerNetRequest(**fields)

    def cid(self, n: int | str) -> str:
        import hashlib

        return hashlib.sha256(f"{self.token}-{n}".encode()).hexdigest()

    def start(self, n: int | str, name: str, mode: str = "", **kw) -> ContainerNet:
        return self.call(self.svc.setup(self.request(self.cid(n), name, mode, **kw)))

    def stop(self, n: int | str) -> None:
        self.call(self.svc.teardown(self.cid(n)))
        assert self.svc.settle(), "veths of a released netns did not go away"

    # -- fake container processes ---------------------------------------------------
    def run(self, net: ContainerNet, *argv: str, check: bool = False, timeout: float = 20):
        return subprocess.run(["nsenter", f"--net={net.netns}", self.busybox, *argv],
                              capture_output=True, text=True, timeout=timeout, check=check)

    def spawn(self, net: ContainerNet, *argv: str) -> subprocess.Popen:
        p = subprocess.Popen(["nsenter", f"--net={net.netns}", self.busybox, *argv],
                             stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        self.procs.append(p)
        return p

    def serve(self, net: ContainerNet, text: str, port: int = 80) -> None:
        root = self.tmp / f"www-{len(self.procs)}"
        root.mkdir()
        (root / "index.html").write_text(text)
        self.spawn(net, "httpd", "-f", "-p", str(port), "-h", str(root))

    def wget(self, net: ContainerNet, url: str) -> str | None:
        out = self.run(net, "wget", "-q", "-O", "-", url, timeout=15)
        return out.stdout if out.returncode == 0 else None

    def lookup(self, net: ContainerNet, name: str, server: str) -> list[str]:
        proc = self.run(net, "nslookup", "-type=a", name, server, timeout=15)
        out = proc.stdout
        if "timed out" in proc.stdout + proc.stderr:
            raise AssertionError(f"nslookup {name} {server}: no answer: {proc}")
        answers = out.split("Name:", 1)[1] if "Name:" in out else ""
        return [line.split()[-1] for line in answers.splitlines()
                if line.strip().startswith("Address")]

    def pings(self, net: ContainerNet, ip: str, seconds: float = 0) -> bool:
        deadline = time.monotonic() + seconds
        while True:
            if self.run(net, "ping", "-c", "1", "-W", "1", ip).returncode == 0:
                return True
            if time.monotonic() >= deadline:
                return False

    def kill_procs(self) -> None:
        for p in self.procs:
            p.kill()
            p.wait(timeout=10)
            if p.stdin:
                p.stdin.close()
        self.procs.clear()

    def close(self) -> dict[str, list[str]]:
        self.kill_procs()
        try:
            self.call(self.svc.uninstall())
            return {k: v for k, v in self.svc.kernel_objects().items() if v}
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)
            self.loop.close()


def ip_of(net: ContainerNet, network: str) -> str:
    return net.settings["Networks"][network]["IPAddress"]


def gateway_of(net: ContainerNet, network: str) -> str:
    return net.settings["Networks"][network]["Gateway"]


def links() -> set[str]:
    return set(os.listdir("/sys/class/net"))
