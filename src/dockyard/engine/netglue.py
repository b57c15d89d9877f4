"""The engine's side of the network seam: a ContainerNetRequest from a record,
and the answer (netns path, /etc files, NetworkSettings) back.

Without the network service (netwire not merged), only ``none`` and ``host``
work: the engine writes hostname/hosts/resolv.conf itself and the spec gets a
fresh empty network namespace (``none``) or none at all (``host``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dockyard.engine import lifecycle
from dockyard.errors import Conflict, InvalidArgument

if TYPE_CHECKING:
    from dockyard.engine.containers import ContainerService
    from dockyard.engine.model import ContainerRecord

EMPTY_NETNS = ""   # SpecInputs.netns: "" = a new, empty namespace; None = the host's


def _service_available() -> bool:
    try:
        import dockyard.network.service  # noqa: F401
    except ImportError:
        return False
    return True


def network_mode(rec: ContainerRecord) -> str:
    return rec.host_config.get("NetworkMode") or "default"


async def setup(svc: ContainerService, rec: ContainerRecord
                ) -> tuple[str | None, dict[str, str], dict[str, Any] | None]:
    mode = network_mode(rec)
    backend = svc.backend
    if not _service_available():
        if mode not in ("none", "host"):
            raise InvalidArgument(f"network mode {mode!r} is not available in this build "
                                  "yet; use --network none or --network host")
        files = await backend.run(lifecycle.fallback_net_files, rec)
        settings = dict(rec.network_settings or {})
        settings["Networks"] = {mode: _endpoint(mode)}
        return (None if mode == "host" else EMPTY_NETNS), files, settings
    req = build_request(svc, rec)
    net = await backend.networks.setup(req)
    return net.netns, dict(net.files), dict(net.settings)


def build_request(svc: ContainerService, rec: ContainerRecord) -> Any:
    from dockyard.network.service import ContainerNetRequest

    mode = network_mode(rec)
    joined = None
    if mode.startswith("container:"):
        other = svc.get(mode.split(":", 1)[1])
        if other.state.status not in ("running", "paused"):
            raise Conflict(f"cannot join network of a non running container: {other.id}")
        joined = f"/proc/{other.state.pid}/ns/net"
    cfg = rec.config
    host = rec.host_config
    req = ContainerNetRequest(
        container_id=rec.id, name=rec.name, hostname=cfg.get("Hostname") or rec.id[:12],
        domainname=cfg.get("Domainname") or "", network_mode=mode,
        endpoints=dict((rec.networking_config or {}).get("EndpointsConfig") or {}),
        port_bindings=dict(host.get("PortBindings") or {}),
        publish_all=bool(host.get("PublishAllPorts")),
        exposed_ports=dict(cfg.get("ExposedPorts") or {}),
        dns=list(host.get("Dns") or []), dns_search=list(host.get("DnsSearch") or []),
        dns_options=list(host.get("DnsOptions") or []),
        extra_hosts=list(host.get("ExtraHosts") or []),
        files_dir=str(rec.data_dir),
        network_rate=str(rec.labels.get("dockyard.network-rate")
                         or host.get("NetworkRate") or ""),
        joined_netns=joined)
    return req


async def restore(svc: ContainerService, running: list[ContainerRecord]) -> None:
    """Daemon start: the network service re-applies what running containers use."""
    if not _service_available():
        return
    reqs = []
    for rec in running:
        try:
            reqs.append(build_request(svc, rec))
        except Exception:   # a container:<id> whose peer is gone: nothing to restore
            continue
    await svc.backend.networks.restore(reqs)


async def teardown(svc: ContainerService, rec: ContainerRecord) -> None:
    if not _service_available():
        return
    await svc.backend.networks.teardown(rec.id)


_BLANK = {"EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0,
          "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
          "MacAddress": ""}


def stopped_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """NetworkSettings of a stopped container, as dockerd shows them: the networks it
    belongs to stay, addresses, endpoints, ports and the sandbox are gone."""
    out = dict(settings or {})
    out.update({k: v for k, v in _BLANK.items() if k in out})
    if "Ports" in out:
        out["Ports"] = {}
    for key in ("SandboxKey", "SandboxID"):
        if key in out:
            out[key] = ""
    nets = {}
    for name, ep in (out.get("Networks") or {}).items():
        ep = dict(ep or {})
        ep.update({k: v for k, v in _BLANK.items() if k in ep})
        nets[name] = ep
    out["Networks"] = nets
    return out


def _endpoint(mode: str) -> dict[str, Any]:
    return {"IPAMConfig": None, "Links": None, "Aliases": None, "NetworkID": "",
            "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0,
            "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
            "MacAddress": "", "DriverOpts": None}


__all__ = ["EMPTY_NETNS", "network_mode", "setup", "stopped_settings", "teardown"]
