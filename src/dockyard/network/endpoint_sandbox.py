"""Each container's sandbox: its netns, endpoints, ports, DNS names and files.

``Sandboxes`` is the container half of ``NetworkService`` (it shares the service's
lock and state). Every operation is all or nothing: what a failed ``setup`` or
``connect`` made is taken down again before the error goes back, and ``teardown``
tries every step even when one fails, then reports what failed.
"""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
from typing import TYPE_CHECKING

from dockyard.errors import Forbidden, InvalidArgument, NotFound, SystemError_
from dockyard.network import netns
from dockyard.network.bandwidth import RateLimit, parse_network_rate
from dockyard.network.dns import Upstream
from dockyard.network.endpoint import ContainerNet, ContainerNetRequest, mac_for, plug, unplug
from dockyard.network.endpoint_files import FileInputs, render, write_files
from dockyard.network.endpoint_ports import plan_ports
from dockyard.network.endpoint_settings import empty_settings, network_settings
from dockyard.network.names import ifb_name, link_exists, link_names, veth_name
from dockyard.network.state import EndpointRecord, NetworkRecord, SandboxRecord

if TYPE_CHECKING:
    from dockyard.network.service import NetworkService

__all__ = ["Sandboxes", "kernel_objects"]

log = logging.getLogger("dockyardd.network")
NOT_HOST = "container cannot be disconnected from host network or connected to host network"
PENDING = "dockyard.pending"   # a connect made before the container's first start
NOT_NONE = ("container cannot be connected to multiple networks with one of the networks "
            "in private (none) mode")


class Sandboxes:
    def __init__(self, svc: NetworkService) -> None:
        self.svc = svc

    @property
    def state(self):
        return self.svc.state

    # -- setup ---------------------------------------------------------------------
    def setup(self, req: ContainerNetRequest) -> ContainerNet:
        svc = self.svc
        svc.boot()
        with svc._lock:
            if req.container_id in self.state.sandboxes:
                self.teardown(req.container_id)
            mode = req.network_mode or "default"
            if mode.startswith("container:"):
                return self._setup_joined(req)
            net = svc.get_network("bridge" if mode in ("default", "bridge") else mode)
            if net.driver == "host":
                return self._setup_plain(req, net, host=True)
            if net.driver == "null":
                return self._setup_plain(req, net, host=False)
            return self._setup_bridged(req, self._membership(req, net))

    def _membership(self, req: ContainerNetRequest, primary: NetworkRecord
                    ) -> list[tuple[NetworkRecord, dict]]:
        """The networks to join, primary first: what connect/disconnect left, else the
        request's (the network mode plus NetworkingConfig.EndpointsConfig)."""
        stored = self.state.memberships.get(req.container_id)
        pending = {}
        if stored is not None and all(c.get(PENDING) for c in stored.values()):
            pending, stored = stored, None    # connected before its first start
        if stored is None:
            configs = dict(req.endpoints or {})
            first = configs.pop(primary.name, None) or configs.pop(primary.id, None) or {}
            if req.network_mode and req.network_mode not in ("default", "bridge"):
                first = configs.pop(req.network_mode, None) or first
            stored = {primary.id: first or {}}
            for ref, cfg in configs.items():
                net = self.svc.get_network(ref)
                if net.driver != "bridge":
                    raise Forbidden(NOT_HOST if net.driver == "host" else NOT_NONE)
                stored.setdefault(net.id, cfg or {})
            for nid, cfg in pending.items():
                stored.setdefault(nid, {k: v for k, v in cfg.items() if k != PENDING})
        out = []
        for nid, cfg in stored.items():
            net = self.state.networks.get(nid)
            if net is None:
                raise NotFound(f"network {nid} not found")
            out.append((net, cfg or {}))
        return out

    def _inputs(self, req: ContainerNetRequest, sb: SandboxRecord | None,
                host: bool = False) -> FileInputs:
        svc = self.svc
        addresses: list[str] = []
        embedded = None
        if sb is not None:
            for ep in sb.endpoints.values():
                addresses += [a for a in (ep.ipv4, ep.ipv6) if a]
            first = next(iter(sb.endpoints.values()), None)
            net = svc.state.networks.get(first.network_id) if first else None
            if net is not None and net.dns and first.gateway:
                embedded = first.gateway
        default = next((n for n in svc.state.networks.values() if n.default_bridge), None)
        gw = default.ipam_config[0].get("Gateway") if default and default.ipam_config else None
        return FileInputs(
            hostname=req.hostname or req.container_id[:12], domainname=req.domainname,
            addresses=addresses, extra_hosts=req.extra_hosts or [],
            dns=req.dns or svc.dns, dns_search=req.dns_search or svc.dns_search,
            dns_options=req.dns_options or svc.dns_opts, embedded_dns=embedded,
            host_network=host, host_gateway=gw, host_resolv=svc.host_resolv,
            host_hosts=svc.host_hosts)

    def _new_sandbox(self, req: ContainerNetRequest, mode: str, path: str | None
                     ) -> SandboxRecord:
        return SandboxRecord(req.container_id, req.name.lstrip("/"), mode, path,
                             secrets.token_hex(32), request=req.to_json(),
                             rate=req.network_rate)

    def _netns_path(self, container_id: str) -> str:
        if "/" in container_id or container_id in ("", ".", ".."):
            raise InvalidArgument(f"invalid container id {container_id!r}")
        return str(self.svc.netns_dir / container_id)

    def _setup_plain(self, req: ContainerNetRequest, net: NetworkRecord, host: bool
                     ) -> ContainerNet:
        render(self._inputs(req, None, host))          # bad input: nothing made yet
        path = None if host else self._netns_path(req.container_id)
        sb = self._new_sandbox(req, net.name, path)
        sb.endpoints[net.id] = EndpointRecord(net.id, secrets.token_hex(32), "")
        self.state.sandboxes[sb.container_id] = sb
        try:
            if path is not None:
                netns.create(path)
            sb.files = write_files(req.files_dir, self._inputs(req, sb, host))
            self.svc.save()
        except BaseException:
            self._release(sb)
            raise
        return ContainerNet(path, dict(sb.files), self.settings(sb.container_id))

    def _setup_joined(self, req: ContainerNetRequest) -> ContainerNet:
        if not req.joined_netns:
            raise InvalidArgument(f"network mode {req.network_mode}: the engine must give "
                                  "the other container's netns (joined_netns)")
        ref = req.network_mode.split(":", 1)[1]
        other = next((s for s in self.state.sandboxes.values()
                      if s.netns == req.joined_netns or s.container_id == ref
                      or s.name == ref.lstrip("/")), None)
        # joining a host-network container joins the host's network
        path = None if other is not None and other.netns is None else req.joined_netns
        sb = self._new_sandbox(req, "container:" + (other.container_id if other else ref),
                               path)
        if other is not None and other.files:
            sb.files = dict(other.files)
        else:
            sb.files = write_files(req.files_dir, self._inputs(req, None))
        self.state.sandboxes[sb.container_id] = sb
        self.svc.save()
        return ContainerNet(path, dict(sb.files), self.settings(sb.container_id))

    def _setup_bridged(self, req: ContainerNetRequest,
                       nets: list[tuple[NetworkRecord, dict]]) -> ContainerNet:
        svc = self.svc
        rate = parse_network_rate(req.network_rate) if req.network_rate else None
        render(self._inputs(req, None))               # bad input: nothing made yet
        path = self._netns_path(req.container_id)
        sb = self._new_sandbox(req, req.network_mode or "bridge", path)
        self.state.sandboxes[sb.container_id] = sb
        try:
            for net, _ in nets:
                svc.materialize(net)
            netns.create(path)
            for i, (net, cfg) in enumerate(nets):
                self._add_endpoint(sb, net, cfg, i, default_route=(i == 0),
                                   rate=rate if i == 0 else None)
            first = next(iter(sb.endpoints.values()), None)
            if first is not None and first.ipv4 and (req.port_bindings or req.publish_all
                                                     or req.exposed_ports):
                net = svc.state.networks[first.network_id]
                plan = plan_ports(first.ipv4.split("/")[0], req.port_bindings,
                                  req.exposed_ports, req.publish_all,
                                  net.host_ip or svc.host_ip)
                svc._holds[sb.container_id] = plan.holds
                sb.ports, sb.exposed = plan.mapping_dicts(), plan.exposed
                if sb.ports:
                    svc.apply_rules()
            sb.files = write_files(req.files_dir, self._inputs(req, sb))
            self.state.memberships[req.container_id] = {net.id: cfg for net, cfg in nets}
            svc.save()
        except BaseException:
            self._release(sb)
            raise
        return ContainerNet(path, dict(sb.files), self.settings(sb.container_id))

    def _add_endpoint(self, sb: SandboxRecord, net: NetworkRecord, cfg: dict, index: int,
                      default_route: bool, rate: RateLimit | None = None) -> EndpointRecord:
        svc = self.svc
        ipam_cfg = cfg.get("IPAMConfig") or {}
        static4 = ipam_cfg.get("IPv4Address") or ""
        static6 = ipam_cfg.get("IPv6Address") or ""
        if (static4 or static6) and net.predefined:
            raise InvalidArgument("user specified IP address is supported on user defined "
                                  "networks only")
        eid = secrets.token_hex(32)
        ep = EndpointRecord(net.id, eid, f"eth{index}",
                            host_ifname=veth_name(eid, svc.link_prefix),
                            default_route=default_route, static_ipv4=static4,
                            static_ipv6=static6)
        aliases = [str(a) for a in (cfg.get("Aliases") or [])]
        if net.dns and sb.container_id[:12] not in aliases:
            aliases.append(sb.container_id[:12])
        ep.aliases = aliases if net.dns else []
        ep.dns_names = list(dict.fromkeys([sb.name, *aliases])) if net.dns else []
        if rate is not None and rate.egress:
            ep.ifb = ifb_name(eid, svc.link_prefix)
        sb.endpoints[net.id] = ep          # from here on, _release undoes it
        ip4 = svc.ipam.allocate_address(net.id, static4 or None, 4)
        allocs = svc.state.ipam.networks[net.id]
        a4 = next(a for a in allocs if ip4 in a.network)
        ep.ipv4, ep.gateway = f"{ip4}/{a4.network.prefixlen}", a4.gateway
        if net.enable_ipv6 and any(a.network.version == 6 for a in allocs):
            ip6 = svc.ipam.allocate_address(net.id, static6 or None, 6)
            a6 = next(a for a in allocs if ip6 in a.network)
            ep.ipv6, ep.gateway6 = f"{ip6}/{a6.network.prefixlen}", a6.gateway
        ep.mac = str(cfg.get("MacAddress") or "") or mac_for(ep.ipv4)
        plug(sb.netns or "", net, ep, rate)
        self._register(sb, ep, net)
        return ep

    def _register(self, sb: SandboxRecord, ep: EndpointRecord, net: NetworkRecord) -> None:
        if not net.dns or not ep.ipv4:
            return
        table = self.svc.table(net.id)
        for addr in (ep.ipv4, ep.ipv6):
            if addr:
                for name in ep.dns_names:
                    table.add(name, addr.split("/")[0])
        dns = (sb.request or {}).get("dns") or []
        if dns:
            self.svc._upstream_by_ip[ep.ipv4.split("/")[0]] = [Upstream(d) for d in dns]

    # -- teardown ------------------------------------------------------------------
    def teardown(self, container_id: str) -> None:
        with self.svc._lock:
            sb = self.state.sandboxes.get(container_id)
            if sb is None:
                return
            try:
                self._release(sb)
            finally:
                self.svc.save()

    def _drop_endpoint(self, sb: SandboxRecord, ep: EndpointRecord, errors: list,
                       with_netns: bool = False) -> None:
        """``with_netns``: the sandbox's netns goes too, so the kernel deletes the veth
        pair with it (asynchronously, batched): the host end is only watched
        (``NetworkService.reap_later``) instead of deleted here, which would cost
        ~25 ms of RCU grace period on the container's exit path."""
        svc = self.svc
        net = svc.state.networks.get(ep.network_id)
        for addr in (ep.ipv4, ep.ipv6):
            if addr:
                ip = addr.split("/")[0]
                if net is not None and net.dns:
                    svc.table(net.id).remove_address(ip)
                svc._upstream_by_ip.pop(ip, None)
                try:
                    svc.ipam.release_address(ep.network_id, ip)
                except NotFound:
                    pass
        try:
            if with_netns and ep.host_ifname:
                if ep.ifb:
                    unplug(EndpointRecord(ep.network_id, ep.endpoint_id, "", ifb=ep.ifb))
                svc.reap_later(ep.host_ifname)
            else:
                unplug(ep)
        except Exception as e:  # keep going: every step must be tried
            errors.append(f"endpoint {ep.host_ifname}: {e}")
        sb.endpoints.pop(ep.network_id, None)

    def _release(self, sb: SandboxRecord) -> None:
        """Undo everything ``sb`` holds; raise one error naming every failed step."""
        svc = self.svc
        errors: list[str] = []
        ours = bool(sb.netns) and not sb.mode.startswith("container:") and \
            sb.netns.startswith(str(svc.netns_dir) + "/")
        for ep in list(sb.endpoints.values()):
            self._drop_endpoint(sb, ep, errors, with_netns=ours)
        for h in svc._holds.pop(sb.container_id, []):
            h.close()
        self.state.sandboxes.pop(sb.container_id, None)
        if sb.ports:
            try:
                svc.apply_rules()
            except Exception as e:
                errors.append(f"rules: {e}")
        if ours:
            try:
                netns.remove(sb.netns)
            except Exception as e:
                errors.append(f"netns {sb.netns}: {e}")
        if errors:
            raise SystemError_(f"network teardown of {sb.container_id}: " + "; ".join(errors))

    # -- restore -------------------------------------------------------------------
    def restore(self, running: list[ContainerNetRequest]) -> None:
        from dockyard.errors import Conflict
        from dockyard.network import ports
        from dockyard.network.nat import PortMapping

        svc = self.svc
        with svc._lock:
            live = {r.container_id for r in running}
            for cid in list(self.state.sandboxes):
                if cid not in live:
                    try:
                        self.teardown(cid)
                    except SystemError_ as e:
                        log.error("restore: %s", e)
            self._sweep_orphans()
            for r in running:
                sb = self.state.sandboxes.get(r.container_id)
                if sb is None:
                    log.warning("restore: container %s has no network state", r.container_id)
                    continue
                for ep in sb.endpoints.values():
                    net = svc.state.networks.get(ep.network_id)
                    if net is None or not ep.host_ifname:
                        continue
                    try:
                        self._reattach(sb, ep, net)
                    except Exception as e:
                        log.error("restore: endpoint %s of %s: %s", ep.host_ifname,
                                  sb.container_id, e)
                    self._register(sb, ep, net)
                holds = svc._holds.setdefault(sb.container_id, [])
                for raw in sb.ports:
                    m = PortMapping(**raw)
                    for hp, _ in m.pairs():
                        if m.proto == "sctp":
                            continue
                        try:
                            holds.append(ports.reserve(m.host_ip, hp, m.proto))
                        except Conflict as e:
                            log.warning("restore: %s", e.message)
            svc.apply_rules()
            svc.save()

    def _sweep_orphans(self) -> None:
        """What a daemon killed in the middle of a setup left: netns files no sandbox
        owns, veths on our bridges no endpoint owns, addresses no endpoint holds."""
        svc = self.svc
        owned_ns = {os.path.basename(sb.netns) for sb in self.state.sandboxes.values()
                    if sb.netns}
        try:
            files = os.listdir(svc.netns_dir)
        except OSError:
            files = []
        for name in files:
            if name not in owned_ns:
                log.warning("restore: removing orphan netns %s", name)
                try:
                    netns.remove(svc.netns_dir / name)
                except SystemError_ as e:
                    log.error("restore: %s", e)
        owned = {ep.host_ifname for sb in self.state.sandboxes.values()
                 for ep in sb.endpoints.values()}
        ours = {n.bridge for n in self.state.networks.values() if n.bridge}
        used = {(ep.network_id, a.split("/")[0]) for sb in self.state.sandboxes.values()
                for ep in sb.endpoints.values() for a in (ep.ipv4, ep.ipv6) if a}
        for nid, allocs in self.state.ipam.networks.items():
            for alloc in allocs:
                alloc.allocated = [ip for ip in alloc.allocated if (nid, ip) in used]
        for name, master in _masters().items():
            if name.startswith(svc.link_prefix) and name not in owned and \
                    name not in ours and master in ours:
                log.warning("restore: removing orphan veth %s", name)
                unplug(EndpointRecord("", "", "", host_ifname=name))

    def _reattach(self, sb: SandboxRecord, ep: EndpointRecord, net: NetworkRecord) -> None:
        """The host end exists: make sure it sits on the (maybe re-made) bridge; it is
        gone but the netns is there: plug the endpoint again with the same address."""
        from pyroute2 import IPRoute

        if link_exists(ep.host_ifname):
            with IPRoute() as ipr:
                idx = ipr.link_lookup(ifname=ep.host_ifname)[0]
                br = ipr.link_lookup(ifname=net.bridge)[0]
                ipr.link("set", index=idx, master=br, state="up")
            return
        if sb.netns and netns.is_netns(sb.netns):
            rate = parse_network_rate(sb.rate) if sb.rate and ep.default_route else None
            plug(sb.netns, net, ep, rate)

    # -- connect / disconnect ------------------------------------------------------
    def connect(self, ref: str, container_id: str, cfg: dict, name: str = "") -> None:
        svc = self.svc
        svc.boot()
        with svc._lock:
            net = svc.get_network(ref)
            if net.driver != "bridge":
                raise Forbidden(NOT_HOST if net.driver == "host" else NOT_NONE)
            sb = self.state.sandboxes.get(container_id)
            members = self.state.memberships.setdefault(container_id, {})
            label = name.lstrip("/") or (sb.name if sb else container_id[:12])
            if (sb is None and net.id in members) or (sb is not None and net.id in sb.endpoints):
                raise Forbidden(f"endpoint with name {label} already exists in network "
                                f"{net.name}")
            if sb is not None:
                if sb.netns is None or sb.mode.startswith("container:"):
                    raise Forbidden(NOT_HOST)
                if any(svc.state.networks.get(e.network_id, net).driver == "null"
                       for e in sb.endpoints.values()):
                    raise Forbidden(NOT_NONE)
                svc.materialize(net)
                used = {e.ifname for e in sb.endpoints.values()}
                index = next(i for i in range(len(used) + 1) if f"eth{i}" not in used)
                try:
                    self._add_endpoint(sb, net, cfg, index, default_route=not sb.endpoints)
                    self._rewrite_files(sb)
                except BaseException:
                    errors: list[str] = []
                    if net.id in sb.endpoints:
                        self._drop_endpoint(sb, sb.endpoints[net.id], errors)
                    raise
            elif not members or all(c.get(PENDING) for c in members.values()):
                # never started: joined to what its create request names at start
                cfg = {**cfg, PENDING: True}
            members[net.id] = cfg
            svc.save()

    def disconnect(self, ref: str, container_id: str, force: bool = False) -> None:
        svc = self.svc
        svc.boot()
        with svc._lock:
            net = svc.get_network(ref)
            sb = self.state.sandboxes.get(container_id)
            members = self.state.memberships.get(container_id, {})
            if net.driver == "host" or (sb is not None and sb.netns is None):
                raise Forbidden(NOT_HOST)
            connected = net.id in sb.endpoints if sb is not None else net.id in members
            if not connected:
                raise Forbidden(f"container {container_id} is not connected to network "
                                f"{net.name}")
            members.pop(net.id, None)
            if sb is not None:
                errors: list[str] = []
                self._drop_endpoint(sb, sb.endpoints[net.id], errors)
                self._rewrite_files(sb)
                if errors and not force:
                    svc.save()
                    raise SystemError_("; ".join(errors))
            svc.save()

    def _rewrite_files(self, sb: SandboxRecord) -> None:
        req = ContainerNetRequest.from_json(sb.request)
        sb.files = write_files(req.files_dir, self._inputs(req, sb))

    def rename(self, container_id: str, new_name: str) -> None:
        svc = self.svc
        with svc._lock:
            sb = self.state.sandboxes.get(container_id)
            if sb is None or sb.name == new_name:
                return
            for ep in sb.endpoints.values():
                net = svc.state.networks.get(ep.network_id)
                if net is None or not net.dns or sb.name not in ep.dns_names:
                    continue
                for addr in (ep.ipv4, ep.ipv6):
                    if addr:
                        svc.table(net.id).remove(sb.name, addr.split("/")[0])
                        svc.table(net.id).add(new_name, addr.split("/")[0])
                ep.dns_names = [new_name if n == sb.name else n for n in ep.dns_names]
            sb.name = new_name
            sb.request = {**sb.request, "name": "/" + new_name}
            svc.save()

    # -- settings ------------------------------------------------------------------
    def settings(self, container_id: str) -> dict:
        with self.svc._lock:
            sb = self.state.sandboxes.get(container_id)
            if sb is None:
                return empty_settings()
            return network_settings(sb, self.svc.state.networks)


def _masters() -> dict[str, str | None]:
    """Every link of the daemon's netns and the bridge it is enslaved to."""
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        links = ipr.get_links()
    names = {link["index"]: link.get_attr("IFLA_IFNAME") for link in links}
    return {link.get_attr("IFLA_IFNAME"): names.get(link.get_attr("IFLA_MASTER"))
            for link in links}


def kernel_objects(svc: NetworkService) -> dict[str, list[str]]:
    bridges = {n.bridge for n in svc.state.networks.values() if n.bridge}
    names = link_names()
    links = sorted(n for n in names if n.startswith(svc.link_prefix) or n in bridges
                   or n == svc.default_bridge)
    try:
        ns_files = sorted(os.listdir(svc.netns_dir))
    except OSError:
        ns_files = []
    tables = []
    proc = subprocess.run(["nft", "list", "table", "inet", svc.nft_table],
                          capture_output=True, timeout=30)
    if proc.returncode == 0:
        tables.append(svc.nft_table)
    holds = [f"{h.proto}/{h.host_ip or '0.0.0.0'}:{h.port}"
             for hs in svc._holds.values() for h in hs if h._socks]
    dns = [f"{s.address}:{s.port}" for s in svc._dns.values()]
    return {"links": links, "netns": ns_files, "nft_tables": tables, "port_holds": holds,
            "dns_servers": dns}
