import pytest

import dockyard.network as network
from dockyard.errors import InvalidArgument
from dockyard.network.names import bridge_name, check_ifname, veth_name


def test_names_take_a_prefix_and_fit_ifnamsiz():
    assert bridge_name("0123456789abcdef") == "dy-0123456789ab"
    assert veth_name("0123456789abcdef", prefix="dyt1a2b") == "dyt1a2bv0123456"
    assert len(bridge_name("f" * 64, prefix="dyt1234567")) == 15


def test_prefix_too_long_is_refused():
    with pytest.raises(InvalidArgument, match="too long"):
        bridge_name("abc", prefix="x" * 12)


@pytest.mark.parametrize("bad", ["", "a" * 16, "a b", "a/b", "..", "-x"])
def test_bad_ifnames(bad):
    with pytest.raises(InvalidArgument):
        check_ifname(bad)


def test_public_surface_is_pinned():
    assert sorted(network.__all__) == sorted([
        "DEFAULT_POOLS", "AddressPool", "BridgeSpec", "DnsServer", "DnsSettings",
        "EndpointInfo", "EndpointSpec", "HostEntry", "Ipam", "IpamState", "NameTable",
        "NatState", "NetworkRules", "PortMapping", "RateLimit", "SubnetAllocation",
        "SubnetRequest", "Upstream", "apply_limits", "apply_nat", "attach", "bridge_name",
        "clear_limits", "create_bridge", "delete_bridge", "detach", "host_resolvers",
        "ensure_bridge", "ifb_name", "PortReservation", "reserve", "reserve_ephemeral",
        "parse_add_host", "parse_network_rate", "remove_nat", "render_hostname",
        "render_hosts", "render_resolv_conf", "veth_name"])
    for name in network.__all__:
        assert getattr(network, name) is not None


def test_room_does_not_import_engine_or_heavy_modules():
    import subprocess
    import sys
    code = ("import sys, dockyard.network; "
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('pyroute2', 'dns', 'aiohttp', 'rich', 'jsonschema') "
            "or m.startswith('dockyard.engine')]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
