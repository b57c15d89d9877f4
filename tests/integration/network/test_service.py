"""NetworkService end to end with fake containers (busybox processes in the netns the
service made): names, published ports, isolation, bad input, restore, teardown."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest

from dockyard.errors import Conflict, Forbidden, InvalidArgument, NotFound
from dockyard.network import netns
from tests.conftest import require_root
from tests.integration.network.conftest import free_port, free_port_range, sh
from tests.integration.network.svclab import SvcLab, gateway_of, ip_of, links
from tests.integration.network.test_nat import fetch, wait_fetch


@pytest.fixture
def svclab(tmp_path: Path, busybox_binary: Path):
    require_root()
    lab = SvcLab(tmp_path, os.environ["DOCKYARD_TEST_TOKEN"], busybox_binary)
    try:
        yield lab
    finally:
        left = lab.close()
    assert not left, f"the service left kernel objects behind: {left}"


def host_address() -> str:
    for link in json.loads(sh("ip", "-4", "-j", "addr").stdout):
        if link["ifname"] == "lo" or link["ifname"].startswith("dy"):
            continue
        for a in link.get("addr_info", []):
            if a.get("scope") == "global":
                return a["local"]
    pytest.fail("the host has no global IPv4 address", pytrace=False)


def test_default_bridge_host_and_none_modes(svclab):
    svc = svclab.svc
    names = {n["Name"]: n for n in svc.list()}
    assert set(names) == {"bridge", "host", "none"}
    assert names["bridge"]["Options"]["com.docker.network.bridge.name"] == f"{svclab.token}-0"
    assert f"{svclab.token}-0" not in links()        # made when first needed
    assert svclab.svc.kernel_objects()["nft_tables"] == []

    c = svclab.start(1, "plain")
    assert f"{svclab.token}-0" in links()
    s = c.settings
    assert s["IPAddress"] == s["Networks"]["bridge"]["IPAddress"] and s["IPAddress"]
    assert s["MacAddress"].startswith("02:42:") and s["SandboxKey"] == c.netns
    assert s["Networks"]["bridge"]["NetworkID"] == names["bridge"]["Id"]
    resolv = Path(c.files["/etc/resolv.conf"]).read_text()
    assert gateway_of(c, "bridge") not in resolv          # no embedded DNS on bridge
    assert "nameserver" in resolv
    hosts = Path(c.files["/etc/hosts"]).read_text()
    assert f"{s['IPAddress']}\t{svclab.cid(1)[:12]}" in hosts
    assert Path(c.files["/etc/hostname"]).read_text() == svclab.cid(1)[:12] + "\n"
    assert svclab.pings(c, gateway_of(c, "bridge"), seconds=3)
    inspect = svc.inspect("bridge")
    assert inspect["Containers"][svclab.cid(1)]["IPv4Address"].startswith(s["IPAddress"] + "/")

    h = svclab.start(2, "hostnet", "host", hostname="myhost")
    assert h.netns is None and h.settings["Networks"].keys() == {"host"}
    assert Path(h.files["/etc/hosts"]).read_text().startswith(Path("/etc/hosts").read_text())
    n = svclab.start(3, "nonet", "none")
    assert netns.is_netns(n.netns) and n.settings["Networks"].keys() == {"none"}
    assert "eth0" not in sh("nsenter", f"--net={n.netns}", "ip", "link").stdout
    assert svclab.run(n, "ping", "-c", "1", "-W", "1", "127.0.0.1").returncode == 0

    for i in (1, 2, 3):
        svclab.stop(i)
        svclab.stop(i)  # idempotent
    left = svclab.svc.kernel_objects()
    assert left["netns"] == [] and left["links"] == [f"{svclab.token}-0"]
    assert svc.inspect("bridge")["Containers"] == {}


def test_two_containers_reach_each_other_by_name_and_aliases_round_robin(svclab):
    svclab.svc.create({"Name": f"{svclab.token}-app", "Labels": {"t": "1"}})
    net = f"{svclab.token}-app"
    a = svclab.start(1, "alpha", net)
    b = svclab.start(2, "beta", net)
    gw = gateway_of(a, net)
    assert Path(a.files["/etc/resolv.conf"]).read_text().count("nameserver") == 1
    assert f"nameserver {gw}" in Path(a.files["/etc/resolv.conf"]).read_text()
    assert svclab.lookup(a, "beta", gw) == [ip_of(b, net)]
    assert svclab.lookup(b, "alpha", gw) == [ip_of(a, net)]
    assert svclab.lookup(a, svclab.cid(2)[:12], gw) == [ip_of(b, net)]
    svclab.serve(b, "hello-from-beta\n")
    ip = svclab.lookup(a, "beta", gw)[0]
    for _ in range(30):
        if svclab.wget(a, f"http://{ip}/") == "hello-from-beta\n":
            break
        time.sleep(0.1)
    assert svclab.wget(a, f"http://{ip}/") == "hello-from-beta\n"

    replicas = [svclab.start(10 + i, f"web{i}", net,
                             endpoints={net: {"Aliases": ["web"]}}) for i in range(3)]
    want = sorted(ip_of(r, net) for r in replicas)
    orders = [svclab.lookup(a, "web", gw) for _ in range(3)]
    assert all(sorted(o) == want for o in orders), orders
    assert len({o[0] for o in orders}) == 3, f"not round-robin: {orders}"
    assert replicas[0].settings["Networks"][net]["Aliases"][0] == "web"

    svclab.stop(11)
    assert sorted(svclab.lookup(a, "web", gw)) == sorted(
        ip_of(r, net) for r in (replicas[0], replicas[2]))
    svclab.svc.rename(svclab.cid(2), "/gamma")
    assert svclab.lookup(a, "gamma", gw) == [ip_of(b, net)]
    assert svclab.lookup(a, "beta", gw) == []
    assert svclab.lookup(a, "web1", gw) == []
    with pytest.raises(Forbidden, match="active endpoints"):
        svclab.svc.remove(net)


def test_published_port_on_loopback_host_address_and_hairpin(svclab):
    me = host_address()
    p_lo, p_all = free_port(), free_port()
    c = svclab.start(1, "web", port_bindings={
        "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(p_lo)}],
        "81/tcp": [{"HostIp": "", "HostPort": str(p_all)}]},
        exposed_ports={"80/tcp": {}, "81/tcp": {}, "82/udp": {}})
    ports = c.settings["Ports"]
    assert ports["80/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": str(p_lo)}]
    assert ports["81/tcp"] == [{"HostIp": "0.0.0.0", "HostPort": str(p_all)}]
    assert ports["82/udp"] is None
    svclab.serve(c, "published\n", 80)
    svclab.serve(c, "published\n", 81)
    assert wait_fetch(f"http://127.0.0.1:{p_lo}/", "published\n") == "published\n"
    assert wait_fetch(f"http://{me}:{p_all}/", "published\n") == "published\n"
    assert fetch(f"http://127.0.0.1:{p_all}/") == "published\n"
    assert fetch(f"http://{me}:{p_lo}/") is None          # bound to 127.0.0.1 only
    other = svclab.start(2, "client")
    assert svclab.wget(other, f"http://{me}:{p_all}/") == "published\n"
    assert svclab.wget(c, f"http://{me}:{p_all}/") == "published\n"   # hairpin

    # the port is held: nobody else can bind it while published
    with pytest.raises(OSError), socket.socket() as s:
        s.bind(("127.0.0.1", p_lo))
    svclab.stop(1)
    assert fetch(f"http://127.0.0.1:{p_lo}/") is None
    with socket.socket() as s:
        s.bind(("127.0.0.1", p_lo))                       # released


def test_publish_all_ranges_and_udp(svclab):
    base = free_port_range(2)
    c = svclab.start(1, "many", publish_all=True,
                     exposed_ports={"80/tcp": {}, "53/udp": {}},
                     port_bindings={"7000-7001/tcp": [{"HostPort": f"{base}-{base + 1}"}]})
    ports = c.settings["Ports"]
    assert int(ports["80/tcp"][0]["HostPort"]) > 1024
    assert ports["53/udp"][0]["HostPort"] != ports["80/tcp"][0]["HostPort"] or True
    assert ports["7000/tcp"] == [{"HostIp": "0.0.0.0", "HostPort": str(base)}]
    assert ports["7001/tcp"] == [{"HostIp": "0.0.0.0", "HostPort": str(base + 1)}]
    rules = sh("nft", "list", "table", "inet", svclab.svc.nft_table).stdout
    assert f"udp dport {ports['53/udp'][0]['HostPort']} dnat ip to" in rules
    assert f"tcp dport {base}-{base + 1}" in rules or f"tcp dport {base} " in rules


def test_networks_are_isolated_internal_has_no_way_out_icc_false(svclab):
    t = svclab.token
    for name, extra in ((f"{t}-n1", {}), (f"{t}-n2", {}), (f"{t}-in", {"Internal": True}),
                        (f"{t}-noicc", {"Options": {
                            "com.docker.network.bridge.enable_icc": "false"}})):
        svclab.svc.create({"Name": name, **extra})
    a = svclab.start(1, "a", f"{t}-n1")
    b = svclab.start(2, "b", f"{t}-n2")
    i = svclab.start(3, "i", f"{t}-in")
    assert svclab.pings(a, gateway_of(b, f"{t}-n2"), seconds=2)  # the host answers
    assert not svclab.pings(a, ip_of(b, f"{t}-n2"))
    assert not svclab.pings(b, ip_of(a, f"{t}-n1"))
    assert not svclab.pings(i, ip_of(a, f"{t}-n1"))
    assert not svclab.pings(a, ip_of(i, f"{t}-in"))
    assert "default" not in sh("nsenter", f"--net={i.netns}", "ip", "route").stdout
    me = host_address()
    assert svclab.pings(a, me) and not svclab.pings(i, me)
    x = svclab.start(4, "x", f"{t}-noicc")
    y = svclab.start(5, "y", f"{t}-noicc")
    assert svclab.pings(x, gateway_of(x, f"{t}-noicc"), seconds=2)
    assert not svclab.pings(x, ip_of(y, f"{t}-noicc"))


def test_bad_input_is_refused_and_leaves_nothing(svclab):
    svc, t = svclab.svc, svclab.token
    svc.create({"Name": f"{t}-fixed", "IPAM": {"Config": [{"Subnet": "10.250.7.0/24"}]}})
    svc.settle()
    before = (links(), svc.kernel_objects(), len(svc.list()))
    with pytest.raises(Forbidden, match="Pool overlaps with other one on this address space"):
        svc.create({"Name": f"{t}-over", "IPAM": {"Config": [{"Subnet": "10.250.7.128/25"}]}})
    for bad in ("10.250.8.0/33", "10.250.8.1/24", "nonsense"):
        with pytest.raises(InvalidArgument):
            svc.create({"Name": f"{t}-bad", "IPAM": {"Config": [{"Subnet": bad}]}})
    with pytest.raises(InvalidArgument):
        svc.create({"Name": f"{t}-gw", "IPAM": {"Config": [
            {"Subnet": "10.250.9.0/24", "Gateway": "10.250.10.1"}]}})
    with pytest.raises(Conflict, match="already exists"):
        svc.create({"Name": f"{t}-fixed"})
    with pytest.raises(NotFound):
        svc.create({"Name": f"{t}-drv", "Driver": "overlay"})
    with pytest.raises(Forbidden, match="pre-defined"):
        svc.remove("bridge")
    with pytest.raises(NotFound):
        svc.remove(f"{t}-nope")
    assert svc.settle()
    assert (links(), svc.kernel_objects(), len(svc.list())) == before

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    port = taken.getsockname()[1]
    with taken, pytest.raises(Conflict, match=f"127.0.0.1:{port} failed: port is already"):
        svclab.start(1, "clash", f"{t}-fixed", port_bindings={
            "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]})
    for bad in ({"hostname": "bad_host!"}, {"extra_hosts": ["nohost"]},
                {"dns": ["not-an-ip"]}, {"network_rate": "egress=fast"},
                {"endpoints": {f"{t}-fixed": {"IPAMConfig": {"IPv4Address": "10.9.9.9"}}}}):
        with pytest.raises(InvalidArgument):
            svclab.start(1, "bad", f"{t}-fixed", **bad)
    with pytest.raises(NotFound):
        svclab.start(1, "lost", f"{t}-nowhere")
    assert svc.settle()
    assert (links(), svc.kernel_objects(), len(svc.list())) == before
    # the addresses were given back: the next container gets the first one
    ok = svclab.start(2, "ok", f"{t}-fixed")
    assert ip_of(ok, f"{t}-fixed") == "10.250.7.2"
    with pytest.raises(Forbidden, match="active endpoints"):
        svc.remove(f"{t}-fixed")
    svclab.stop(2)
    svc.remove(f"{t}-fixed")
    assert not any(n["Name"] == f"{t}-fixed" for n in svc.list())


def test_restore_after_a_daemon_restart(svclab):
    t = svclab.token
    svclab.svc.create({"Name": f"{t}-r"})
    port = free_port()
    a = svclab.start(1, "keeper", f"{t}-r", port_bindings={
        "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]})
    gone = svclab.start(2, "goner", f"{t}-r")
    svclab.serve(a, "still here\n")
    assert wait_fetch(f"http://127.0.0.1:{port}/", "still here\n") == "still here\n"
    req_a = svclab.request(svclab.cid(1), "keeper", f"{t}-r")

    svclab.call(svclab.svc.close())                     # the daemon goes away
    svclab.svc = svclab.new_service()                    # ... and a new one starts
    svclab.call(svclab.svc.start())
    svclab.call(svclab.svc.restore([req_a]))
    assert not os.path.exists(gone.netns)
    assert svclab.svc.kernel_objects()["port_holds"] == [f"tcp/127.0.0.1:{port}"]
    assert wait_fetch(f"http://127.0.0.1:{port}/", "still here\n") == "still here\n"
    probe = svclab.start(3, "probe", f"{t}-r")
    gw = gateway_of(probe, f"{t}-r")
    assert svclab.lookup(probe, "keeper", gw) == [ip_of(a, f"{t}-r")]
    assert svclab.lookup(probe, "goner", gw) == []
    assert ip_of(probe, f"{t}-r") == ip_of(gone, f"{t}-r")      # its address came back
    settings = svclab.svc.container_ip(svclab.cid(1))
    assert settings["Networks"][f"{t}-r"]["IPAddress"] == ip_of(a, f"{t}-r")


def test_connect_and_disconnect_a_running_container(svclab):
    t = svclab.token
    for n in ("c1", "c2"):
        svclab.svc.create({"Name": f"{t}-{n}"})
    a = svclab.start(1, "mover", f"{t}-c1")
    b = svclab.start(2, "other", f"{t}-c2")
    cid = svclab.cid(1)
    svclab.call(svclab.svc.connect(f"{t}-c2", cid, {"Aliases": ["mv"]}))
    s = svclab.svc.container_ip(cid)
    ip2 = s["Networks"][f"{t}-c2"]["IPAddress"]
    assert "eth1" in sh("nsenter", f"--net={a.netns}", "ip", "-br", "addr").stdout
    assert ip2 in Path(a.files["/etc/hosts"]).read_text()
    assert svclab.pings(b, ip2, seconds=2)
    assert svclab.lookup(b, "mv", gateway_of(b, f"{t}-c2")) == [ip2]
    with pytest.raises(Forbidden, match="already exists"):
        svclab.call(svclab.svc.connect(f"{t}-c2", cid, {}))
    with pytest.raises(Forbidden):
        svclab.call(svclab.svc.connect("host", cid, {}))
    svclab.call(svclab.svc.disconnect(f"{t}-c2", cid))
    assert "eth1" not in sh("nsenter", f"--net={a.netns}", "ip", "-br", "addr").stdout
    assert ip2 not in Path(a.files["/etc/hosts"]).read_text()
    assert f"{t}-c2" not in svclab.svc.container_ip(cid)["Networks"]
    with pytest.raises(Forbidden, match="not connected"):
        svclab.call(svclab.svc.disconnect(f"{t}-c2", cid))
    # a stopped container's connect is remembered for its next start
    svclab.stop(1)
    svclab.call(svclab.svc.connect(f"{t}-c2", cid, {}))
    again = svclab.start(1, "mover", f"{t}-c1")
    assert set(again.settings["Networks"]) == {f"{t}-c1", f"{t}-c2"}
    svclab.svc.forget(cid)
    # connected before its first start: the create request's network comes first
    fresh = svclab.cid(3)
    svclab.call(svclab.svc.connect(f"{t}-c2", fresh, {"Aliases": ["early"]}))
    first = svclab.start(3, "fresh", f"{t}-c1")
    assert list(first.settings["Networks"]) == [f"{t}-c1", f"{t}-c2"]
    assert first.settings["Networks"][f"{t}-c2"]["Aliases"][0] == "early"
    assert "default via" in sh("nsenter", f"--net={first.netns}", "ip", "route").stdout


def test_files_dns_options_container_mode_and_rate(svclab):
    t = svclab.token
    svclab.svc.create({"Name": f"{t}-f"})
    c = svclab.start(1, "files", f"{t}-f", hostname="box", domainname="example.test",
                     dns=["192.0.2.53"], dns_search=["corp.test"], dns_options=["ndots:2"],
                     extra_hosts=["db.test:192.0.2.10", "gw.test:host-gateway"],
                     network_rate="ingress=4mbit,egress=2mbit")
    hosts = Path(c.files["/etc/hosts"]).read_text()
    assert "192.0.2.10\tdb.test" in hosts and "box.example.test box" in hosts
    resolv = Path(c.files["/etc/resolv.conf"]).read_text()
    assert "192.0.2.53" not in resolv                  # --dns feeds the embedded server
    assert "search corp.test" in resolv and "options ndots:2" in resolv
    host_if = [n for n in links() if n.startswith(f"{t}v")]
    assert host_if
    qd = sh("tc", "qdisc", "show", "dev", host_if[0]).stdout
    assert "tbf" in qd and "ingress" in qd
    ifbs = [n for n in links() if n.startswith(f"{t}i")]
    assert len(ifbs) == 1

    j = svclab.call(svclab.svc.setup(svclab.request(
        svclab.cid(2), "joiner", f"container:{svclab.cid(1)}", joined_netns=c.netns)))
    assert j.netns == c.netns and j.files == c.files and j.settings["Networks"] == {}
    svclab.stop(2)
    assert netns.is_netns(c.netns)                      # the owner's netns stays
    h = svclab.start(3, "hostly", "host")
    jh = svclab.call(svclab.svc.setup(svclab.request(
        svclab.cid(4), "joinhost", f"container:{svclab.cid(3)}", joined_netns="/nonexistent")))
    assert jh.netns is None and jh.files == h.files     # joins the host's network
    svclab.stop(4)
    svclab.stop(3)
    svclab.stop(1)
    assert not [n for n in links() if n.startswith((f"{t}v", f"{t}i"))]


def test_bip_sets_the_default_bridge_and_ipv6_networks_work(tmp_path, busybox_binary):
    require_root()
    from tests.integration.network.conftest import OCTET

    lab = SvcLab(tmp_path, os.environ["DOCKYARD_TEST_TOKEN"], busybox_binary,
                 bip=f"10.{OCTET}.200.1/24", mtu=1400, ipv6=True,
                 **{"fixed-cidr-v6": f"fd00:{OCTET}:9::/64"})
    try:
        bridge = lab.svc.inspect("bridge")
        assert bridge["IPAM"]["Config"] == [
            {"Subnet": f"10.{OCTET}.200.0/24", "Gateway": f"10.{OCTET}.200.1"},
            {"Subnet": f"fd00:{OCTET}:9::/64", "Gateway": f"fd00:{OCTET}:9::1"}]
        assert bridge["EnableIPv6"] is True
        c = lab.start(1, "onbip")
        assert c.settings["IPAddress"] == f"10.{OCTET}.200.2"
        assert c.settings["GlobalIPv6Address"].startswith(f"fd00:{OCTET}:9::")
        assert c.settings["IPv6Gateway"] == f"fd00:{OCTET}:9::1"
        assert "mtu 1400" in sh("nsenter", f"--net={c.netns}", "ip", "link", "show",
                                "eth0").stdout
        v6 = f"fd00:{OCTET}:6::"
        t = lab.token
        lab.svc.create({"Name": f"{t}-v6", "EnableIPv6": True,
                        "IPAM": {"Config": [{"Subnet": f"{v6}/64"}]}})
        a = lab.start(2, "six-a", f"{t}-v6")
        b = lab.start(3, "six-b", f"{t}-v6")
        ep = b.settings["Networks"][f"{t}-v6"]
        assert ep["GlobalIPv6Address"].startswith(v6) and ep["IPv6Gateway"] == f"{v6}1"
        assert ep["IPAddress"]                               # dual stack: v4 too
        assert lab.run(a, "ping", "-6", "-c", "1", "-W", "2",
                       ep["GlobalIPv6Address"]).returncode == 0
        gw = gateway_of(a, f"{t}-v6")
        out = lab.run(a, "nslookup", "-type=aaaa", "six-b", gw, timeout=15).stdout
        assert ep["GlobalIPv6Address"] in out
    finally:
        left = lab.close()
    assert not left, left


def test_restore_sweeps_what_a_killed_daemon_left_mid_setup(svclab):
    t = svclab.token
    svclab.svc.create({"Name": f"{t}-sw"})
    keep = svclab.start(1, "keep", f"{t}-sw")
    half = svclab.start(2, "half", f"{t}-sw")
    # as if the daemon died after making the netns and veth but before saving them
    with svclab.svc._lock:
        sb = svclab.svc.state.sandboxes.pop(svclab.cid(2))
        svclab.svc.save()
    veth = next(iter(sb.endpoints.values())).host_ifname
    assert veth in links() and os.path.exists(half.netns)
    svclab.call(svclab.svc.close())
    svclab.svc = svclab.new_service()
    svclab.call(svclab.svc.start())
    svclab.call(svclab.svc.restore([svclab.request(svclab.cid(1), "keep", f"{t}-sw")]))
    assert svclab.svc.settle()
    assert not os.path.exists(half.netns) and veth not in links()
    assert os.path.exists(keep.netns)
    assert svclab.pings(keep, gateway_of(keep, f"{t}-sw"), seconds=2)
    again = svclab.start(3, "again", f"{t}-sw")
    assert ip_of(again, f"{t}-sw") == ip_of(half, f"{t}-sw")   # the address came back


def test_embedded_dns_forwards_to_upstreams_and_per_container_dns(tmp_path, busybox_binary):
    require_root()
    from dockyard.network.dns import DnsServer, NameTable
    from tests.integration.network.conftest import OCTET

    up_a, up_b = f"127.{OCTET}.0.53", f"127.{OCTET}.0.54"
    table_a, table_b = NameTable(), NameTable()
    table_a.add("outside.test", "192.0.2.71")
    table_b.add("outside.test", "192.0.2.72")
    with DnsServer(up_a, table_a, port=53, upstreams=[]), \
            DnsServer(up_b, table_b, port=53, upstreams=[]):
        lab = SvcLab(tmp_path, os.environ["DOCKYARD_TEST_TOKEN"], busybox_binary,
                     dns=[up_a])
        try:
            t = lab.token
            lab.svc.create({"Name": f"{t}-fw"})
            a = lab.start(1, "plain", f"{t}-fw")
            b = lab.start(2, "own", f"{t}-fw", dns=[up_b])
            gw = gateway_of(a, f"{t}-fw")
            assert lab.lookup(a, "outside.test", gw) == ["192.0.2.71"]
            assert lab.lookup(b, "outside.test", gw) == ["192.0.2.72"]
            assert lab.lookup(b, "plain", gw) == [ip_of(a, f"{t}-fw")]  # ours first
            assert up_b not in Path(b.files["/etc/resolv.conf"]).read_text()
        finally:
            left = lab.close()
    assert not left, left


def test_outbound_is_masqueraded_and_internal_stays_in(svclab, lab):
    """An "outside" namespace on a plain bridge with no route back to the containers:
    it can only answer what was masqueraded to its gateway."""
    from tests.integration.network.test_nat import _outside

    t = svclab.token
    svclab.svc.create({"Name": f"{t}-out"})
    svclab.svc.create({"Name": f"{t}-in2", "Internal": True})
    svclab.svc.create({"Name": f"{t}-nomasq", "Options": {
        "com.docker.network.bridge.enable_ip_masquerade": "false"}})
    _outside(lab, 31)
    target = lab.ip(31, 9)
    a = svclab.start(1, "out", f"{t}-out")
    i = svclab.start(2, "in", f"{t}-in2")
    n = svclab.start(3, "nomasq", f"{t}-nomasq")
    assert svclab.pings(a, target, seconds=3), "masquerade: a container reaches outside"
    assert not svclab.pings(i, target), "internal: no way out"
    assert not svclab.pings(n, target), "without masquerade the outside cannot answer"


def test_no_free_pool_subnet_still_starts_and_retries_later(tmp_path, busybox_binary, lab):
    require_root()
    from dockyard.errors import Unavailable
    from dockyard.network import bridge as bridges
    from tests.integration.network.conftest import OCTET

    blocker = lab.add_bridge(40)             # routes 10.<OCTET>.40.0/24 on the host
    svc_lab = SvcLab(tmp_path, os.environ["DOCKYARD_TEST_TOKEN"], busybox_binary, **{
        "default-address-pools": [{"base": f"10.{OCTET}.40.0/24", "size": 24}]})
    try:
        assert svc_lab.svc.inspect("bridge")["IPAM"]["Config"] == []
        n = svc_lab.start(1, "nonet", "none")           # the daemon works for none/host
        assert netns.is_netns(n.netns)
        with pytest.raises(Unavailable, match="no free subnet for the default bridge"):
            svc_lab.start(2, "bridged")
        bridges.delete_bridge(blocker)
        lab.bridges.remove(blocker)
        c = svc_lab.start(2, "bridged")                 # retried at first use
        assert c.settings["IPAddress"].startswith(f"10.{OCTET}.40.")
    finally:
        left = svc_lab.close()
    assert not left, left
