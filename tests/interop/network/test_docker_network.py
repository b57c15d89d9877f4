"""The real docker CLI and docker-py against dockyardd's networking: network
create/ls/inspect/rm/connect/disconnect, a published port from `docker run -p`, and
name resolution between containers through the embedded DNS."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request

import pytest

from tests.integration.daemon.harness import short_workdir
from tests.interop.network.netdaemon import DOCKER, network_daemon

pytestmark = pytest.mark.interop
TOKEN = os.environ.get("DOCKYARD_TEST_TOKEN", "dyt")


@pytest.fixture
def env(tmp_path_factory):
    with network_daemon(short_workdir(tmp_path_factory, "net")) as pair:
        yield pair


def docker(env, *args: str, check: bool = True, timeout: float = 120
           ) -> subprocess.CompletedProcess:
    out = subprocess.run([DOCKER, *args], capture_output=True, text=True, env=env[1],
                         timeout=timeout)
    if check and out.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed ({out.returncode}):\n"
                             f"{out.stderr}\n{env[0].log_tail()}")
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url: str, tries: int = 50) -> str | None:
    for _ in range(tries):
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.read().decode()
        except OSError:
            time.sleep(0.1)
    return None


def test_network_create_ls_inspect_connect_rm(env):
    net = f"{TOKEN}-cli"
    nid = docker(env, "network", "create", "--label", "k=v", "--subnet", "10.254.77.0/24",
                 net).stdout.strip()
    assert len(nid) == 64
    ls = docker(env, "network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}}").stdout
    assert f"{net} bridge local" in ls and "bridge bridge local" in ls
    assert "host host local" in ls and "none null local" in ls
    doc = json.loads(docker(env, "network", "inspect", net).stdout)[0]
    assert doc["Id"] == nid and doc["Labels"] == {"k": "v"}
    assert doc["IPAM"]["Config"][0]["Subnet"] == "10.254.77.0/24"
    out = docker(env, "network", "create", "--subnet", "10.254.77.0/25", f"{net}-2",
                 check=False)
    assert out.returncode != 0 and "Pool overlaps" in out.stderr
    out = docker(env, "network", "create", net, check=False)
    assert out.returncode != 0 and "already exists" in out.stderr

    cid = docker(env, "run", "-d", "--name", f"{TOKEN}-c1", "busybox", "sleep", "1000"
                 ).stdout.strip()
    docker(env, "network", "connect", "--ip", "10.254.77.50", net, f"{TOKEN}-c1")
    doc = json.loads(docker(env, "network", "inspect", net).stdout)[0]
    assert doc["Containers"][cid]["IPv4Address"] == "10.254.77.50/24"
    addrs = docker(env, "exec", f"{TOKEN}-c1", "ip", "-o", "-4", "addr").stdout
    assert "10.254.77.50/24" in addrs
    out = docker(env, "network", "rm", net, check=False)
    assert out.returncode != 0 and "active endpoints" in out.stderr
    docker(env, "network", "disconnect", net, f"{TOKEN}-c1")
    assert "10.254.77.50" not in docker(env, "exec", f"{TOKEN}-c1", "ip", "-o", "-4",
                                        "addr").stdout
    docker(env, "network", "rm", net)
    assert net not in docker(env, "network", "ls").stdout
    out = docker(env, "network", "rm", "bridge", check=False)
    assert out.returncode != 0 and "pre-defined" in out.stderr


def test_run_publish_on_loopback_and_docker_port(env):
    port = free_port()
    script = "mkdir -p /www && echo hello-published > /www/index.html && httpd -f -p 80 -h /www"
    docker(env, "run", "-d", "--name", f"{TOKEN}-web", "-p", f"127.0.0.1:{port}:80",
           "busybox", "sh", "-c", script)
    assert fetch(f"http://127.0.0.1:{port}/") == "hello-published\n"
    assert docker(env, "port", f"{TOKEN}-web", "80").stdout.strip() == f"127.0.0.1:{port}"
    ip = docker(env, "inspect", "-f", "{{.NetworkSettings.IPAddress}}", f"{TOKEN}-web"
                ).stdout.strip()
    assert ip and fetch(f"http://{ip}/") == "hello-published\n"
    # the port is held while published; a second container cannot take it
    out = docker(env, "run", "-d", "-p", f"127.0.0.1:{port}:80", "busybox", "true",
                 check=False)
    assert out.returncode != 0 and "port is already allocated" in out.stderr
    docker(env, "rm", "-f", f"{TOKEN}-web")
    assert fetch(f"http://127.0.0.1:{port}/", tries=3) is None

    # every address (the host's own too) and -P on an exposed port
    from tests.integration.network.test_service import host_address

    me = host_address()
    docker(env, "run", "-d", "--name", f"{TOKEN}-all", "-p", f"{port}:80", "--expose", "81",
           "-P", "busybox", "sh", "-c", script)
    assert fetch(f"http://{me}:{port}/") == "hello-published\n"
    assert fetch(f"http://127.0.0.1:{port}/") == "hello-published\n"
    eph = docker(env, "port", f"{TOKEN}-all", "81").stdout.strip()
    assert eph.startswith("0.0.0.0:") and int(eph.split(":")[1]) > 1024
    pruned = docker(env, "network", "prune", "-f").stdout
    assert "bridge" not in pruned


def test_containers_resolve_each_other_by_name(env):
    net = f"{TOKEN}-dns"
    docker(env, "network", "create", net)
    docker(env, "run", "-d", "--name", f"{TOKEN}-srv", "--network", net,
           "--network-alias", "db", "busybox", "sleep", "1000")
    ip = docker(env, "inspect", "-f", f'{{{{(index .NetworkSettings.Networks "{net}")'
                '.IPAddress}}', f"{TOKEN}-srv").stdout.strip()
    docker(env, "run", "-d", "--name", f"{TOKEN}-cli", "--network", net, "busybox",
           "sleep", "1000")
    out = docker(env, "exec", f"{TOKEN}-cli", "nslookup", f"{TOKEN}-srv")
    assert ip in out.stdout.split("Name:", 1)[-1], out.stdout
    out = docker(env, "exec", f"{TOKEN}-cli", "ping", "-c", "1", "-W", "2", "db")
    assert f"({ip})" in out.stdout or ip in out.stdout
    resolv = docker(env, "exec", f"{TOKEN}-cli", "cat", "/etc/resolv.conf").stdout
    gw = ip.rsplit(".", 1)[0] + ".1"
    assert f"nameserver {gw}" in resolv
    # the default bridge has no embedded DNS (docker's rule): the host's resolvers
    docker(env, "run", "-d", "--name", f"{TOKEN}-plain", "busybox", "sleep", "1000")
    resolv = docker(env, "exec", f"{TOKEN}-plain", "cat", "/etc/resolv.conf").stdout
    assert "nameserver" in resolv and f"nameserver {gw}" not in resolv
    docker(env, "rm", "-f", f"{TOKEN}-cli", f"{TOKEN}-plain")
    docker(env, "rm", "-f", f"{TOKEN}-srv")
    docker(env, "network", "rm", net)


def test_docker_py_networks(env):
    import docker as dockerpy

    client = dockerpy.DockerClient(base_url=env[0].host, version="1.41")
    try:
        net = client.networks.create(f"{TOKEN}-py", driver="bridge", labels={"py": "1"})
        assert client.networks.get(net.id).name == f"{TOKEN}-py"
        names = {n.name for n in client.networks.list()}
        assert {f"{TOKEN}-py", "bridge", "host", "none"} <= names
        assert [n.name for n in client.networks.list(filters={"label": "py=1"})] == \
            [f"{TOKEN}-py"]
        c = client.containers.run("busybox", ["sleep", "1000"], detach=True,
                                  name=f"{TOKEN}-pyc")
        net.connect(c, aliases=["pyalias"])
        net.reload()
        assert [x.id for x in net.containers] == [c.id]
        net.disconnect(c)
        c.remove(force=True)
        net.remove()
        with pytest.raises(dockerpy.errors.NotFound):
            client.networks.get(f"{TOKEN}-py")
    finally:
        client.close()


def test_networking_survives_a_daemon_kill(env):
    d = env[0]
    net = f"{TOKEN}-live"
    port = free_port()
    docker(env, "network", "create", net)
    script = "mkdir -p /www && echo alive > /www/index.html && httpd -f -p 80 -h /www"
    docker(env, "run", "-d", "--name", f"{TOKEN}-live", "--network", net,
           "-p", f"127.0.0.1:{port}:80", "busybox", "sh", "-c", script)
    docker(env, "run", "-d", "--name", f"{TOKEN}-peer", "--network", net, "busybox",
           "sleep", "1000")
    assert fetch(f"http://127.0.0.1:{port}/") == "alive\n"
    d.kill()                                   # SIGKILL: no clean shutdown
    assert fetch(f"http://127.0.0.1:{port}/", tries=3) == "alive\n"   # kernel NAT stays
    d.start()
    assert fetch(f"http://127.0.0.1:{port}/") == "alive\n"
    out = docker(env, "exec", f"{TOKEN}-peer", "wget", "-q", "-O", "-",
                 f"http://{TOKEN}-live/")
    assert out.stdout == "alive\n"              # the new daemon's DNS knows the name
    # the port is held again by the new daemon
    out = docker(env, "run", "-d", "-p", f"127.0.0.1:{port}:80", "busybox", "true",
                 check=False)
    assert out.returncode != 0 and "port is already allocated" in out.stderr


def test_static_ip_alias_and_network_rate_label(env):
    net = f"{TOKEN}-st"
    docker(env, "network", "create", "--subnet", "10.254.88.0/24", net)
    docker(env, "run", "-d", "--name", f"{TOKEN}-st", "--network", net, "--ip",
           "10.254.88.77", "--network-alias", "fixed", "--label",
           "dockyard.network-rate=ingress=4mbit,egress=2mbit", "busybox", "sleep", "1000")
    doc = json.loads(docker(env, "inspect", f"{TOKEN}-st").stdout)[0]
    ep = doc["NetworkSettings"]["Networks"][net]
    assert ep["IPAddress"] == "10.254.88.77" and "fixed" in ep["Aliases"]
    assert ep["IPAMConfig"]["IPv4Address"] == "10.254.88.77"
    shaped = []
    for link in os.listdir("/sys/class/net"):
        if link.startswith(f"{TOKEN}v"):
            qd = subprocess.run(["tc", "qdisc", "show", "dev", link], capture_output=True,
                                text=True).stdout
            if "tbf" in qd and "ingress" in qd:
                shaped.append(link)
    assert len(shaped) == 1, "the container's veth carries the rate limits"
    out = docker(env, "run", "-d", "--network", net, "--ip", "10.254.88.77", "busybox",
                 "true", check=False)
    assert out.returncode != 0 and "already in use" in out.stderr
