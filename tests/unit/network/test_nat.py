import pytest

from dockyard.errors import Conflict, InvalidArgument
from dockyard.network.nat import NatState, NetworkRules, PortMapping, render

A = NetworkRules("dy-a", ("10.1.0.0/24",))
B = NetworkRules("dy-b", ("10.2.0.0/24", "fd00:2::/64"))


def chain(script: str, name: str) -> list[str]:
    lines = script.splitlines()
    start = lines.index(f"  chain {name} {{")
    end = lines.index("  }", start)
    return [x.strip() for x in lines[start + 1:end]]


def test_script_replaces_only_its_own_table_atomically():
    s = render(NatState((A,)), "dockyard-t1")
    head = s.splitlines()[:3]
    assert head == ["table inet dockyard-t1 {}", "delete table inet dockyard-t1",
                    "table inet dockyard-t1 {"]
    assert "table ip " not in s and "table ip6 " not in s


def test_masquerade_outbound_and_loopback_and_hairpin():
    post = chain(render(NatState((A,))), "postrouting")
    assert 'ip saddr 10.1.0.0/24 oifname != "dy-a" masquerade' in post
    assert 'oifname "dy-a" ip saddr 127.0.0.0/8 masquerade' in post
    assert 'oifname "dy-a" ip saddr 10.1.0.0/24 ct status dnat masquerade' in post


def test_ipv6_subnet_is_masqueraded_with_ip6():
    post = chain(render(NatState((B,))), "postrouting")
    assert 'ip6 saddr fd00:2::/64 oifname != "dy-b" masquerade' in post


def test_internal_network_has_no_outbound_and_is_fenced():
    internal = NetworkRules("dy-i", ("10.3.0.0/24",), internal=True)
    s = render(NatState((A, internal)))
    fwd = chain(s, "forward")
    assert 'iifname "dy-i" oifname != "dy-i" drop' in fwd
    assert 'oifname "dy-i" iifname != "dy-i" drop' in fwd
    assert not any("10.3.0.0/24 oifname" in r for r in chain(s, "postrouting"))


def test_bridges_are_isolated_from_each_other_before_any_accept():
    fwd = chain(render(NatState((A, B))), "forward")
    drops = [i for i, r in enumerate(fwd) if r.endswith("drop")]
    accepts = [i for i, r in enumerate(fwd) if r.endswith("accept")]
    assert 'iifname "dy-a" oifname { "dy-b" } drop' in fwd
    assert 'iifname "dy-b" oifname { "dy-a" } drop' in fwd
    assert max(drops) < min(accepts)


def test_published_ports_dnat_by_host_ip_and_family():
    ports = (
        PortMapping("10.1.0.2", 80, 8080, host_ip="127.0.0.1"),
        PortMapping("10.1.0.2", 53, 5353, "udp"),
        PortMapping("fd00:2::5", 80, 8081, host_ip="fd00:9::1"),
    )
    s = render(NatState((A, B), ports))
    pub = chain(s, "published")
    assert "ip daddr 127.0.0.1 tcp dport 8080 dnat ip to 10.1.0.2:80" in pub
    assert "meta nfproto ipv4 udp dport 5353 dnat ip to 10.1.0.2:53" in pub
    assert "ip6 daddr fd00:9::1 tcp dport 8081 dnat ip6 to [fd00:2::5]:80" in pub
    assert "fib daddr type local jump published" in chain(s, "output")
    assert "fib daddr type local jump published" in chain(s, "prerouting")


def test_port_ranges_map_one_to_one_or_many_to_one():
    ports = (PortMapping("10.1.0.2", 9000, 19000, host_port_end=19002,
                         container_port_end=9002),
             PortMapping("10.1.0.3", 80, 20000, host_port_end=20009))
    pub = chain(render(NatState((A,), ports)), "published")
    assert [r for r in pub if "10.1.0.2" in r] == [
        f"meta nfproto ipv4 tcp dport {19000 + i} dnat ip to 10.1.0.2:{9000 + i}"
        for i in range(3)]
    assert "meta nfproto ipv4 tcp dport 20000-20009 dnat ip to 10.1.0.3:80" in pub


@pytest.mark.parametrize("a,b", [
    (dict(host_port=8080), dict(host_port=8080)),
    (dict(host_port=8080, host_ip="127.0.0.1"), dict(host_port=8080)),
    (dict(host_port=8070, host_port_end=8090), dict(host_port=8080)),
])
def test_same_host_port_twice_is_conflict(a, b):
    ports = (PortMapping("10.1.0.2", 80, **a), PortMapping("10.1.0.3", 80, **b))
    with pytest.raises(Conflict, match="port is already allocated"):
        render(NatState((A,), ports))


def test_same_port_on_different_host_ips_or_protocols_is_fine():
    ports = (PortMapping("10.1.0.2", 80, 8080, host_ip="127.0.0.1"),
             PortMapping("10.1.0.3", 80, 8080, host_ip="127.0.0.2"),
             PortMapping("10.1.0.4", 80, 8080, "udp"))
    render(NatState((A,), ports))


@pytest.mark.parametrize("mapping,msg", [
    (PortMapping("10.1.0.2", 0, 80), "invalid port 0"),
    (PortMapping("10.1.0.2", 80, 70000), "invalid port 70000"),
    (PortMapping("10.1.0.2", 80, 80, "icmp"), "invalid protocol"),
    (PortMapping("10.1.0.2", 80, 90, host_port_end=85), "invalid port range"),
    (PortMapping("10.1.0.2", 80, 90, host_port_end=95, container_port_end=81),
     "differ in length"),
    (PortMapping("10.1.0.x", 80, 80), "invalid IP address"),
    (PortMapping("10.1.0.2", 80, 80, host_ip="fd00::1"), "different families"),
    (PortMapping("fd00::2", 80, 80, host_ip="::1"), "not supported"),
    (PortMapping('10.1.0.2"; flush ruleset', 80, 80), "invalid IP address"),
])
def test_bad_port_mappings_are_invalid_argument(mapping, msg):
    with pytest.raises(InvalidArgument, match=msg):
        render(NatState((A,), (mapping,)))


@pytest.mark.parametrize("state,table", [
    (NatState((NetworkRules('x" ; flush ruleset', ()),)), "dockyard"),
    (NatState((NetworkRules("dy-a", ("10.1.0.1/24",)),)), "dockyard"),
    (NatState(), "dock yard"),
    (NatState(), "ip; flush"),
])
def test_nothing_unsafe_reaches_the_script(state, table):
    with pytest.raises(InvalidArgument):
        render(state, table)


def test_bridge_listed_twice_conflicts():
    with pytest.raises(Conflict):
        render(NatState((A, A)))
