"""The embedded DNS server on a bridge's gateway, asked from inside a namespace;
tc rate limits on a host-side veth."""

from __future__ import annotations

import json
import os
import socket
import time

from dockyard.network import bandwidth
from dockyard.network.dns import DnsServer, NameTable, Upstream
from dockyard.network.names import ifb_name
from tests.integration.network.conftest import sh


def lookup(lab, ns: str, name: str, server: str) -> list[str]:
    out = lab.run(ns, "nslookup", "-type=a", name, server, check=False, timeout=15).stdout
    # busybox prints the server first ("Server:/Address:"), then the answers
    answers = out.split("Name:", 1)[1] if "Name:" in out else ""
    return [line.split()[-1] for line in answers.splitlines()
            if line.strip().startswith("Address")]


def test_names_aliases_round_robin_and_forwarding_from_a_namespace(lab):
    br = lab.add_bridge(12)
    a = lab.add_netns()
    lab.plug(a, br, 12, 2)
    gw = lab.ip(12, 1)

    upstream_table = NameTable()
    upstream_table.add("outside.test", "192.0.2.77")
    table = NameTable()
    table.add("db", lab.ip(12, 5))
    for host in (6, 7, 8):
        table.add("web", lab.ip(12, host))
    with DnsServer("127.0.0.1", upstream_table, port=0, upstreams=[]) as up, \
            DnsServer(gw, table, port=53, clients=[lab.subnet(12)],
                      upstreams=[Upstream("127.0.0.1", up.port)]):
        assert lookup(lab, a, "db", gw) == [lab.ip(12, 5)]
        orders = [lookup(lab, a, "web", gw) for _ in range(3)]
        assert all(sorted(o) == sorted(lab.ip(12, h) for h in (6, 7, 8)) for o in orders)
        assert len({o[0] for o in orders}) == 3, f"not round-robin: {orders}"
        assert lookup(lab, a, "outside.test", gw) == ["192.0.2.77"]
        table.remove_address(lab.ip(12, 5))
        assert lookup(lab, a, "db", gw) == []


def qdiscs(dev: str) -> list[dict]:
    return json.loads(sh("tc", "-j", "qdisc", "show", "dev", dev).stdout)


def send_mb(ip: str, port: int, size: int) -> float:
    """Send ``size`` bytes and wait until the receiver has them all and hangs up."""
    for _ in range(50):
        try:
            s = socket.create_connection((ip, port), timeout=2)
            break
        except OSError:
            time.sleep(0.1)
    start = time.monotonic()
    with s:
        s.settimeout(60)
        s.sendall(b"x" * size)
        s.shutdown(socket.SHUT_WR)
        while s.recv(65536):
            pass
    return time.monotonic() - start


def test_rate_limits_are_installed_measured_and_cleared(lab):
    br = lab.add_bridge(13)
    a = lab.add_netns()
    info = lab.plug(a, br, 13, 2)
    dev = info.host_ifname
    ifb = ifb_name("a13", prefix=lab.token)
    limit = bandwidth.parse_network_rate("ingress=4mbit,egress=2mbit")
    try:
        _check_limits(lab, dev, ifb, limit)
    finally:
        bandwidth.clear_limits(dev, ifb)
    assert not any(q["kind"] in ("tbf", "ingress") for q in qdiscs(dev))
    assert ifb not in os.listdir("/sys/class/net")


def _check_limits(lab, dev: str, ifb: str, limit: bandwidth.RateLimit) -> None:
    bandwidth.apply_limits(dev, limit, ifb)

    root = [q for q in qdiscs(dev) if q["kind"] == "tbf"]
    assert root and root[0]["options"]["rate"] == 500000  # bytes per second
    assert any(q["kind"] == "ingress" for q in qdiscs(dev))
    filters = sh("tc", "filter", "show", "dev", dev, "ingress").stdout
    assert f"Redirect to device {ifb}" in filters
    shaped = [q for q in qdiscs(ifb) if q["kind"] == "tbf"]
    assert shaped and shaped[0]["options"]["rate"] == 250000

    # roughly: 1 MB toward the container at 4 Mbit/s takes ~2 s (accept >= 1 s)
    lab.spawn(lab.netns[-1], "nc", "-l", "-p", "5001")
    elapsed = send_mb(lab.ip(13, 2), 5001, 1_000_000)
    assert elapsed >= 1.0, f"1 MB at 4mbit took only {elapsed:.2f}s: not shaped"
    stats = json.loads(sh("tc", "-s", "-j", "qdisc", "show", "dev", dev, "root").stdout)
    assert stats[0]["bytes"] >= 1_000_000, f"the data did not pass the shaper: {stats}"

    # and 1 MB from the container at 2 Mbit/s takes ~4 s (accept >= 2 s)
    srv = socket.create_server((lab.ip(13, 1), 0))
    with srv:
        port = srv.getsockname()[1]
        sender = lab.spawn(lab.netns[-1], "sh", "-c",
                           f"{lab.busybox} head -c 1000000 /dev/zero | "
                           f"{lab.busybox} nc {lab.ip(13, 1)} {port}")
        conn, _ = srv.accept()
        start = time.monotonic()
        with conn:
            conn.settimeout(60)
            got = 0
            while got < 1_000_000:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                got += len(chunk)
        elapsed = time.monotonic() - start
        sender.wait(timeout=30)
    assert got == 1_000_000 and elapsed >= 2.0, f"egress {got} B in {elapsed:.2f}s"

    bandwidth.apply_limits(dev, bandwidth.RateLimit(ingress=8_000_000), ifb)
    assert not any(q["kind"] == "ingress" for q in qdiscs(dev))
    assert ifb not in os.listdir("/sys/class/net")
