"""nftables NAT and filtering in a token-named table: published ports, hairpin,
masquerade, isolation, internal networks."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from dockyard.network import nat
from dockyard.network.nat import NatState, NetworkRules, PortMapping
from tests.integration.network.conftest import free_port, sh


def host_address(lab) -> str:
    """The host's own global IPv4 address (not loopback, not a test bridge)."""
    for link in json.loads(sh("ip", "-4", "-j", "addr").stdout):
        if link["ifname"] == "lo" or lab.token in link["ifname"]:
            continue
        for a in link.get("addr_info", []):
            if a.get("scope") == "global":
                return a["local"]
    pytest.fail("the host has no global IPv4 address to publish a port on", pytrace=False)


def fetch(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=3) as r:
            return r.read().decode()
    except (urllib.error.URLError, OSError):
        return None


def serve(lab, ns: str, tmp_path) -> str:
    root = tmp_path / "www"
    root.mkdir()
    (root / "index.html").write_text(f"page-{lab.token}\n")
    lab.spawn(ns, "httpd", "-f", "-p", "80", "-h", str(root))
    return f"page-{lab.token}\n"


def wait_fetch(url: str, want: str) -> str | None:
    import time

    for _ in range(30):
        got = fetch(url)
        if got == want:
            return got
        time.sleep(0.1)
    return got


def test_published_port_from_loopback_host_address_and_hairpin(lab, tmp_path):
    br = lab.add_bridge(6)
    a, b = lab.add_netns(), lab.add_netns()
    lab.plug(a, br, 6, 2)
    lab.plug(b, br, 6, 3)
    page = serve(lab, a, tmp_path)
    me = host_address(lab)
    p_lo, p_all = free_port(), free_port()
    assert fetch(f"http://127.0.0.1:{p_lo}/") is None  # nothing published yet

    nat.apply(NatState((NetworkRules(br, (lab.subnet(6),)),), (
        PortMapping(lab.ip(6, 2), 80, p_lo, host_ip="127.0.0.1"),
        PortMapping(lab.ip(6, 2), 80, p_all),
    )), lab.table)

    assert wait_fetch(f"http://127.0.0.1:{p_lo}/", page) == page
    assert fetch(f"http://{me}:{p_all}/") == page
    assert fetch(f"http://127.0.0.1:{p_all}/") == page
    assert fetch(f"http://{me}:{p_lo}/") is None  # bound to 127.0.0.1 only
    # hairpin: the container itself and its neighbour through the host's address
    # (no wget -T: Debian's static busybox 1.35 wget segfaults with it)
    for ns in (a, b):
        out = lab.run(ns, "wget", "-q", "-O", "-", f"http://{me}:{p_all}/", timeout=10,
                      check=False)
        assert out.stdout == page, f"hairpin from {ns}: {out.stderr}"

    nat.remove(lab.table)
    assert fetch(f"http://127.0.0.1:{p_lo}/") is None


def test_port_range_and_udp_rules_load(lab):
    br = lab.add_bridge(7)
    base = free_port()
    nat.apply(NatState((NetworkRules(br, (lab.subnet(7),)),), (
        PortMapping(lab.ip(7, 2), 9000, 40000, "udp", host_port_end=40003,
                    container_port_end=9003),
        PortMapping(lab.ip(7, 2), 80, base, host_ip="127.0.0.1"),
    )), lab.table)
    listed = sh("nft", "list", "table", "inet", lab.table).stdout
    for i in range(4):
        assert f"udp dport {40000 + i} dnat ip to {lab.ip(7, 2)}:{9000 + i}" in listed
    # applying again replaces, never duplicates
    nat.apply(NatState((NetworkRules(br, (lab.subnet(7),)),)), lab.table)
    assert "dport" not in sh("nft", "list", "table", "inet", lab.table).stdout


def _outside(lab, n: int) -> str:
    """A namespace on a plain (non-dockyard) bridge, with no route back to anyone:
    it can only answer a packet whose source was masqueraded to its gateway."""
    from dockyard.network import bridge, veth
    from dockyard.network.names import bridge_name, veth_name

    br = bridge_name(f"o{n}", prefix=lab.token)
    lab.bridges.append(br)
    bridge.create_bridge(bridge.BridgeSpec(br, (f"{lab.ip(n, 1)}/24",)))
    ns = lab.add_netns()
    name = veth_name(f"o{n}", prefix=lab.token)
    lab.veths.append(name)
    veth.attach(veth.EndpointSpec(name, lab.path(ns), br, (f"{lab.ip(n, 9)}/24",)))
    return ns


def test_masquerade_isolation_and_internal(lab):
    if Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() != "1":
        pytest.fail("net.ipv4.ip_forward is 0 on this host: routed tests need it on",
                    pytrace=False)
    br_a, br_b, br_i = lab.add_bridge(8), lab.add_bridge(9), lab.add_bridge(10)
    a, b, i = lab.add_netns(), lab.add_netns(), lab.add_netns()
    lab.plug(a, br_a, 8, 2)
    lab.plug(b, br_b, 9, 2)
    lab.plug(i, br_i, 10, 2)
    out = _outside(lab, 11)
    target = lab.ip(11, 9)

    # controls: without dockyard's table A reaches B (plain routing), but not the
    # outside namespace (it has no route back)
    assert lab.pings(a, lab.ip(9, 2)), "routing between test bridges is broken on this host"
    assert not lab.pings(a, target)

    nat.apply(NatState((
        NetworkRules(br_a, (lab.subnet(8),)),
        NetworkRules(br_b, (lab.subnet(9),)),
        NetworkRules(br_i, (lab.subnet(10),), internal=True),
    )), lab.table)

    assert lab.pings_within(a, target), "masquerade: A reaches the outside"
    assert lab.pings_within(b, target)
    assert not lab.pings(a, lab.ip(9, 2)), "isolation: A must not reach B"
    assert not lab.pings(b, lab.ip(8, 2)), "isolation: B must not reach A"
    assert not lab.pings(i, target), "internal: no way out"
    assert not lab.pings(a, lab.ip(10, 2)), "internal: no way in"
    assert lab.pings(i, lab.ip(10, 1)), "internal: its gateway still answers"
    assert out
