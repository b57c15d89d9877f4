import socket

import dns.message
import dns.query
import dns.rcode
import pytest

from dockyard.errors import InvalidArgument, Unavailable
from dockyard.network.dns import DnsServer, NameTable, Upstream, host_resolvers


def ask(server: DnsServer, name: str, rdtype: str = "A", tcp: bool = False):
    q = dns.message.make_query(name, rdtype)
    send = dns.query.tcp if tcp else dns.query.udp
    return send(q, server.address, timeout=5, port=server.port)


def addrs(reply) -> list[str]:
    return [r.to_text() for rrset in reply.answer for r in rrset]


@pytest.fixture
def upstream():
    table = NameTable()
    table.add("example.test", "192.0.2.80")
    with DnsServer("127.0.0.1", table, port=0, upstreams=[]) as s:
        yield s


def test_names_case_and_trailing_dot():
    t = NameTable()
    t.add("Web", "10.1.0.2")
    assert t.lookup("web.") == ["10.1.0.2"]
    assert t.lookup("other") is None


def test_alias_round_robin_rotates_every_query():
    t = NameTable()
    for ip in ("10.1.0.2", "10.1.0.3", "10.1.0.4"):
        t.add("svc", ip)
    firsts = [t.lookup("svc")[0] for _ in range(6)]
    assert firsts == ["10.1.0.2", "10.1.0.3", "10.1.0.4"] * 2
    t.remove_address("10.1.0.3")
    assert sorted(t.lookup("svc")) == ["10.1.0.2", "10.1.0.4"]
    t.remove("svc", "10.1.0.2")
    t.remove("svc", "10.1.0.4")
    assert t.lookup("svc") is None


def test_bad_entries_refused():
    t = NameTable()
    with pytest.raises(ValueError):
        t.add("x", "10.1.0")
    with pytest.raises(InvalidArgument):
        t.add("", "10.1.0.1")


def test_server_answers_own_names_over_udp_and_tcp(upstream):
    t = NameTable()
    t.add("db", "10.1.0.5")
    t.add("db", "fd00::5")
    with DnsServer("127.0.0.1", t, port=0, upstreams=[]) as s:
        r = ask(s, "db")
        assert addrs(r) == ["10.1.0.5"] and r.rcode() == dns.rcode.NOERROR
        assert addrs(ask(s, "db", "AAAA", tcp=True)) == ["fd00::5"]
        assert addrs(ask(s, "db", "MX")) == []


def test_server_answers_alias_round_robin(upstream):
    t = NameTable()
    for ip in ("10.1.0.2", "10.1.0.3"):
        t.add("web", ip)
    with DnsServer("127.0.0.1", t, port=0, upstreams=[]) as s:
        orders = [addrs(ask(s, "web")) for _ in range(4)]
        assert orders == [["10.1.0.2", "10.1.0.3"], ["10.1.0.3", "10.1.0.2"]] * 2
        assert sorted(addrs(ask(s, "web"))) == ["10.1.0.2", "10.1.0.3"]


def test_unknown_names_are_forwarded_upstream(upstream):
    with DnsServer("127.0.0.1", NameTable(), port=0,
                   upstreams=[Upstream("127.0.0.1", upstream.port)]) as s:
        assert addrs(ask(s, "example.test")) == ["192.0.2.80"]


def test_dead_upstream_is_servfail_after_timeout():
    dead = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dead.bind(("127.0.0.1", 0))  # bound, never answers: a timeout, not a refusal
    try:
        with DnsServer("127.0.0.1", NameTable(), port=0, timeout=0.3,
                       upstreams=[Upstream("127.0.0.1", dead.getsockname()[1])]) as s:
            assert ask(s, "nowhere.test").rcode() == dns.rcode.SERVFAIL
    finally:
        dead.close()


def test_clients_outside_the_network_get_no_local_names(upstream):
    t = NameTable()
    t.add("secret", "10.1.0.9")
    with DnsServer("127.0.0.1", t, port=0, clients=["10.1.0.0/24"],
                   upstreams=[Upstream("127.0.0.1", upstream.port)]) as s:
        r = ask(s, "secret")  # forwarded: the upstream knows no such name
        assert addrs(r) == [] and r.rcode() == dns.rcode.SERVFAIL


def test_port_in_use_is_unavailable(upstream):
    with pytest.raises(Unavailable, match="cannot listen for DNS"):
        DnsServer("127.0.0.1", NameTable(), port=upstream.port, upstreams=[]).start()


def test_host_resolvers_parses_nameservers(tmp_path):
    f = tmp_path / "resolv.conf"
    f.write_text("# x\nnameserver 192.0.2.1\nnameserver fe80::1%eth0\nnameserver junk\n"
                 "search a\n")
    assert host_resolvers(f) == [Upstream("192.0.2.1"), Upstream("fe80::1")]
    assert host_resolvers(tmp_path / "missing") == []
