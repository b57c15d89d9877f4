"""Networking through the CLI: the README demo (a published port serving a page),
``network create/ls/inspect/connect/rm``.

Its own daemon with a private address pool; after the daemon stops, the network
state it leaves on purpose (bridges, nft table: live restore) is uninstalled and
checked gone, as the network room's tests do.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
import urllib.request
from collections.abc import Iterator

import pytest

from tests.integration.daemon.harness import bootstrap_busybox, running_daemon, short_workdir

from .clid import CLI, name

POOL = {"default-address-pools": [{"base": f"10.{200 + os.getpid() % 50}.64.0/18",
                                   "size": 24}]}


@pytest.fixture   # per test: the leak check wants the bridge gone after each one
def net_cli(tmp_path_factory) -> Iterator[CLI]:
    work = short_workdir(tmp_path_factory, "cn")
    (work / "daemon.json").write_text(json.dumps(POOL))
    bootstrap_busybox(work / "root")
    left: dict[str, list[str]] = {}
    try:
        with running_daemon(work) as d:
            if d.request("GET", "/containers/json").status == 404:
                pytest.xfail("this tree's dockyardd has no container endpoints yet (the "
                             "engine branches are not merged here)")
            cli = CLI(d)
            try:
                yield cli
            finally:
                cli.remove_all()
    finally:
        try:
            from dockyard.network.service import NetworkService
        except ImportError:
            pass
        else:
            svc = NetworkService(work / "root" / "network", work / "exec", POOL)
            asyncio.run(svc.uninstall())
            left = {k: v for k, v in svc.kernel_objects().items() if v}
    assert not left, f"network objects left after the daemon: {left}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fetch(url: str, timeout: float = 15) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_published_port_serves_a_page(net_cli: CLI):
    """The README demo, command for command."""
    cli = net_cli
    port = _free_port()
    n = name("web")
    cli.ok("run", "-d", "--name", n, "-p", f"{port}:80", "busybox", "sh", "-c",
           "mkdir -p /www && echo 'hello from dockyard' > /www/index.html && "
           "httpd -f -p 80 -h /www")
    try:
        assert cli.ok("port", n, "80") == f"0.0.0.0:{port}\n"
        assert f"0.0.0.0:{port}->80/tcp" in cli.ok("ps", "--format", "{{.Ports}}")
        assert _fetch(f"http://127.0.0.1:{port}/") == b"hello from dockyard\n"
        ip = cli.ok("inspect", "-f", "{{.NetworkSettings.IPAddress}}", n).strip()
        assert ip.startswith(POOL["default-address-pools"][0]["base"].split(".")[0] + ".")
    finally:
        cli.ok("rm", "-f", n)


def test_user_network_and_dns(net_cli: CLI):
    cli = net_cli
    net = name("net")
    nid = cli.ok("network", "create", net).strip()
    assert len(nid) == 64
    try:
        assert net in cli.ok("network", "ls", "--format", "{{.Name}}").split()
        assert cli.ok("network", "inspect", "-f", "{{.Driver}}", net) == "bridge\n"
        srv = name("srv")
        cli.ok("run", "-d", "--name", srv, "--network", net, "--network-alias", "db",
               "busybox", "sleep", "300")
        out = cli.run("run", "--rm", "--network", net, "busybox", "sh", "-c",
                      "sleep 0.2; ping -c1 -W2 db >/dev/null && echo reached")
        assert out.stdout == "reached\n", out.stderr
        net2 = name("net2")
        subnet = f"10.{200 + os.getpid() % 50}.200"   # outside the pools, ours alone
        cli.ok("network", "create", "--subnet", f"{subnet}.0/24", net2)
        try:
            cli.ok("network", "connect", "--ip", f"{subnet}.9", net2, srv)
            nets = cli.ok("inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}"
                          "{{$k}}={{$v.IPAddress}} {{end}}", srv).split()
            assert f"{net2}={subnet}.9" in nets and any(x.startswith(net + "=")
                                                        for x in nets)
            cli.ok("network", "disconnect", net2, srv)
            assert net2 not in cli.ok("inspect", "-f", "{{json .NetworkSettings.Networks}}",
                                      srv)
        finally:
            cli.ok("rm", "-f", srv)
            cli.ok("network", "rm", net2)
    finally:
        cli.ok("network", "rm", net)
    assert net not in cli.ok("network", "ls", "--format", "{{.Name}}").split()
