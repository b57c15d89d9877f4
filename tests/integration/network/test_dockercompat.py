"""Coexistence with dockerd's firewall, for real but inside a private namespace.

A namespace plays the host where dockerd runs: iptables FORWARD policy DROP, a
DOCKER-USER chain jumped to first, br_netfilter on (the namespace's default). The
test bridge lives there, so the machine's real iptables are never touched.
"""

from __future__ import annotations

import sys
import textwrap

from tests.integration.network.conftest import sh

SCRIPT = textwrap.dedent("""
    import subprocess, sys
    from dockyard.network import bridge, veth, dockercompat
    br, gw, c1, c2, ip1, ip2, v1, v2, busybox = sys.argv[1:]
    bridge.create_bridge(bridge.BridgeSpec(br, (gw + "/24",)))
    veth.attach(veth.EndpointSpec(v1, c1, br, (ip1 + "/24",)))
    veth.attach(veth.EndpointSpec(v2, c2, br, (ip2 + "/24",)))

    def ping():
        return subprocess.run(["nsenter", "--net=" + c1, busybox, "ping", "-c", "1",
                               "-W", "1", ip2], capture_output=True).returncode == 0

    before = ping()
    added = dockercompat.allow_bridge(br)
    during = ping()
    removed = dockercompat.disallow_bridge(br)
    after = ping()
    bridge.delete_bridge(br)
    print(before, added, during, removed, after)
""")


def test_docker_forward_drop_is_opened_for_our_bridge_only(lab):
    host = lab.add_netns()
    c1, c2 = lab.add_netns(), lab.add_netns()
    for cmd in (["-N", "DOCKER-USER"], ["-P", "FORWARD", "DROP"],
                ["-A", "FORWARD", "-j", "DOCKER-USER"]):
        sh("ip", "netns", "exec", host, "iptables", "-w", *cmd)
    assert sh("ip", "netns", "exec", host, "sysctl", "-n",
              "net.bridge.bridge-nf-call-iptables").stdout.strip() == "1"
    t = lab.token
    out = sh("ip", "netns", "exec", host, sys.executable, "-c", SCRIPT,
             f"{t}-h1", lab.ip(16, 1), lab.path(c1), lab.path(c2),
             lab.ip(16, 2), lab.ip(16, 3), f"{t}vh1", f"{t}vh2", lab.busybox,
             timeout=60).stdout.split()
    before, added, during, removed, after = out
    assert before == "False", "docker's FORWARD DROP should stop bridged traffic"
    assert (added, during) == ("2", "True"), "DOCKER-USER ACCEPT should let it through"
    assert (removed, after) == ("2", "False")
    rules = sh("ip", "netns", "exec", host, "iptables", "-S", "DOCKER-USER").stdout
    assert t not in rules
