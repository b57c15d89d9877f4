"""``dockyardd``'s settings: flags merged with ``/etc/dockyard/daemon.json``.

dockerd's rules, kept: an unknown key in the file is an error (a typo must not
be silently ignored), and a setting given both as a flag and in the file is an
error too, naming both values. Keys the daemon does not implement yet (for
example ``storage-driver``) are rejected with a message that says so.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dockyard.errors import InvalidArgument

DEFAULT_CONFIG_FILE = "/etc/dockyard/daemon.json"
DEFAULT_HOST = "unix:///run/dockyard/dockyard.sock"
DEFAULT_DATA_ROOT = "/var/lib/dockyard"
DEFAULT_EXEC_ROOT = "/run/dockyard"
LOG_LEVELS = ("debug", "info", "warn", "error", "fatal")

# file key -> (attribute, expected JSON type)
_KEYS: dict[str, tuple[str, type | tuple[type, ...]]] = {
    "hosts": ("hosts", list),
    "data-root": ("data_root", str),
    "exec-root": ("exec_root", str),
    "log-level": ("log_level", str),
    "pidfile": ("pidfile", str),
    "group": ("group", str),
    "tls": ("tls", bool),
    "tlsverify": ("tlsverify", bool),
    "tlscacert": ("tlscacert", str),
    "tlscert": ("tlscert", str),
    "tlskey": ("tlskey", str),
    "debug": ("debug", bool),
    "experimental": ("experimental", bool),
    "labels": ("labels", list),
    "insecure-registries": ("insecure_registries", list),
    "registry-mirrors": ("registry_mirrors", list),
    # containers (the engine)
    "default-runtime": ("default_runtime", str),
    "runtimes": ("runtimes", dict),
    "log-driver": ("log_driver", str),
    "log-opts": ("log_opts", dict),
    "default-ulimits": ("default_ulimits", dict),
    "default-shm-size": ("default_shm_size", str),
    "init": ("init", bool),
    "init-path": ("init_path", str),
    "seccomp-profile": ("seccomp_profile", str),
    "no-new-privileges": ("no_new_privileges", bool),
    "cgroup-parent": ("cgroup_parent", str),
    "live-restore": ("live_restore", bool),
    # networks
    "bip": ("bip", str),
    "fixed-cidr": ("fixed_cidr", str),
    "default-address-pools": ("default_address_pools", list),
    "mtu": ("mtu", int),
    "icc": ("icc", bool),
    "iptables": ("iptables", bool),
    "ip": ("ip", str),
    "dns": ("dns", list),
    "dns-search": ("dns_search", list),
    "dns-opts": ("dns_opts", list),
    "ipv6": ("ipv6", bool),
    "fixed-cidr-v6": ("fixed_cidr_v6", str),
}

# list-valued keys whose items are objects, not strings
_OBJECT_LISTS = frozenset({"default-address-pools"})


@dataclass
class DaemonConfig:
    hosts: list[str] = field(default_factory=list)
    data_root: str = ""
    exec_root: str = DEFAULT_EXEC_ROOT
    log_level: str = "info"
    pidfile: str = ""
    group: str = ""               # owner group of unix sockets ("" = docker, if it exists)
    tls: bool = False             # TLS on tcp:// listeners
    tlsverify: bool = False       # ... and require client certificates signed by tlscacert
    tlscacert: str = ""
    tlscert: str = ""
    tlskey: str = ""
    debug: bool = False
    experimental: bool = False
    labels: list[str] = field(default_factory=list)
    insecure_registries: list[str] = field(default_factory=list)
    registry_mirrors: list[str] = field(default_factory=list)
    config_file: str = DEFAULT_CONFIG_FILE
    # containers
    default_runtime: str = "dockyard"
    runtimes: dict[str, Any] = field(default_factory=dict)   # name -> {"path": ...}
    log_driver: str = "json-file"
    log_opts: dict[str, str] = field(default_factory=dict)
    default_ulimits: dict[str, Any] = field(default_factory=dict)
    default_shm_size: str = "64M"
    init: bool = False
    init_path: str = ""
    seccomp_profile: str = ""
    no_new_privileges: bool = False
    cgroup_parent: str = ""
    live_restore: bool = True     # always on; accepted for dockerd compatibility
    # networks
    bip: str = ""
    fixed_cidr: str = ""
    default_address_pools: list[dict[str, Any]] = field(default_factory=list)
    mtu: int = 0
    icc: bool = True
    iptables: bool = True
    ip: str = "0.0.0.0"
    dns: list[str] = field(default_factory=list)
    dns_search: list[str] = field(default_factory=list)
    dns_opts: list[str] = field(default_factory=list)
    ipv6: bool = False
    fixed_cidr_v6: str = ""

    def finish(self) -> DaemonConfig:
        """Fill defaults that depend on the environment and check values."""
        if not self.hosts:
            self.hosts = [DEFAULT_HOST]
        if not self.data_root:
            self.data_root = os.environ.get("DOCKYARD_ROOT") or DEFAULT_DATA_ROOT
        if not self.pidfile:
            self.pidfile = os.path.join(self.exec_root, "dockyardd.pid")
        if self.debug:
            self.log_level = "debug"
        if self.log_level not in LOG_LEVELS:
            raise InvalidArgument(f"unable to parse logging level: {self.log_level}")
        for h in self.hosts:
            parse_host(h)
        if self.tlsverify:
            self.tls = True
        if self.tls and not (self.tlscert and self.tlskey):
            raise InvalidArgument("TLS needs --tlscert and --tlskey")
        if self.tlsverify and not self.tlscacert:
            raise InvalidArgument("--tlsverify needs --tlscacert (the CA that signs clients)")
        for label in self.labels:
            if "=" not in label:
                raise InvalidArgument(f"bad attribute format: {label}")
        self.data_root = os.path.abspath(self.data_root)
        self.exec_root = os.path.abspath(self.exec_root)
        return self

    def network_dict(self) -> dict[str, Any]:
        """The settings the network service reads, under daemon.json's key names."""
        return {k: getattr(self, attr) for k, (attr, _) in _KEYS.items()
                if k in _NETWORK_KEYS}

    def registry_dict(self) -> dict[str, Any]:
        return {"insecure-registries": list(self.insecure_registries),
                "registry-mirrors": list(self.registry_mirrors)}


_NETWORK_KEYS = frozenset({"bip", "fixed-cidr", "default-address-pools", "mtu", "icc",
                           "iptables", "ip", "dns", "dns-search", "dns-opts", "ipv6",
                           "fixed-cidr-v6"})


def parse_host(text: str) -> tuple[str, str]:
    """``unix:///path`` -> ("unix", "/path"); ``tcp://host:port`` -> ("tcp", "host:port")."""
    scheme, sep, rest = text.partition("://")
    if not sep:
        if text.startswith("/"):
            return "unix", text
        raise InvalidArgument(f"invalid host {text!r}: expected unix:///path or tcp://host:port")
    if scheme == "unix":
        if not rest.startswith("/"):
            raise InvalidArgument(f"invalid host {text!r}: a unix socket needs an absolute path")
        return "unix", rest
    if scheme == "tcp":
        host, colon, port = rest.rstrip("/").rpartition(":")
        if not colon or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise InvalidArgument(f"invalid host {text!r}: expected tcp://host:port")
        return "tcp", f"{host or '127.0.0.1'}:{port}"
    raise InvalidArgument(f"invalid host {text!r}: unsupported protocol {scheme!r}")


def read_file(path: str) -> dict[str, Any]:
    """The file's settings as {attribute: value}; {} when it does not exist."""
    p = Path(path)
    try:
        text = p.read_text()
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise InvalidArgument(f"unable to read configuration file {path}: {e.strerror}") \
            from None
    try:
        doc = json.loads(text) if text.strip() else {}
    except ValueError as e:
        raise InvalidArgument(f"unable to configure the daemon with file {path}: {e}") \
            from None
    if not isinstance(doc, dict):
        raise InvalidArgument(f"unable to configure the daemon with file {path}: "
                              "expected a JSON object")
    unknown = sorted(k for k in doc if k not in _KEYS)
    if unknown:
        raise InvalidArgument("the following directives don't match any configuration "
                              f"option: {', '.join(unknown)}")
    out: dict[str, Any] = {}
    for key, value in doc.items():
        attr, kind = _KEYS[key]
        item = dict if key in _OBJECT_LISTS else str
        if (not isinstance(value, kind) or (kind is int and isinstance(value, bool))
                or (kind is list and not all(isinstance(x, item) for x in value))):
            raise InvalidArgument(f"invalid value for {key!r} in {path}")
        out[attr] = value
    return out


def merge(flags: dict[str, Any], config_file: str) -> DaemonConfig:
    """Flags (only those the user gave) + file; both naming one setting is an error."""
    from_file = read_file(config_file)
    both = sorted(k for k in flags if k in from_file)
    if both:
        details = ", ".join(f"{_key_of(k)}: (from flag: {flags[k]}, from file: {from_file[k]})"
                            for k in both)
        raise InvalidArgument("the following directives are specified both as a flag and "
                              f"in the configuration file: {details}")
    cfg = DaemonConfig(config_file=config_file)
    for attr, value in {**from_file, **flags}.items():
        setattr(cfg, attr, value)
    if cfg.insecure_registries or cfg.registry_mirrors:
        from dockyard.registry.config import RegistryConfig

        RegistryConfig.from_dict(cfg.registry_dict())   # validates, raises InvalidArgument
    return cfg.finish()


def _key_of(attr: str) -> str:
    return next(k for k, (a, _) in _KEYS.items() if a == attr)


__all__ = ["DEFAULT_CONFIG_FILE", "DEFAULT_HOST", "DaemonConfig", "merge", "parse_host",
           "read_file"]
