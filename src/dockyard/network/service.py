"""The network service: Docker's networks, and each container's place on them.

It composes the library (``ipam``, ``bridge``, ``veth``, ``nat``, ``dns``, ...) into
what the daemon needs, and remembers everything in ``<data_root>/network/state.json``
(``state.py``), so a restarted daemon finds the networks, addresses and endpoints of
the containers that kept running (live restore is always on).

Networks: ``bridge`` (the default; its own Linux bridge ``dockyard0``, never docker's
``docker0``, subnet from ``bip`` or the first free pool), ``host`` and ``none`` are
predefined; user-defined networks use the bridge driver, each with its own bridge,
subnet and embedded DNS server (``dns.AsyncDnsServer`` on the gateway address, on the
daemon's loop). Bridges and rules outlive the daemon (containers keep running).

Containers (``setup``/``teardown``, in ``endpoint_sandbox.py``): a netns per container under
``<exec_root>/netns/<id>`` (``netns.py``: no fork), one veth per network, published
ports (``endpoint_ports.py``), the three files (``endpoint_files.py``) and Docker's
``NetworkSettings`` (``endpoint_settings.py``).

Locking: one re-entrant lock serialises every change of state and kernel; the
blocking parts run in worker threads (pyroute2 must not run on the event loop).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dockyard.errors import Conflict, Forbidden, InvalidArgument, NotFound, Unavailable
from dockyard.network import bridge as bridges
from dockyard.network import dockercompat, nat
from dockyard.network.dns import AsyncDnsServer, NameTable, Upstream, host_resolvers
from dockyard.network.endpoint import ContainerNet, ContainerNetRequest
from dockyard.network.ipam import DEFAULT_POOLS, AddressPool, Ipam, SubnetRequest, parse_subnet
from dockyard.network.names import bridge_name, link_exists
from dockyard.network.netspec import (
    OPT_BRIDGE,
    OPT_DEFAULT,
    OPT_HOST_IP,
    OPT_ICC,
    OPT_MASQ,
    OPT_MTU,
    created_before,
    matches,
    parse_create,
)
from dockyard.network.state import NetworkRecord, ServiceState, StateFile

__all__ = ["ContainerNet", "ContainerNetRequest", "NetworkService"]

log = logging.getLogger("dockyardd.network")


def now_rfc3339() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"


def _ip_forward_on() -> None:
    """Routing between bridges and the outside needs it; dockerd turns it on too."""
    for path in ("/proc/sys/net/ipv4/ip_forward",):
        try:
            with open(path, "r+") as f:
                if f.read().strip() != "1":
                    f.seek(0)
                    f.write("1\n")
                    log.info("enabled %s", path)
        except OSError as e:
            log.warning("cannot enable %s: %s", path, e)


class NetworkService:
    """See the module docstring. ``link_prefix``/``nft_table``/``default_bridge`` name
    the kernel objects (tests pass their session token); ``dns_port`` 0 picks one."""

    def __init__(self, state_dir: Path, exec_root: Path, config: dict | None = None, *,
                 link_prefix: str | None = None, nft_table: str | None = None,
                 default_bridge: str | None = None, dns_port: int = 53,
                 host_resolv: str = "/etc/resolv.conf", host_hosts: str = "/etc/hosts",
                 docker_compat: bool = True) -> None:
        cfg = dict(config or {})
        self.state_file = StateFile(Path(state_dir))
        self.netns_dir = Path(exec_root) / "netns"
        prefix = link_prefix or os.environ.get("DOCKYARD_NETWORK_PREFIX") or \
            os.environ.get("DOCKYARD_TEST_TOKEN") or "dy"
        self.link_prefix = prefix
        self.nft_table = nft_table or ("dockyard" if prefix == "dy" else f"dockyard-{prefix}")
        self.default_bridge = default_bridge or ("dockyard0" if prefix == "dy"
                                                 else f"{prefix}-0")
        self._rules_applied = False
        self.dns_port = dns_port
        self.host_resolv = host_resolv
        self.host_hosts = host_hosts
        self.docker_compat = docker_compat
        self.mtu = int(cfg.get("mtu") or 1500)
        self.icc = bool(cfg.get("icc", True))
        self.iptables = bool(cfg.get("iptables", True))
        self.host_ip = str(cfg.get("ip") or "0.0.0.0")
        self.dns = list(cfg.get("dns") or [])
        self.dns_search = list(cfg.get("dns-search") or [])
        self.dns_opts = list(cfg.get("dns-opts") or [])
        self.bip = str(cfg.get("bip") or "")
        self.fixed_cidr = str(cfg.get("fixed-cidr") or "")
        self.ipv6 = bool(cfg.get("ipv6"))
        self.fixed_cidr_v6 = str(cfg.get("fixed-cidr-v6") or "")
        raw_pools = cfg.get("default-address-pools") or []
        self.pools = tuple(AddressPool.from_daemon_json(p) for p in raw_pools) or DEFAULT_POOLS
        self.v4_pools = tuple(p for p in self.pools if ":" not in p.base)
        self.v6_pools = tuple(p for p in self.pools if ":" in p.base)
        if self.fixed_cidr_v6:
            net = parse_subnet(self.fixed_cidr_v6, "fixed-cidr-v6")
            self.v6_pools = (*self.v6_pools, AddressPool(str(net), max(net.prefixlen, 64)))
        self._lock = threading.RLock()
        self.state: ServiceState = self.state_file.load()
        self.ipam = Ipam(self.state.ipam, self.v4_pools, self.v6_pools)
        self._booted = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._starting: asyncio.Lock | None = None
        self._watcher: asyncio.Task | None = None
        self.dockerd_check_every = 30.0   # seconds between DOCKER-USER checks
        self._tables: dict[str, NameTable] = {}
        self._dns: dict[str, AsyncDnsServer] = {}
        self._upstream_by_ip: dict[str, list[Upstream]] = {}
        self._holds: dict[str, list] = {}   # container id -> PortReservations
        self._reaping: dict[str, float] = {}  # host veth name -> deadline
        self._reap_cond = threading.Condition()
        self._reaper: threading.Thread | None = None
        from dockyard.network.endpoint_sandbox import Sandboxes

        self.sandboxes = Sandboxes(self)

    # -- lifecycle ------------------------------------------------------------------
    async def start(self) -> None:
        """Predefined networks, bridges, rules; then the DNS servers on this loop.
        Idempotent (the API calls it before serving a network request)."""
        if self._loop is not None:
            return
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:     # two first requests at once: one start
            if self._loop is not None:
                return
            await asyncio.to_thread(self.boot)
            self._loop = asyncio.get_running_loop()
            for net in list(self.state.networks.values()):
                if net.dns:
                    try:
                        await self._start_dns(net)
                    except Unavailable as e:   # one network's DNS, not the daemon
                        log.error("network %s: %s", net.name, e.message)
            if self.iptables and self.docker_compat:
                self._watcher = asyncio.get_running_loop().create_task(
                    self._watch_dockerd(self.dockerd_check_every))

    async def _watch_dockerd(self, every: float = 30.0) -> None:
        """dockerd started after us drops our bridges' forwarding (FORWARD policy DROP):
        when its DOCKER-USER chain appears, open it for every bridge again."""
        seen = await asyncio.to_thread(dockercompat.docker_user_chains)
        while True:
            await asyncio.sleep(every)
            try:
                now = await asyncio.to_thread(dockercompat.docker_user_chains)
                if now and now != seen:
                    await asyncio.to_thread(self._allow_all_bridges)
                seen = now
            except Exception as e:  # never let the watcher die on a transient error
                log.warning("DOCKER-USER check: %s", e)

    def _allow_all_bridges(self) -> None:
        with self._lock:
            for net in self.state.networks.values():
                if net.bridge and link_exists(net.bridge):
                    dockercompat.allow_bridge(net.bridge)

    async def close(self) -> None:
        """Stop the DNS servers and release port holds; bridges, rules and endpoints
        stay for the containers that keep running."""
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None
        for nid in list(self._dns):
            await self._dns.pop(nid).stop()
        with self._lock:
            for holds in self._holds.values():
                for h in holds:
                    h.close()
            self._holds.clear()
        try:
            await asyncio.to_thread(self._drop_unused_bridges)
        except Exception as e:  # shutting down: report, never hang the daemon
            log.error("network shutdown: %s", e)
        self._loop = None
        self._starting = None

    def _drop_unused_bridges(self) -> None:
        """At a clean shutdown, bridges no running container uses (and the nft table,
        when nothing needs it) go; the next start makes them again. Bridges with
        endpoints stay: their containers keep running."""
        with self._lock:
            for net in self.state.networks.values():
                if net.driver == "bridge" and not self._used(net) and \
                        link_exists(net.bridge):
                    if self.iptables and self.docker_compat:
                        dockercompat.disallow_bridge(net.bridge)
                    bridges.delete_bridge(net.bridge)
            if self.iptables:
                state = self.rules_state()
                if state.ports or any(link_exists(n.bridge) for n in state.networks):
                    self.apply_rules()
                else:
                    nat.remove(self.nft_table)
                    self._rules_applied = False
            self._booted = False   # the next start ensures the bridges again

    def boot(self) -> None:
        """The synchronous half of ``start``: safe to call again."""
        with self._lock:
            if self._booted:
                return
            self.netns_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._ensure_predefined()
            for net in self.state.networks.values():
                # the default bridge is made when a container first needs it: a daemon
                # running only host/none containers leaves no link behind
                if net.driver == "bridge" and (not net.default_bridge or
                                               link_exists(net.bridge) or self._used(net)):
                    self._ensure_bridge(net)
                if net.dns:
                    self._tables.setdefault(net.id, NameTable())
            self.apply_rules()
            self.save()
            self._booted = True

    def save(self) -> None:
        self.state_file.save(self.state)

    def _ensure_predefined(self) -> None:
        by_name = {n.name: n for n in self.state.networks.values()}
        for name, driver in (("host", "host"), ("none", "null")):
            if name not in by_name:
                nid = secrets.token_hex(32)
                self.state.networks[nid] = NetworkRecord(
                    nid, name, driver, now_rfc3339(), predefined=True)
        current = by_name.get("bridge")
        if current is not None and self.bip and not self._default_matches_bip(current):
            if any(current.id in sb.endpoints for sb in self.state.sandboxes.values()):
                log.warning("bip changed to %s but containers use the old default "
                            "bridge subnet: keeping it", self.bip)
            else:
                self._drop_bridge(current)
                current = None
        if current is None:
            self._create_default_bridge()

    def _default_matches_bip(self, net: NetworkRecord) -> bool:
        import ipaddress

        iface = ipaddress.ip_interface(self.bip)
        return bool(net.ipam_config) and net.ipam_config[0].get("Subnet") == \
            str(iface.network) and net.ipam_config[0].get("Gateway") == str(iface.ip)

    def _create_default_bridge(self) -> None:
        """The ``bridge`` network's record; its subnet now, or (every pool subnet
        already routed on this host) at its first use, so a daemon still starts and
        host/none containers still run."""
        nid = secrets.token_hex(32)
        options = {OPT_DEFAULT: "true", OPT_ICC: str(self.icc).lower(),
                   OPT_MASQ: "true", OPT_HOST_IP: self.host_ip,
                   OPT_BRIDGE: self.default_bridge, OPT_MTU: str(self.mtu)}
        net = NetworkRecord(
            nid, "bridge", "bridge", now_rfc3339(), bridge=self.default_bridge,
            icc=self.icc, mtu=self.mtu,
            host_ip="" if self.host_ip == "0.0.0.0" else self.host_ip,
            predefined=True, default_bridge=True, options=options)
        self.state.networks[nid] = net
        try:
            self._allocate_default(net)
        except Unavailable as e:
            log.warning("default bridge network: %s (retried when a container needs it)",
                        e.message)

    def _allocate_default(self, net: NetworkRecord) -> None:
        import ipaddress

        if net.id in self.state.ipam.networks:
            return
        if self.bip:
            try:
                iface = ipaddress.ip_interface(self.bip)
            except ValueError:
                raise InvalidArgument(f"invalid bip {self.bip!r}: want an address with "
                                      "prefix, e.g. 10.99.0.1/24") from None
            req = SubnetRequest(str(iface.network), str(iface.ip), self.fixed_cidr or None)
        else:
            req = SubnetRequest(None, None, None)
            self.ipam.reserved = self._host_networks()
        reqs = [req]
        if self.ipv6 and self.fixed_cidr_v6:
            reqs.append(SubnetRequest(self.fixed_cidr_v6, ipv6=True))
        try:
            allocs = self.ipam.allocate_network(net.id, reqs)
        except Unavailable:
            raise Unavailable("no free subnet for the default bridge network: every "
                              "address pool subnet is already routed on this host (set "
                              "'bip' or 'default-address-pools' in daemon.json)") from None
        net.ipam_config = [{"Subnet": a.subnet, "Gateway": a.gateway} for a in allocs]
        if self.fixed_cidr:
            net.ipam_config[0]["IPRange"] = self.fixed_cidr
        net.enable_ipv6 = len(allocs) > 1

    def _host_networks(self) -> tuple:
        """The host's own prefixes minus dockyard's bridges (pools skip them)."""
        from dockyard.network.hostnets import host_networks

        ours = {a.network for allocs in self.state.ipam.networks.values() for a in allocs}
        return tuple(n for n in host_networks() if n not in ours)

    # -- bridges, rules, DNS -----------------------------------------------------------
    def _gateways(self, net: NetworkRecord) -> tuple[str, ...]:
        out = []
        for a in self.state.ipam.networks.get(net.id, []):
            out.append(f"{a.gateway}/{a.network.prefixlen}")
        return tuple(out)

    def _ensure_bridge(self, net: NetworkRecord) -> None:
        bridges.ensure_bridge(bridges.BridgeSpec(net.bridge, self._gateways(net), net.mtu))
        if self.iptables:
            _ip_forward_on()
        if self.iptables and self.docker_compat:
            dockercompat.allow_bridge(net.bridge)

    def _used(self, net: NetworkRecord) -> bool:
        return any(net.id in sb.endpoints for sb in self.state.sandboxes.values())

    def materialize(self, net: NetworkRecord) -> None:
        """The network's bridge and rules exist (made now if not)."""
        if net.default_bridge:
            self._allocate_default(net)
        if net.driver == "bridge" and not link_exists(net.bridge):
            self._ensure_bridge(net)
            self.apply_rules()

    def _drop_bridge(self, net: NetworkRecord) -> None:
        if self.iptables and self.docker_compat:
            dockercompat.disallow_bridge(net.bridge)
        bridges.delete_bridge(net.bridge)
        try:
            self.ipam.release_network(net.id)
        except NotFound:
            pass
        self.state.networks.pop(net.id, None)

    def rules_state(self) -> nat.NatState:
        rules = []
        for net in self.state.networks.values():
            if net.driver != "bridge":
                continue
            subnets = tuple(a.subnet for a in self.state.ipam.networks.get(net.id, []))
            rules.append(nat.NetworkRules(net.bridge, subnets, net.internal, net.icc,
                                          net.masquerade))
        mappings = []
        for sb in self.state.sandboxes.values():
            mappings.extend(nat.PortMapping(**m) for m in sb.ports)
        return nat.NatState(tuple(rules), tuple(mappings))

    def apply_rules(self) -> None:
        """The nft table for the current state; none at all while nothing needs one."""
        if not self.iptables:
            return
        state = self.rules_state()
        if not self._rules_applied and not state.ports and \
                not any(link_exists(n.bridge) for n in state.networks):
            return
        nat.apply(state, self.nft_table)
        self._rules_applied = True

    def table(self, network_id: str) -> NameTable:
        return self._tables.setdefault(network_id, NameTable())

    def _upstreams_for(self, client: str) -> list[Upstream] | None:
        return self._upstream_by_ip.get(client)

    async def _start_dns(self, net: NetworkRecord) -> None:
        if net.id in self._dns:
            return
        gws = [a for a in self.state.ipam.networks.get(net.id, []) if a.network.version == 4]
        if not gws:
            return
        ups = [Upstream(d) for d in self.dns] or host_resolvers(self.host_resolv)
        server = AsyncDnsServer(gws[0].gateway, self.table(net.id), port=self.dns_port,
                                upstreams=ups, clients=[a.subnet for a in gws],
                                upstreams_for=self._upstreams_for)
        await server.start()
        self._dns[net.id] = server

    def _on_loop(self, coro) -> Any:
        """Run ``coro`` on the daemon's loop from a worker thread (DNS servers)."""
        if self._loop is None:
            coro.close()
            return None
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            raise RuntimeError("NetworkService: a blocking method was called on the event "
                               "loop; run it in a worker thread")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    def dns_port_of(self, network_ref: str) -> int | None:
        net = self.state.find_network(network_ref)
        server = self._dns.get(net.id) if net else None
        return server.port if server else None

    # -- networks --------------------------------------------------------------------
    def get_network(self, ref: str) -> NetworkRecord:
        net = self.state.find_network(ref)
        if net is None:
            raise NotFound(f"network {ref} not found")
        return net

    def create(self, body: Any) -> dict:
        self.boot()
        req = parse_create(body, self.mtu, bool(self.v6_pools))
        with self._lock:
            if any(n.name == req.record.name for n in self.state.networks.values()):
                raise Conflict(f"network with name {req.record.name} already exists")
            net = req.record
            net.id = secrets.token_hex(32)
            net.created = now_rfc3339()
            if not net.bridge:
                net.bridge = bridge_name(net.id, self.link_prefix)
            elif any(n.bridge == net.bridge for n in self.state.networks.values()) or \
                    link_exists(net.bridge):
                raise Conflict(f"bridge name {net.bridge} is already in use")
            self.ipam.reserved = self._host_networks()
            try:
                allocs = self.ipam.allocate_network(net.id, req.subnets)
            except Conflict as e:
                if "overlaps" in e.message:
                    raise Forbidden("Pool overlaps with other one on this address space") \
                        from e
                raise
            for i, a in enumerate(allocs):
                if i < len(net.ipam_config) and net.ipam_config[i]["Subnet"] == a.subnet:
                    net.ipam_config[i].setdefault("Gateway", a.gateway)
                elif not any(c["Subnet"] == a.subnet for c in net.ipam_config):
                    net.ipam_config.insert(i, {"Subnet": a.subnet, "Gateway": a.gateway})
            self.state.networks[net.id] = net
            try:
                bridges.create_bridge(bridges.BridgeSpec(net.bridge, self._gateways(net),
                                                         net.mtu))
                if self.iptables and self.docker_compat:
                    dockercompat.allow_bridge(net.bridge)
                self.apply_rules()
                self._on_loop(self._start_dns(net))
                self.save()
            except BaseException:
                self._undo_network(net)
                raise
        return {"Id": net.id, "Warning": ""}

    def _undo_network(self, net: NetworkRecord) -> None:
        server = self._dns.pop(net.id, None)
        if server is not None:
            self._on_loop(server.stop())
        self._tables.pop(net.id, None)
        errors = []
        for step in (lambda: self._drop_bridge(net), self.apply_rules):
            try:
                step()
            except Exception as e:  # keep undoing: every step must be tried
                errors.append(e)
        self.state.networks.pop(net.id, None)
        if errors:
            log.error("undoing network %s: %s", net.name, errors)

    def _containers_of(self, net: NetworkRecord) -> dict[str, dict]:
        from dockyard.network.endpoint_settings import container_entry

        out = {}
        for sb in self.state.sandboxes.values():
            ep = sb.endpoints.get(net.id)
            if ep is not None:
                out[sb.container_id] = container_entry(sb.name, ep)
        return out

    def inspect(self, ref: str, verbose: bool = False) -> dict:
        self.boot()
        with self._lock:
            net = self.get_network(ref)
            return net.to_docker(self._containers_of(net))

    def list(self, filters: dict | None = None) -> list[dict]:
        from dockyard.network.netspec import LIST_FILTERS

        self.boot()
        filters = filters or {}
        for key in filters:
            if key not in LIST_FILTERS:
                raise InvalidArgument(f"invalid filter '{key}'")
        with self._lock:
            out = []
            for net in sorted(self.state.networks.values(), key=lambda n: n.created):
                used = self._containers_of(net)
                if matches(net, filters, bool(used)):
                    out.append(net.to_docker(used))
            return out

    def remove(self, ref: str) -> None:
        self.boot()
        with self._lock:
            net = self.get_network(ref)
            if net.predefined:
                raise Forbidden(f"{net.name} is a pre-defined network and cannot be removed")
            if self._containers_of(net):
                raise Forbidden(f"error while removing network: network {net.name} id "
                                f"{net.id} has active endpoints")
            self._undo_network(net)
            for members in self.state.memberships.values():
                members.pop(net.id, None)
            self.save()

    def prune(self, filters: dict | None = None) -> dict:
        from dockyard.network.netspec import PRUNE_FILTERS, _label_match

        filters = filters or {}
        for key in filters:
            if key not in PRUNE_FILTERS:
                raise InvalidArgument(f"invalid filter '{key}'")
        until = None
        if filters.get("until"):
            from dockyard.daemon.timefilter import parse_until

            until = parse_until(filters["until"][-1])
        deleted = []
        with self._lock:
            for net in list(self.state.networks.values()):
                if net.predefined or self._containers_of(net):
                    continue
                if until is not None and not created_before(net, until):
                    continue
                if not all(_label_match(net.labels, v) for v in filters.get("label", [])):
                    continue
                if any(_label_match(net.labels, v) for v in filters.get("label!", [])):
                    continue
                self.remove(net.id)
                deleted.append(net.name)
        return {"NetworksDeleted": deleted or None}

    # -- containers (endpoint_sandbox.py does the work) ---------------------------------------
    async def setup(self, req: ContainerNetRequest) -> ContainerNet:
        await self.start()
        return await asyncio.to_thread(self.sandboxes.setup, req)

    async def teardown(self, container_id: str) -> None:
        await asyncio.to_thread(self.sandboxes.teardown, container_id)

    async def restore(self, running: Iterable[ContainerNetRequest]) -> None:
        await self.start()
        await asyncio.to_thread(self.sandboxes.restore, list(running))

    async def connect(self, ref: str, container_id: str, endpoint_config: dict | None,
                      name: str = "") -> None:
        await self.start()
        await asyncio.to_thread(self.sandboxes.connect, ref, container_id,
                                endpoint_config or {}, name)

    async def disconnect(self, ref: str, container_id: str, force: bool = False) -> None:
        await self.start()
        await asyncio.to_thread(self.sandboxes.disconnect, ref, container_id, force)

    def forget(self, container_id: str) -> None:
        """The container is removed: drop its remembered network memberships."""
        with self._lock:
            if self.state.memberships.pop(container_id, None) is not None:
                self.save()

    def container_ip(self, container_id: str) -> dict:
        """The container's current ``NetworkSettings`` (reflects connect/disconnect);
        an empty one when it has no sandbox (not running)."""
        return self.sandboxes.settings(container_id)

    # -- veths going away with their netns -------------------------------------------
    def reap_later(self, host_ifname: str, grace: float = 3.0) -> None:
        """Watch a veth whose netns was released: the kernel deletes the pair with the
        namespace; one still there after ``grace`` (a process kept the netns alive) is
        deleted explicitly."""
        with self._reap_cond:
            self._reaping[host_ifname] = time.monotonic() + grace
            if self._reaper is None or not self._reaper.is_alive():
                self._reaper = threading.Thread(target=self._reap_loop, daemon=True,
                                                name="dockyard-veth-reaper")
                self._reaper.start()

    def _reap_loop(self) -> None:
        from dockyard.network import veth

        while True:
            with self._reap_cond:
                if not self._reaping:
                    self._reaper = None
                    self._reap_cond.notify_all()
                    return
                pending = dict(self._reaping)
            for name, deadline in pending.items():
                gone = not link_exists(name)
                if not gone and time.monotonic() > deadline:
                    try:
                        veth.detach(name)
                    except Exception as e:
                        log.error("delete veth %s: %s", name, e)
                    gone = True
                if gone:
                    with self._reap_cond:
                        self._reaping.pop(name, None)
            time.sleep(0.02)

    def settle(self, timeout: float = 10.0) -> bool:
        """Wait until every watched veth is gone; True when none is left."""
        deadline = time.monotonic() + timeout
        with self._reap_cond:
            while self._reaping:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._reap_cond.wait(min(left, 0.05))
        return True

    # -- for tests and diagnostics --------------------------------------------------
    def kernel_objects(self) -> dict[str, list[str]]:
        """What this service has in the kernel now: links of its bridges and veths,
        netns files, its nft table, held ports, DNS listeners."""
        from dockyard.network.endpoint_sandbox import kernel_objects

        self.settle()
        return kernel_objects(self)

    async def uninstall(self) -> None:
        """Remove everything: every sandbox, every network's bridge, the nft table,
        the DNS servers and the state (tests; ``dockyardd --purge-network`` style)."""
        await self.start()
        await asyncio.to_thread(self._uninstall_sync)
        await asyncio.to_thread(self.settle)
        await self.close()

    def _uninstall_sync(self) -> None:
        with self._lock:
            for cid in list(self.state.sandboxes):
                self.sandboxes.teardown(cid)
            for net in list(self.state.networks.values()):
                if net.driver == "bridge":
                    server = self._dns.pop(net.id, None)
                    if server is not None:
                        self._on_loop(server.stop())
                    self._drop_bridge(net)
            self.state.networks.clear()
            if self.iptables:
                nat.remove(self.nft_table)
            self.save()
            self._booted = False
