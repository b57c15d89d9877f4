"""The embedded DNS server of one network: container names and aliases, else upstream.

Where it listens: on the network's gateway address (the bridge's IP), port 53, in
the daemon's own namespace; each container's resolv.conf names the gateway. Docker
instead listens on 127.0.0.11 inside every container's netns (a socket opened after
``setns`` plus a DNAT of port 53 in that netns). The gateway choice needs one socket
per network instead of two per container, no thread ever switches namespace inside
the daemon, and it still works on ``internal`` networks (the gateway is on the
bridge; nothing is forwarded). The cost: a container whose resolv.conf is copied
elsewhere still points at that network's gateway, and the host can query it too.
Names are answered only to clients inside the network's subnets (``clients``), so
one network never learns another's names through it.

Names: exact, case-insensitive, trailing dot optional. Several addresses under one
name (replicas sharing an alias) are answered in rotated order, one step per query
(round-robin). Anything else goes to the host's resolvers (``/etc/resolv.conf``) with
a timeout per server; no answer from any of them is SERVFAIL.
"""

from __future__ import annotations

import errno
import ipaddress
import itertools
import socket
import socketserver
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from dockyard.errors import InvalidArgument, Unavailable

__all__ = ["AsyncDnsServer", "DnsServer", "NameTable", "Upstream", "host_resolvers"]

TTL = 600


@dataclass(frozen=True)
class Upstream:
    host: str
    port: int = 53


def host_resolvers(path: str | Path = "/etc/resolv.conf") -> list[Upstream]:
    """The ``nameserver`` lines of the host's resolv.conf (missing file: none)."""
    out = []
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            try:
                out.append(Upstream(str(ipaddress.ip_address(parts[1].split("%")[0]))))
            except ValueError:
                continue
    return out


def _key(name: str) -> str:
    return name.lower().rstrip(".")


class NameTable:
    """name -> addresses, safe to change while the server answers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._names: dict[str, list[str]] = {}
        self._turn = itertools.count()

    def add(self, name: str, address: str) -> None:
        if not name or len(name) > 253:
            raise InvalidArgument(f"invalid DNS name {name!r}")
        ip = str(ipaddress.ip_address(address))
        with self._lock:
            addrs = self._names.setdefault(_key(name), [])
            if ip not in addrs:
                addrs.append(ip)

    def remove(self, name: str, address: str | None = None) -> None:
        with self._lock:
            k = _key(name)
            if address is None:
                self._names.pop(k, None)
                return
            addrs = self._names.get(k, [])
            if address in addrs:
                addrs.remove(address)
            if not addrs:
                self._names.pop(k, None)

    def remove_address(self, address: str) -> None:
        """Forget an endpoint under every name (container removed or disconnected)."""
        with self._lock:
            for k in list(self._names):
                if address in self._names[k]:
                    self._names[k].remove(address)
                if not self._names[k]:
                    del self._names[k]

    def lookup(self, name: str) -> list[str] | None:
        """Addresses in this query's round-robin order; None if the name is not ours."""
        with self._lock:
            addrs = self._names.get(_key(name))
            if not addrs:
                return None
            n = next(self._turn) % len(addrs)
            return addrs[n:] + addrs[:n]


def _local_reply(query, table: NameTable, local: bool):
    """The reply when the name is ours (or the query is malformed); None to forward."""
    import dns.flags
    import dns.message
    import dns.rcode
    import dns.rdataclass
    import dns.rdatatype
    import dns.rrset

    if not query.question:
        reply = dns.message.make_response(query)
        reply.set_rcode(dns.rcode.FORMERR)
        return reply
    q = query.question[0]
    addrs = table.lookup(q.name.to_text()) if local else None
    if addrs is None:
        return None
    reply = dns.message.make_response(query)
    reply.flags |= dns.flags.AA | dns.flags.RA
    want = {dns.rdatatype.A: 4, dns.rdatatype.AAAA: 6}.get(q.rdtype)
    picked = [a for a in addrs if want and ipaddress.ip_address(a).version == want]
    if picked:
        reply.answer.append(dns.rrset.from_text_list(
            q.name, TTL, dns.rdataclass.IN, q.rdtype, picked))
    return reply


def _parse(wire: bytes):
    import dns.exception
    import dns.message

    try:
        return dns.message.from_wire(wire)
    except dns.exception.DNSException:
        return None


def answer(wire: bytes, table: NameTable, upstreams: Sequence[Upstream],
           timeout: float = 2.0, local: bool = True) -> bytes | None:
    """One reply for one query (wire format in and out); None for garbage."""
    query = _parse(wire)
    if query is None:
        return None
    reply = _local_reply(query, table, local)
    if reply is not None:
        # dnspython shuffles records on output by default: keep the rotation instead
        return reply.to_wire(want_shuffle=False)
    return _forward(query, upstreams, timeout)


def _forward(query, upstreams: Sequence[Upstream], timeout: float) -> bytes:
    import dns.exception
    import dns.message
    import dns.query
    import dns.rcode

    for up in upstreams:
        try:
            reply = dns.query.udp(query, up.host, timeout=timeout, port=up.port)
            if reply.flags & 0x0200:  # TC: truncated, ask again over TCP
                reply = dns.query.tcp(query, up.host, timeout=timeout, port=up.port)
            return reply.to_wire()
        except (dns.exception.DNSException, OSError):
            continue
    fail = dns.message.make_response(query)
    fail.set_rcode(dns.rcode.SERVFAIL)
    return fail.to_wire()


class DnsServer:
    """UDP and TCP listeners on one address; ``start``/``stop`` (also a context manager)."""

    def __init__(self, address: str, table: NameTable, port: int = 53,
                 upstreams: Iterable[Upstream] | None = None, timeout: float = 2.0,
                 clients: Iterable[str] = ()) -> None:
        self.address = str(ipaddress.ip_address(address))
        self.port = port
        self.table = table
        self.upstreams = list(host_resolvers() if upstreams is None else upstreams)
        self.timeout = timeout
        self.clients = tuple(ipaddress.ip_network(c) for c in clients)
        self._servers: list[socketserver.BaseServer] = []
        self._threads: list[threading.Thread] = []

    def _local(self, peer: str) -> bool:
        if not self.clients:
            return True
        ip = ipaddress.ip_address(peer.split("%")[0])
        return any(ip in c for c in self.clients)

    def _handlers(self):
        server = self

        class Udp(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                data, sock = self.request
                out = answer(data, server.table, server.upstreams, server.timeout,
                             server._local(self.client_address[0]))
                if out is not None:
                    sock.sendto(out, self.client_address)

        class Tcp(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                self.connection.settimeout(server.timeout * 2)
                try:
                    size = int.from_bytes(self.rfile.read(2), "big")
                    out = answer(self.rfile.read(size), server.table, server.upstreams,
                                 server.timeout, server._local(self.client_address[0]))
                except OSError:
                    return
                if out is not None:
                    self.wfile.write(len(out).to_bytes(2, "big") + out)

        return Udp, Tcp

    def start(self) -> DnsServer:
        family = socket.AF_INET6 if ":" in self.address else socket.AF_INET
        udp_h, tcp_h = self._handlers()

        class UdpServer(socketserver.ThreadingUDPServer):
            address_family = family
            daemon_threads = True

        class TcpServer(socketserver.ThreadingTCPServer):
            address_family = family
            daemon_threads = True
            allow_reuse_address = True

        # Port 0 picks a free UDP port; the same TCP port may be taken by someone
        # else, so an ephemeral choice is retried (a fixed port is not).
        for attempt in range(1 if self.port else 20):
            try:
                self._servers.append(UdpServer((self.address, self.port), udp_h))
                port = self._servers[0].server_address[1]
                self._servers.append(TcpServer((self.address, port), tcp_h))
                self.port = port
                break
            except OSError as e:
                self.stop()
                if self.port or attempt == 19 or e.errno != errno.EADDRINUSE:
                    raise Unavailable(f"cannot listen for DNS on {self.address}:{self.port}:"
                                      f" {e.strerror}") from e
        for s in self._servers:
            t = threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.2},
                                 name=f"dns-{self.address}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        for s, t in zip(self._servers, self._threads, strict=False):
            s.shutdown()
            t.join(timeout=5)
        for s in self._servers:
            s.server_close()
        self._servers.clear()
        self._threads.clear()

    def __enter__(self) -> DnsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class AsyncDnsServer:
    """The same answers, served from the daemon's event loop (UDP and TCP on one
    address): no threads per network, and forwarding waits without blocking.

    ``upstreams_for(client_ip)`` may give a client its own upstreams (a container
    started with ``--dns``); None means the server's.
    """

    def __init__(self, address: str, table: NameTable, port: int = 53,
                 upstreams: Iterable[Upstream] | None = None, timeout: float = 2.0,
                 clients: Iterable[str] = (),
                 upstreams_for: Callable[[str], Sequence[Upstream] | None] | None = None
                 ) -> None:
        self.address = str(ipaddress.ip_address(address))
        self.port = port
        self.table = table
        self.upstreams = list(host_resolvers() if upstreams is None else upstreams)
        self.timeout = timeout
        self.clients = tuple(ipaddress.ip_network(c) for c in clients)
        self.upstreams_for = upstreams_for
        self._udp = None
        self._tcp = None
        self._tasks: set = set()

    def _local(self, peer: str) -> bool:
        if not self.clients:
            return True
        ip = ipaddress.ip_address(peer.split("%")[0])
        return any(ip in c for c in self.clients)

    async def resolve(self, wire: bytes, peer: str) -> bytes | None:
        query = _parse(wire)
        if query is None:
            return None
        local = self._local(peer)
        reply = _local_reply(query, self.table, local)
        if reply is not None:
            return reply.to_wire(want_shuffle=False)
        ups = (self.upstreams_for(peer) if self.upstreams_for else None) or self.upstreams
        return await _forward_async(query, ups, self.timeout)

    async def start(self) -> AsyncDnsServer:
        import asyncio

        loop = asyncio.get_running_loop()
        server = self

        class Udp(asyncio.DatagramProtocol):
            def connection_made(self, transport) -> None:
                self.transport = transport

            def datagram_received(self, data: bytes, addr) -> None:
                async def reply() -> None:
                    out = await server.resolve(data, addr[0])
                    if out is not None and not self.transport.is_closing():
                        self.transport.sendto(out, addr)
                task = loop.create_task(reply())
                server._tasks.add(task)
                task.add_done_callback(server._tasks.discard)

        async def tcp(reader, writer) -> None:
            try:
                size = int.from_bytes(await asyncio.wait_for(reader.readexactly(2),
                                                             self.timeout * 2), "big")
                wire = await asyncio.wait_for(reader.readexactly(size), self.timeout * 2)
                out = await self.resolve(wire, writer.get_extra_info("peername")[0])
                if out is not None:
                    writer.write(len(out).to_bytes(2, "big") + out)
                    await writer.drain()
            except (TimeoutError, OSError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        try:
            self._udp, _ = await loop.create_datagram_endpoint(
                Udp, local_addr=(self.address, self.port))
            self.port = self._udp.get_extra_info("sockname")[1]
            self._tcp = await asyncio.start_server(tcp, self.address, self.port,
                                                   reuse_address=True)
        except OSError as e:
            await self.stop()
            raise Unavailable(f"cannot listen for DNS on {self.address}:{self.port}: "
                              f"{e.strerror}") from e
        return self

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()
            self._tcp = None


async def _forward_async(query, upstreams: Sequence[Upstream], timeout: float) -> bytes:
    import dns.asyncquery
    import dns.exception
    import dns.message
    import dns.rcode

    for up in upstreams:
        try:
            reply = await dns.asyncquery.udp(query, up.host, timeout=timeout, port=up.port)
            if reply.flags & 0x0200:  # TC: truncated, ask again over TCP
                reply = await dns.asyncquery.tcp(query, up.host, timeout=timeout,
                                                 port=up.port)
            return reply.to_wire()
        except (dns.exception.DNSException, OSError):
            continue
    fail = dns.message.make_response(query)
    fail.set_rcode(dns.rcode.SERVFAIL)
    return fail.to_wire()
