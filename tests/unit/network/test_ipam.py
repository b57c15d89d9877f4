import ipaddress

import pytest

from dockyard.errors import Conflict, InvalidArgument, NotFound, Unavailable
from dockyard.network.ipam import (
    AddressPool,
    Ipam,
    IpamState,
    SubnetRequest,
    parse_subnet,
)

net = ipaddress.ip_network


def test_default_network_gets_first_default_pool_subnet_and_gateway():
    ipam = Ipam()
    (a,) = ipam.allocate_network("n1")
    assert a.subnet == "172.17.0.0/16" and a.gateway == "172.17.0.1"
    (b,) = ipam.allocate_network("n2")
    assert b.subnet == "172.18.0.0/16"


def test_pool_subnets_skip_host_routes_and_addresses():
    ipam = Ipam(pools=[AddressPool("10.10.0.0/16", 24)],
                reserved=[net("10.10.0.0/24"), net("10.10.1.128/25")])
    (a,) = ipam.allocate_network("n1")
    assert a.subnet == "10.10.2.0/24"


def test_pool_skips_subnet_inside_a_bigger_owned_network():
    ipam = Ipam(pools=[AddressPool("10.20.0.0/16", 24)])
    ipam.allocate_network("big", [SubnetRequest(subnet="10.20.0.0/23")])
    (a,) = ipam.allocate_network("n")
    assert a.subnet == "10.20.2.0/24"


def test_pools_exhausted_is_unavailable_and_leaves_no_half_network():
    ipam = Ipam(pools=[AddressPool("10.30.0.0/23", 24)])
    ipam.allocate_network("a")
    ipam.allocate_network("b")
    with pytest.raises(Unavailable, match="fully subnetted"):
        ipam.allocate_network("c")
    assert "c" not in ipam.state.networks


def test_released_subnet_is_reused():
    ipam = Ipam(pools=[AddressPool("10.30.0.0/23", 24)])
    ipam.allocate_network("a")
    ipam.allocate_network("b")
    ipam.release_network("a")
    assert ipam.allocate_network("c")[0].subnet == "10.30.0.0/24"


@pytest.mark.parametrize("first,second", [
    ("10.1.0.0/16", "10.1.2.0/24"),
    ("10.1.2.0/24", "10.1.0.0/16"),
    ("10.1.0.0/24", "10.1.0.0/24"),
])
def test_overlapping_explicit_subnets_conflict(first, second):
    ipam = Ipam()
    ipam.allocate_network("a", [SubnetRequest(subnet=first)])
    with pytest.raises(Conflict, match="overlaps"):
        ipam.allocate_network("b", [SubnetRequest(subnet=second)])
    assert "b" not in ipam.state.networks


def test_v4_and_v6_subnets_do_not_clash():
    ipam = Ipam()
    ipam.allocate_network("a", [SubnetRequest(subnet="10.1.0.0/24")])
    ipam.allocate_network("b", [SubnetRequest(subnet="fd00:1::/64")])


@pytest.mark.parametrize("bad", ["10.1.0.1/24", "10.1.0.0/33", "banana", "10.1.0/24",
                                 "", "fd00::1/64"])
def test_invalid_cidr_is_invalid_argument_naming_it(bad):
    with pytest.raises(InvalidArgument, match="invalid subnet"):
        Ipam().allocate_network("x", [SubnetRequest(subnet=bad)])


def test_gateway_and_ip_range_must_be_inside_subnet():
    ipam = Ipam()
    with pytest.raises(InvalidArgument, match=r"gateway 10\.9\.0\.1 is not inside"):
        ipam.allocate_network("a", [SubnetRequest("10.1.0.0/24", gateway="10.9.0.1")])
    with pytest.raises(InvalidArgument, match=r"ip-range 10\.2\.0\.0/25 is not inside"):
        ipam.allocate_network("a", [SubnetRequest("10.1.0.0/24", ip_range="10.2.0.0/25")])
    with pytest.raises(InvalidArgument, match="invalid gateway"):
        ipam.allocate_network("a", [SubnetRequest("10.1.0.0/24", gateway="10.1.0.300")])
    with pytest.raises(InvalidArgument, match="need an explicit subnet"):
        ipam.allocate_network("a", [SubnetRequest(gateway="10.1.0.1")])
    assert ipam.state.networks == {}


def test_addresses_skip_network_gateway_and_broadcast():
    ipam = Ipam()
    ipam.allocate_network("a", [SubnetRequest("10.1.0.0/30")])
    assert str(ipam.allocate_address("a")) == "10.1.0.2"
    with pytest.raises(Unavailable, match="no available IPv4 addresses"):
        ipam.allocate_address("a")


def test_custom_gateway_is_never_handed_out():
    ipam = Ipam()
    ipam.allocate_network("a", [SubnetRequest("10.1.0.0/29", gateway="10.1.0.2")])
    got = [str(ipam.allocate_address("a")) for _ in range(5)]
    assert got == ["10.1.0.1", "10.1.0.3", "10.1.0.4", "10.1.0.5", "10.1.0.6"]


def test_ip_range_limits_dynamic_addresses_but_not_static_ones():
    ipam = Ipam()
    ipam.allocate_network("a", [SubnetRequest("10.1.0.0/24", ip_range="10.1.0.128/25")])
    assert str(ipam.allocate_address("a")) == "10.1.0.128"
    assert str(ipam.allocate_address("a", static="10.1.0.7")) == "10.1.0.7"


def test_static_address_rules():
    ipam = Ipam()
    ipam.allocate_network("a", [SubnetRequest("10.1.0.0/24")])
    ipam.allocate_address("a", static="10.1.0.9")
    with pytest.raises(Conflict, match="already in use"):
        ipam.allocate_address("a", static="10.1.0.9")
    with pytest.raises(InvalidArgument, match="reserved"):
        ipam.allocate_address("a", static="10.1.0.1")
    with pytest.raises(InvalidArgument, match="reserved"):
        ipam.allocate_address("a", static="10.1.0.255")
    with pytest.raises(InvalidArgument, match="not in any subnet"):
        ipam.allocate_address("a", static="10.2.0.9")
    with pytest.raises(InvalidArgument, match="not an IPv4 or IPv6"):
        ipam.allocate_address("a", static="10.1.0")


def test_dynamic_allocation_skips_static_addresses_and_release_frees():
    ipam = Ipam()
    ipam.allocate_network("a", [SubnetRequest("10.1.0.0/24")])
    ipam.allocate_address("a", static="10.1.0.2")
    assert str(ipam.allocate_address("a")) == "10.1.0.3"
    ipam.release_address("a", "10.1.0.2")
    assert str(ipam.allocate_address("a")) == "10.1.0.2"
    with pytest.raises(NotFound):
        ipam.release_address("a", "10.1.0.99")


def test_ipv6_from_pool_and_dual_stack_addresses():
    ipam = Ipam(v6_pools=[AddressPool("fd00:dd::/48", 64)])
    _v4, v6 = ipam.allocate_network("a", [SubnetRequest(), SubnetRequest(ipv6=True)])
    assert v6.subnet == "fd00:dd::/64" and v6.gateway == "fd00:dd::1"
    assert str(ipam.allocate_address("a", version=6)) == "fd00:dd::2"
    assert str(ipam.allocate_address("a")) == "172.17.0.2"
    assert str(ipam.allocate_address("a", static="fd00:dd::ffff")) == "fd00:dd::ffff"


def test_ipv6_without_pool_is_explained():
    with pytest.raises(InvalidArgument, match="no IPv6 address pool"):
        Ipam().allocate_network("a", [SubnetRequest(ipv6=True)])


def test_network_id_twice_conflicts_and_unknown_is_not_found():
    ipam = Ipam()
    ipam.allocate_network("a")
    with pytest.raises(Conflict):
        ipam.allocate_network("a")
    with pytest.raises(NotFound):
        ipam.allocate_address("zzz")
    with pytest.raises(NotFound):
        ipam.release_network("zzz")


def test_state_round_trips_through_json():
    ipam = Ipam()
    ipam.allocate_network("a", [SubnetRequest("10.1.0.0/24", ip_range="10.1.0.0/25")])
    ipam.allocate_address("a")
    text = ipam.state.to_json()
    again = Ipam(IpamState.from_json(text))
    assert again.state == ipam.state
    assert str(again.allocate_address("a")) == "10.1.0.3"
    with pytest.raises(Conflict):
        again.allocate_network("b", [SubnetRequest("10.1.0.128/25")])


@pytest.mark.parametrize("text", ["", "{", '{"networks": {"a": [{"bogus": 1}]}}', "[]"])
def test_corrupt_state_is_invalid_argument(text):
    with pytest.raises(InvalidArgument, match="corrupt IPAM state"):
        IpamState.from_json(text)


@pytest.mark.parametrize("entry,msg", [
    ({"base": "10.0.0.0/8", "size": 4}, "size must be between 8 and 32"),
    ({"base": "10.0.0.0/8", "size": 33}, "size must be between"),
    ({"base": "10.0.0.1/8", "size": 24}, "invalid address pool base"),
    ({"base": "10.0.0.0/8"}, "want"),
    ({"base": "10.0.0.0/8", "size": "24"}, "invalid default-address-pools size"),
    ("10.0.0.0/8", "want"),
])
def test_daemon_json_pools_are_validated(entry, msg):
    with pytest.raises(InvalidArgument, match=msg):
        AddressPool.from_daemon_json(entry)


def test_daemon_json_pool_is_used_in_order():
    pools = [AddressPool.from_daemon_json({"base": "10.200.0.0/16", "size": 24})]
    ipam = Ipam(pools=pools)
    assert [ipam.allocate_network(n)[0].subnet for n in "abc"] == [
        "10.200.0.0/24", "10.200.1.0/24", "10.200.2.0/24"]


def test_parse_subnet_rejects_non_string():
    with pytest.raises(InvalidArgument):
        parse_subnet(None)  # type: ignore[arg-type]
