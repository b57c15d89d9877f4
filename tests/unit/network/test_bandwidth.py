import pytest

from dockyard.errors import InvalidArgument
from dockyard.network.bandwidth import RateLimit, parse_network_rate, parse_rate, tc_commands


@pytest.mark.parametrize("text,bits", [("10mbit", 10**7), ("500kbit", 500_000),
                                       ("1gbit", 10**9), ("2mbps", 16 * 10**6),
                                       ("1.5mbit", 1_500_000), ("64000", 64_000)])
def test_rates(text, bits):
    assert parse_rate(text) == bits


@pytest.mark.parametrize("text", ["fast", "10 furlongs", "-1mbit", "1bit", ""])
def test_bad_rates(text):
    with pytest.raises(InvalidArgument):
        parse_rate(text)


def test_option_shape():
    assert parse_network_rate("egress=10mbit,ingress=50mbit,burst=64kb") == RateLimit(
        10**7, 5 * 10**7, 65536)
    assert parse_network_rate("ingress=1mbit") == RateLimit(None, 10**6)


@pytest.mark.parametrize("text", ["", "burst=64kb", "egress=1mbit,egress=2mbit",
                                  "up=1mbit", "egress", "egress=1mbit,burst=10b"])
def test_bad_option(text):
    with pytest.raises(InvalidArgument):
        parse_network_rate(text)


def test_tc_commands_shape_both_directions_egress_through_ifb():
    cmds = tc_commands("dyvabc", RateLimit(egress=10**6, ingress=2 * 10**6, burst=32768),
                       ifb="dyiabc")
    assert cmds[0][:6] == ["qdisc", "replace", "dev", "dyvabc", "root", "tbf"]
    assert "2000000bit" in cmds[0]
    assert cmds[1] == ["qdisc", "add", "dev", "dyvabc", "handle", "ffff:", "ingress"]
    assert cmds[2][-4:] == ["egress", "redirect", "dev", "dyiabc"]
    assert cmds[3][:6] == ["qdisc", "replace", "dev", "dyiabc", "root", "tbf"]
    assert "1000000bit" in cmds[3] and "32768" in cmds[3]


def test_only_one_direction():
    assert len(tc_commands("dyvabc", RateLimit(ingress=10**6))) == 1
    assert len(tc_commands("dyvabc", RateLimit(egress=10**6), ifb="dyiabc")) == 3


def test_egress_without_ifb_is_refused():
    with pytest.raises(InvalidArgument, match="ifb"):
        tc_commands("dyvabc", RateLimit(egress=10**6))


def test_bad_ifname_refused():
    with pytest.raises(InvalidArgument):
        tc_commands("x" * 16, RateLimit(ingress=10**6))
