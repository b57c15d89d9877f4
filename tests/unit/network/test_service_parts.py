"""The pure parts of the network service: create bodies, filters, port plans, files,
settings JSON, state round trips."""

from __future__ import annotations

import socket

import pytest

from dockyard.errors import Conflict, Forbidden, InvalidArgument, NotFound
from dockyard.network.endpoint import ContainerNetRequest, mac_for
from dockyard.network.endpoint_files import FileInputs, render, write_files
from dockyard.network.endpoint_ports import parse_port_key, plan_ports, ports_json
from dockyard.network.endpoint_settings import network_settings
from dockyard.network.netspec import created_before, matches, parse_create
from dockyard.network.state import (
    EndpointRecord,
    NetworkRecord,
    SandboxRecord,
    ServiceState,
    StateFile,
)


def test_parse_create_defaults_and_options():
    req = parse_create({"Name": "web", "Options": {"com.docker.network.driver.mtu": "1400",
                                                   "com.docker.network.bridge.enable_icc": False,
                                                   "com.docker.network.bridge.name": "br-web"},
                        "Internal": True, "Labels": {"a": "b"}}, 1500, False)
    rec = req.record
    assert (rec.mtu, rec.icc, rec.bridge, rec.internal, rec.dns) == (1400, False, "br-web",
                                                                      True, True)
    assert req.subnets[0].subnet is None and req.bridge_given
    assert rec.options["com.docker.network.bridge.enable_icc"] == "false"


@pytest.mark.parametrize("body, kind, words", [
    ({"Name": ""}, InvalidArgument, "cannot be empty"),
    ({"Name": "bad name"}, InvalidArgument, "invalid network name"),
    ({"Name": "x", "Driver": "host"}, Forbidden, 'only one instance of "host"'),
    ({"Name": "x", "Driver": "overlay"}, NotFound, 'plugin "overlay" not found'),
    ({"Name": "x", "IPAM": {"Driver": "dhcp"}}, NotFound, 'plugin "dhcp" not found'),
    ({"Name": "x", "IPAM": {"Config": [{"Subnet": "10.0.0.0/33"}]}}, InvalidArgument, "subnet"),
    ({"Name": "x", "IPAM": {"Config": [{"Gateway": "10.0.0.1"}]}}, InvalidArgument, "subnet"),
    ({"Name": "x", "IPAM": {"Config": [{"Subnet": "fd00::/64"}]}}, InvalidArgument, "IPv6"),
    ({"Name": "x", "EnableIPv6": True}, InvalidArgument, "IPv6 subnet"),
    ({"Name": "x", "Options": {"com.docker.network.driver.mtu": "9"}}, InvalidArgument, "MTU"),
    ({"Name": "x", "Options": {"com.docker.network.bridge.name": "a" * 16}}, InvalidArgument,
     "interface name"),
    ({"Name": "x", "Options": {"com.docker.network.bridge.enable_icc": "maybe"}},
     InvalidArgument, "true or false"),
    ([], InvalidArgument, "JSON object"),
])
def test_parse_create_refuses(body, kind, words):
    with pytest.raises(kind, match=words):
        parse_create(body, 1500, False)


def test_list_filters():
    net = NetworkRecord("abc123", "frontend", "bridge", "2026-01-01T00:00:00.000000000Z",
                        labels={"env": "prod"})
    assert matches(net, {"name": ["front"]}, False)
    assert not matches(net, {"name": ["back"]}, False)
    assert matches(net, {"id": ["abc"], "driver": ["bridge"]}, False)
    assert matches(net, {"label": ["env=prod"]}, False)
    assert not matches(net, {"label": ["env=dev"]}, False)
    assert matches(net, {"type": ["custom"]}, False)
    assert matches(net, {"dangling": ["true"]}, False)
    assert not matches(net, {"dangling": ["true"]}, True)
    with pytest.raises(InvalidArgument):
        matches(net, {"type": ["odd"]}, False)
    assert created_before(net, 1767225601.0) and not created_before(net, 1767225599.0)


def test_port_keys():
    assert parse_port_key("80/tcp") == (80, 80, "tcp")
    assert parse_port_key("53") == (53, 53, "tcp")
    assert parse_port_key("7000-7002/udp") == (7000, 7002, "udp")
    for bad in ("0/tcp", "80/icmp", "x/tcp", "9-3/tcp"):
        with pytest.raises(InvalidArgument):
            parse_port_key(bad)


def _free() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_plan_ports_holds_and_releases():
    p = _free()
    plan = plan_ports("10.0.0.2", {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(p)}]},
                      {"80/tcp": {}, "90/udp": {}}, False)
    try:
        with pytest.raises(Conflict, match=f"127.0.0.1:{p} failed: port is already"):
            plan_ports("10.0.0.3", {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(p)}]},
                       {}, False)
        doc = ports_json(plan.mapping_dicts(), plan.exposed)
        assert doc == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(p)}], "90/udp": None}
    finally:
        plan.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", p))


def test_plan_ports_publish_all_and_errors():
    plan = plan_ports("10.0.0.2", {}, {"80/tcp": {}, "81/tcp": {}}, True, "127.0.0.1")
    try:
        ports = {m.container_port: m.host_port for m in plan.mappings}
        assert set(ports) == {80, 81} and ports[80] != ports[81]
        assert all(m.host_ip == "127.0.0.1" for m in plan.mappings)
    finally:
        plan.close()
    for bindings in ({"80/tcp": [{"HostIp": "nope"}]}, {"80/tcp": [{"HostPort": "x"}]},
                     {"80/tcp": [{"HostIp": "::1"}]},
                     {"80-81/tcp": [{"HostPort": "9000-9005"}]}):
        with pytest.raises(InvalidArgument):
            plan_ports("10.0.0.2", bindings, {}, False)


def test_files_for_bridge_user_network_and_host(tmp_path):
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.53\nnameserver 192.0.2.1\nsearch lan\n")
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n10.1.1.1 nas\n")
    common = dict(host_resolv=str(resolv), host_hosts=str(hosts))
    plain = render(FileInputs("box", addresses=["172.17.0.2/16"], **common))
    assert "nameserver 192.0.2.1" in plain["/etc/resolv.conf"]
    assert "127.0.0.53" not in plain["/etc/resolv.conf"]
    assert "172.17.0.2\tbox" in plain["/etc/hosts"]
    user = render(FileInputs("box", addresses=["10.5.0.2/24"], embedded_dns="10.5.0.1",
                             dns=["192.0.2.9"], **common))
    assert user["/etc/resolv.conf"].count("nameserver") == 1
    assert "nameserver 10.5.0.1" in user["/etc/resolv.conf"]
    assert "search lan" in user["/etc/resolv.conf"]
    host = render(FileInputs("box", host_network=True, extra_hosts=["x:192.0.2.5"], **common))
    assert host["/etc/hosts"].startswith("127.0.0.1 localhost\n10.1.1.1 nas\n")
    assert "192.0.2.5\tx" in host["/etc/hosts"]
    assert host["/etc/resolv.conf"] == resolv.read_text()
    out = write_files(tmp_path / "ctr", FileInputs("box", **common))
    assert sorted(out) == ["/etc/hostname", "/etc/hosts", "/etc/resolv.conf"]
    assert (tmp_path / "ctr" / "hostname").read_text() == "box\n"


def test_settings_and_state_round_trip(tmp_path):
    net = NetworkRecord("n" * 64, "bridge", "bridge", "t", bridge="dockyard0",
                        default_bridge=True, predefined=True)
    ep = EndpointRecord(net.id, "e" * 64, "eth0", "dyveeee", mac_for("172.17.0.2/16"),
                        "172.17.0.2/16", gateway="172.17.0.1", default_route=True)
    req = ContainerNetRequest("c" * 64, "/web", "c" * 12, "", "bridge", {}, {}, False, {},
                              [], [], [], [], str(tmp_path))
    sb = SandboxRecord("c" * 64, "web", "bridge", "/run/x/netns/c", "s" * 64,
                       endpoints={net.id: ep}, request=req.to_json(),
                       ports=[{"container_ip": "172.17.0.2", "container_port": 80,
                               "host_port": 8080, "proto": "tcp", "host_ip": None,
                               "host_port_end": None, "container_port_end": None}],
                       exposed=["80/tcp"])
    doc = network_settings(sb, {net.id: net})
    assert doc["IPAddress"] == "172.17.0.2" and doc["IPPrefixLen"] == 16
    assert doc["MacAddress"] == "02:42:ac:11:00:02"
    assert doc["Networks"]["bridge"]["Gateway"] == "172.17.0.1"
    assert doc["Ports"] == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}
    state = ServiceState(networks={net.id: net}, sandboxes={sb.container_id: sb},
                         memberships={sb.container_id: {net.id: {}}})
    f = StateFile(tmp_path / "network")
    f.save(state)
    back = f.load()
    assert back.to_json() == state.to_json()
    assert back.find_network("bridge") is back.find_network("nnn") is back.networks[net.id]
    assert ContainerNetRequest.from_json(back.sandboxes[sb.container_id].request) == req
    (tmp_path / "network" / "state.json").write_text("{broken")
    with pytest.raises(InvalidArgument, match="corrupt network state"):
        f.load()


def test_default_names_are_per_data_root():
    from pathlib import Path

    from dockyard.network.service import default_names

    assert default_names("dy", Path("/var/lib/dockyard")) == ("dockyard", "dockyard0")
    a = default_names("dy", Path("/tmp/a"))
    b = default_names("dy", Path("/tmp/b"))
    assert a != b and a[1].startswith("dy-") and len(a[1]) <= 15
    t = default_names("dyt1a2b3", Path("/tmp/a"))
    assert t[0].startswith("dockyard-dyt1a2b3-") and t[1].startswith("dyt1a2b3-")
    assert len(t[1]) <= 15


def test_a_corrupt_state_file_is_moved_aside(tmp_path):
    from dockyard.network.service import NetworkService

    (tmp_path / "network").mkdir()
    (tmp_path / "network" / "state.json").write_text("{not json")
    svc = NetworkService(tmp_path / "network", tmp_path / "exec", {}, link_prefix="dyu")
    assert svc.state.networks == {}
    assert [p.name.startswith("state.json.corrupt-") for p in
            (tmp_path / "network").iterdir()] == [True]
