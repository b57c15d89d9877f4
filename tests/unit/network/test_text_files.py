import pytest

from dockyard.errors import InvalidArgument
from dockyard.network.hosts import (
    HostEntry,
    check_hostname,
    parse_add_host,
    render_hostname,
    render_hosts,
)
from dockyard.network.resolvconf import DnsSettings, render_resolv_conf

HOST = """# host file
nameserver 127.0.0.53
nameserver 192.0.2.53
nameserver ::1
search corp.example lab.example
options ndots:2 edns0
"""


def test_default_bridge_copies_host_servers_without_loopback():
    out = render_resolv_conf(HOST)
    assert "nameserver 192.0.2.53" in out
    assert "127.0.0.53" not in out and "::1" not in out
    assert "search corp.example lab.example" in out
    assert "options ndots:2 edns0" in out


def test_only_loopback_servers_fall_back_to_public_ones():
    out = render_resolv_conf("nameserver 127.0.0.1\n")
    assert "nameserver 8.8.8.8" in out and "nameserver 8.8.4.4" in out


def test_embedded_dns_is_the_only_server():
    out = render_resolv_conf(HOST, embedded_dns="10.1.0.1")
    assert [x for x in out.splitlines() if x.startswith("nameserver")] == [
        "nameserver 10.1.0.1"]


def test_flags_override_host_values():
    out = render_resolv_conf(HOST, DnsSettings(("1.1.1.1",), ("a.example",), ("ndots:5",)))
    assert "nameserver 1.1.1.1" in out and "192.0.2.53" not in out
    assert "search a.example\n" in out and "options ndots:5\n" in out


def test_dns_search_dot_means_no_search_line():
    assert "search" not in render_resolv_conf(HOST, DnsSettings(search=(".",)))


@pytest.mark.parametrize("settings", [DnsSettings(("8.8.8",)), DnsSettings(search=("a b",)),
                                      DnsSettings(options=("",))])
def test_bad_dns_flags_are_invalid(settings):
    with pytest.raises(InvalidArgument):
        render_resolv_conf(HOST, settings)


def test_hosts_has_defaults_extra_hosts_then_own_addresses():
    extra = [parse_add_host("db:10.9.0.7"), parse_add_host("v6=fd00::7"),
             parse_add_host("gw:host-gateway", host_gateway="10.1.0.1")]
    out = render_hosts("web1", ["10.1.0.2"], extra, aliases=["web"]).splitlines()
    assert out[0] == "127.0.0.1\tlocalhost"
    assert "10.9.0.7\tdb" in out and "fd00::7\tv6" in out and "10.1.0.1\tgw" in out
    assert out[-1] == "10.1.0.2\tweb1 web"


def test_hosts_without_ipv6_omits_v6_defaults():
    assert "::1" not in render_hosts("h", ipv6=False)


@pytest.mark.parametrize("spec", ["db", "db:", ":10.0.0.1", "db:10.0.0.300",
                                  "bad_name:10.0.0.1", "gw:host-gateway"])
def test_bad_add_host_is_invalid(spec):
    with pytest.raises(InvalidArgument):
        parse_add_host(spec)


def test_add_host_ipv6_with_colons_and_brackets():
    assert parse_add_host("h:[fd00::1]") == HostEntry("fd00::1", ("h",))
    assert parse_add_host("h:fd00::1") == HostEntry("fd00::1", ("h",))


@pytest.mark.parametrize("name", ["", "-a", "a-", "a" * 64, "a..b", "under_score", "a b"])
def test_bad_hostnames(name):
    with pytest.raises(InvalidArgument, match="invalid hostname"):
        check_hostname(name)


def test_hostname_file():
    assert render_hostname("web-1.example") == "web-1.example\n"
