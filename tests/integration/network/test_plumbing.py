"""Bridges and veths: real links, real namespaces, real packets (busybox)."""

from __future__ import annotations

import json
import os
import time

import pytest

from dockyard.errors import Conflict, NotFound, SystemError_
from dockyard.network import bridge, veth
from tests.integration.network.conftest import OCTET, sh


def links() -> set[str]:
    return set(os.listdir("/sys/class/net"))


def test_two_namespaces_on_a_bridge_ping_and_talk_tcp(lab):
    br = lab.add_bridge(1, mtu=1400)
    a, b = lab.add_netns(), lab.add_netns()
    info = lab.plug(a, br, 1, 2, mtu=1400)
    lab.plug(b, br, 1, 3, mtu=1400)

    inside = json.loads(sh("ip", "-n", a, "-j", "addr", "show", "eth0").stdout)[0]
    assert inside["mtu"] == 1400 and inside["address"] == info.mac
    assert any(x["local"] == lab.ip(1, 2) for x in inside["addr_info"])
    route = json.loads(sh("ip", "-n", a, "-j", "route", "show", "default").stdout)
    assert route[0]["gateway"] == lab.ip(1, 1)
    lo = json.loads(sh("ip", "-n", a, "-j", "link", "show", "lo").stdout)[0]
    assert "UP" in lo["flags"]
    detail = json.loads(sh("ip", "-d", "-j", "link", "show", info.host_ifname).stdout)[0]
    assert detail["master"] == br and detail["linkinfo"]["info_slave_data"]["hairpin"]

    assert lab.pings(a, lab.ip(1, 3))
    assert lab.pings(a, lab.ip(1, 1))  # the gateway, on the host
    lab.spawn(b, "nc", "-l", "-p", "7777", "-e", "echo", "hello-from-b")
    for _ in range(50):
        out = lab.run(a, "nc", lab.ip(1, 3), "7777", check=False, timeout=5).stdout
        if "hello-from-b" in out:
            break
        time.sleep(0.1)
    assert "hello-from-b" in out


def test_detach_and_delete_remove_every_link(lab):
    br = lab.add_bridge(2)
    a = lab.add_netns()
    info = lab.plug(a, br, 2, 2)
    assert {br, info.host_ifname} <= links()
    assert veth.detach(info.host_ifname) is True
    assert veth.detach(info.host_ifname) is False
    assert "eth0" not in sh("ip", "-n", a, "link").stdout
    assert bridge.delete_bridge(br) is True
    assert bridge.delete_bridge(br) is False
    assert not {br, info.host_ifname} & links()


def test_failed_attach_leaves_nothing_behind(lab):
    br = lab.add_bridge(3)
    a = lab.add_netns()
    before = links()
    with pytest.raises(NotFound, match="does not exist"):
        veth.attach(veth.EndpointSpec(f"{lab.token}vx1", f"/run/netns/{lab.token}-nope", br))
    with pytest.raises(NotFound, match="bridge"):
        veth.attach(veth.EndpointSpec(f"{lab.token}vx1", lab.path(a), f"{lab.token}-zz"))
    lab.plug(a, br, 3, 2)
    # a second eth0 in the same namespace: refused, and no host end left over
    with pytest.raises(Conflict):
        veth.attach(veth.EndpointSpec(f"{lab.token}vx2", lab.path(a), br))
    # a bad gateway fails after the pair exists: it must be deleted again
    b = lab.add_netns()
    with pytest.raises(SystemError_, match="configure endpoint"):
        veth.attach(veth.EndpointSpec(f"{lab.token}vx3", lab.path(b), br,
                                      (f"{lab.ip(3, 9)}/24",), ("10.254.254.1",)))
    assert links() - before == {lab.veths[-1]}
    assert "eth0" not in sh("ip", "-n", b, "link").stdout


def test_bridge_name_taken_is_conflict(lab):
    br = lab.add_bridge(4)
    with pytest.raises(Conflict):
        bridge.create_bridge(bridge.BridgeSpec(br))


def test_icc_false_isolates_ports_but_not_the_gateway(lab):
    br = lab.add_bridge(5)
    a, b = lab.add_netns(), lab.add_netns()
    lab.plug(a, br, 5, 2, isolated=True)
    lab.plug(b, br, 5, 3, isolated=True)
    assert lab.pings(a, lab.ip(5, 1))
    assert not lab.pings(a, lab.ip(5, 3))


def test_ensure_bridge_adopts_a_live_bridge_after_a_restart(lab):
    br = lab.add_bridge(14)
    a = lab.add_netns()
    lab.plug(a, br, 14, 2)
    sh("ip", "addr", "flush", "dev", br)  # as if half-restored
    assert not lab.pings(a, lab.ip(14, 1))
    spec = bridge.BridgeSpec(br, (f"{lab.ip(14, 1)}/24",))
    bridge.ensure_bridge(spec)
    bridge.ensure_bridge(spec)  # idempotent
    assert lab.pings_within(a, lab.ip(14, 1))
    addrs = json.loads(sh("ip", "-4", "-j", "addr", "show", "dev", br).stdout)[0]
    assert [x["local"] for x in addrs["addr_info"]] == [lab.ip(14, 1)]


def test_ensure_bridge_refuses_a_non_bridge(lab):
    a = lab.add_netns()
    info = lab.plug(a, lab.add_bridge(15), 15, 2)
    with pytest.raises(Conflict, match="not a bridge"):
        bridge.ensure_bridge(bridge.BridgeSpec(info.host_ifname))


def test_dual_stack_endpoints_reach_each_other_over_ipv6(lab):
    v6 = f"fd00:{OCTET}:17"
    br = lab.token + "-b17"
    lab.bridges.append(br)
    bridge.create_bridge(bridge.BridgeSpec(br, (f"{lab.ip(17, 1)}/24", f"{v6}::1/64")))
    a, b = lab.add_netns(), lab.add_netns()
    for ns, host in ((a, 2), (b, 3)):
        name = f"{lab.token}v6{host}"
        lab.veths.append(name)
        veth.attach(veth.EndpointSpec(name, lab.path(ns), br,
                                      (f"{lab.ip(17, host)}/24", f"{v6}::{host}/64"),
                                      (lab.ip(17, 1), f"{v6}::1")))
    route = sh("ip", "-n", a, "-6", "route", "show", "default").stdout
    assert f"via {v6}::1" in route
    assert lab.run(a, "ping", "-6", "-c", "1", "-W", "2", f"{v6}::3",
                   check=False).returncode == 0
    assert lab.pings(a, lab.ip(17, 3))
