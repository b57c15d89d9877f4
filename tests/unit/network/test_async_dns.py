"""The asyncio DNS server on 127.0.0.1 (port 0): names, round-robin, forwarding with
per-client upstreams, TCP, SERVFAIL when no upstream answers."""

from __future__ import annotations

import asyncio

import dns.asyncquery
import dns.message
import dns.rcode

from dockyard.network.dns import AsyncDnsServer, NameTable, Upstream


def _addrs(reply) -> list[str]:
    return [r.address for rrset in reply.answer for r in rrset]


async def _scenario() -> None:
    outside = NameTable()
    outside.add("far.test", "192.0.2.7")
    other = NameTable()
    other.add("far.test", "192.0.2.8")
    table = NameTable()
    for i in (2, 3, 4):
        table.add("web", f"10.0.0.{i}")
    up = await AsyncDnsServer("127.0.0.1", outside, port=0, upstreams=[]).start()
    up2 = await AsyncDnsServer("127.0.0.1", other, port=0, upstreams=[]).start()
    per_client = {"127.0.0.9": [Upstream("127.0.0.1", up2.port)]}
    srv = await AsyncDnsServer("127.0.0.1", table, port=0, upstreams=[
        Upstream("127.0.0.1", up.port)], upstreams_for=per_client.get).start()
    dead = await AsyncDnsServer("127.0.0.1", NameTable(), port=0, timeout=0.2,
                                upstreams=[Upstream("127.0.0.1", 9)]).start()
    try:
        firsts = set()
        for _ in range(3):
            r = await dns.asyncquery.udp(dns.message.make_query("WEB.", "A"), "127.0.0.1",
                                         port=srv.port, timeout=2)
            assert sorted(_addrs(r)) == ["10.0.0.2", "10.0.0.3", "10.0.0.4"]
            firsts.add(_addrs(r)[0])
        assert len(firsts) == 3, "round-robin: each query starts with another address"
        r = await dns.asyncquery.tcp(dns.message.make_query("web", "A"), "127.0.0.1",
                                     port=srv.port, timeout=2)
        assert len(_addrs(r)) == 3
        r = await dns.asyncquery.udp(dns.message.make_query("web", "AAAA"), "127.0.0.1",
                                     port=srv.port, timeout=2)
        assert r.rcode() == dns.rcode.NOERROR and not r.answer
        r = await dns.asyncquery.udp(dns.message.make_query("far.test", "A"), "127.0.0.1",
                                     port=srv.port, timeout=2)
        assert _addrs(r) == ["192.0.2.7"]
        r = await dns.asyncquery.udp(dns.message.make_query("far.test", "A"), "127.0.0.1",
                                     port=srv.port, timeout=2, source="127.0.0.9")
        assert _addrs(r) == ["192.0.2.8"], "a client with --dns uses its own upstreams"
        r = await dns.asyncquery.udp(dns.message.make_query("x.test", "A"), "127.0.0.1",
                                     port=dead.port, timeout=3)
        assert r.rcode() == dns.rcode.SERVFAIL
    finally:
        for s in (srv, up, up2, dead):
            await s.stop()


def test_async_dns_server():
    asyncio.run(_scenario())
