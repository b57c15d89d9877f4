"""``/etc/hostname``, ``/etc/hosts`` and ``/etc/resolv.conf`` for one container, written
into its files directory (``<data_root>/containers/<id>``) and bind-mounted by the spec.

Docker's rules: a bridge container's hosts file has the defaults, ``--add-host``
entries and its own addresses under its hostname; a host-network container gets a
copy of the host's ``/etc/hosts`` (plus ``--add-host``) and the host's resolv.conf
as is; user-defined networks name the embedded DNS server as the only nameserver,
the default bridge and ``none`` get the host's nameservers minus loopback ones.
Files are replaced by rename, so a container reading one never sees half of it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from dockyard.network.hosts import HostEntry, parse_add_host, render_hostname, render_hosts
from dockyard.network.resolvconf import DnsSettings, parse_resolv_conf, render_resolv_conf

__all__ = ["FileInputs", "write_files"]

HOST_RESOLV = "/etc/resolv.conf"
HOST_HOSTS = "/etc/hosts"


class FileInputs:
    """What the three files are made from (a plain holder: built by the service)."""

    def __init__(self, hostname: str, domainname: str = "", addresses: Sequence[str] = (),
                 extra_hosts: Sequence[str] = (), dns: Sequence[str] = (),
                 dns_search: Sequence[str] = (), dns_options: Sequence[str] = (),
                 embedded_dns: str | None = None, host_network: bool = False,
                 host_gateway: str | None = None, ipv6: bool = True,
                 host_resolv: str = HOST_RESOLV, host_hosts: str = HOST_HOSTS) -> None:
        self.hostname = hostname
        self.domainname = domainname
        self.addresses = list(addresses)
        self.extra_hosts = list(extra_hosts)
        self.dns = DnsSettings(tuple(dns), tuple(dns_search), tuple(dns_options))
        self.embedded_dns = embedded_dns
        self.host_network = host_network
        self.host_gateway = host_gateway
        self.ipv6 = ipv6
        self.host_resolv = host_resolv
        self.host_hosts = host_hosts


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def render(inp: FileInputs) -> dict[str, str]:
    """{container path: content}; InvalidArgument for a bad hostname/--add-host/--dns."""
    extra: list[HostEntry] = [parse_add_host(h, inp.host_gateway) for h in inp.extra_hosts]
    hostname = inp.hostname
    names = [f"{hostname}.{inp.domainname}", hostname] if inp.domainname else [hostname]
    if inp.host_network:
        hosts = _read(inp.host_hosts)
        if hosts and not hosts.endswith("\n"):
            hosts += "\n"
        hosts += "".join(f"{e.address}\t{' '.join(e.names)}\n" for e in extra)
        resolv_text = _read(inp.host_resolv)
        if inp.dns.nameservers or inp.dns.search or inp.dns.options:
            resolv = render_resolv_conf(resolv_text, inp.dns)
        else:
            inp.dns.validate()
            resolv = resolv_text or render_resolv_conf("", inp.dns)
    else:
        hosts = render_hosts(names[0], [a.split("/")[0] for a in inp.addresses], extra,
                             aliases=names[1:], ipv6=inp.ipv6)
        resolv_text = _read(inp.host_resolv)
        if inp.embedded_dns:
            # --dns goes to the embedded server's upstreams, not into the file
            host = parse_resolv_conf(resolv_text)
            settings = DnsSettings((), inp.dns.search, inp.dns.options)
            inp.dns.validate()
            resolv = render_resolv_conf(
                "".join(f"search {' '.join(host.search)}\n" if host.search else ""),
                settings, embedded_dns=inp.embedded_dns)
            if "ndots" not in resolv and not inp.dns.options:
                resolv += "options ndots:0\n"
        else:
            resolv = render_resolv_conf(resolv_text, inp.dns)
    return {"/etc/hostname": render_hostname(hostname), "/etc/hosts": hosts,
            "/etc/resolv.conf": resolv}


def write_files(files_dir: str | Path, inp: FileInputs) -> dict[str, str]:
    """Render and write the three files; returns {container path: host path}."""
    content = render(inp)
    d = Path(files_dir)
    d.mkdir(parents=True, exist_ok=True, mode=0o711)
    out = {}
    for target, text in content.items():
        host = d / target.rsplit("/", 1)[1]
        _atomic(host, text)
        out[target] = str(host)
    return out
