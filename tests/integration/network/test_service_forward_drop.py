"""The service beside dockerd's firewall: FORWARD policy DROP, a DOCKER-USER chain jumped
to first, br_netfilter on. Played inside a private namespace standing in for the host
(as test_dockercompat does), so the machine's real iptables are never touched."""

from __future__ import annotations

import os
import sys
import textwrap

from tests.integration.network.conftest import sh

SCRIPT = textwrap.dedent("""
    import asyncio, json, subprocess, sys, time, urllib.request
    from pathlib import Path
    from dockyard.network import dockercompat
    from dockyard.network.service import NetworkService, ContainerNetRequest

    tmp, token, busybox = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    out = {}

    def req(cid, name, mode, **kw):
        d = dict(container_id=cid, name=name, hostname=cid[:12], domainname="",
                 network_mode=mode, endpoints={}, port_bindings={}, publish_all=False,
                 exposed_ports={}, dns=[], dns_search=[], dns_options=[], extra_hosts=[],
                 files_dir=str(tmp / "c" / cid))
        d.update(kw)
        return ContainerNetRequest(**d)

    def ping(ns, ip):
        return subprocess.run(["nsenter", "--net=" + ns, busybox, "ping", "-c", "1", "-W",
                               "1", ip], capture_output=True).returncode == 0

    def fetch(url):
        for _ in range(30):
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    return r.read().decode()
            except OSError:
                time.sleep(0.1)
        return None

    async def main():
        svc = NetworkService(tmp / "state", tmp / "exec", {}, link_prefix=token,
                             nft_table="dockyard-" + token, default_bridge=token + "-0")
        svc.dockerd_check_every = 0.2
        await svc.start()
        procs = []
        try:
            await asyncio.to_thread(svc.create, {"Name": "fw"})
            a = await svc.setup(req("a" * 64, "a", "fw", port_bindings={
                "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]}))
            b = await svc.setup(req("b" * 64, "b", "fw"))
            www = tmp / "www"
            www.mkdir()
            (www / "index.html").write_text("through\\n")
            procs.append(subprocess.Popen(["nsenter", "--net=" + a.netns, busybox, "httpd",
                                           "-f", "-p", "80", "-h", str(www)]))
            ip_b = b.settings["Networks"]["fw"]["IPAddress"]
            out["ping"] = await asyncio.to_thread(ping, a.netns, ip_b)
            out["published"] = await asyncio.to_thread(fetch, "http://127.0.0.1:8080/")
            bridge = svc.get_network("fw").bridge
            out["removed"] = dockercompat.disallow_bridge(bridge)
            out["ping_without"] = await asyncio.to_thread(ping, a.netns, ip_b)
            # dockerd goes away and comes back (its chain re-made): the watcher reopens
            ipt = lambda *a: subprocess.run(["iptables", "-w", *a], check=True)
            ipt("-D", "FORWARD", "-j", "DOCKER-USER")
            ipt("-X", "DOCKER-USER")
            await asyncio.sleep(0.6)
            ipt("-N", "DOCKER-USER")
            ipt("-A", "FORWARD", "-j", "DOCKER-USER")
            back = False
            for _ in range(20):
                await asyncio.sleep(0.2)
                if await asyncio.to_thread(ping, a.netns, ip_b):
                    back = True
                    break
            out["ping_after_dockerd_restart"] = back
        finally:
            for p in procs:
                p.kill()
                p.wait()
            await svc.uninstall()
            out["left"] = {k: v for k, v in svc.kernel_objects().items() if v}
        print(json.dumps(out))

    asyncio.run(main())
""")


def test_service_works_under_docker_forward_drop(lab, tmp_path, busybox_binary):
    host = lab.add_netns()
    sh("ip", "netns", "exec", host, "ip", "link", "set", "lo", "up")
    for cmd in (["-N", "DOCKER-USER"], ["-P", "FORWARD", "DROP"],
                ["-A", "FORWARD", "-j", "DOCKER-USER"]):
        sh("ip", "netns", "exec", host, "iptables", "-w", *cmd)
    assert sh("ip", "netns", "exec", host, "sysctl", "-n",
              "net.bridge.bridge-nf-call-iptables").stdout.strip() == "1"
    env_py = os.environ.get("PYTHONPATH", "")
    proc = sh("ip", "netns", "exec", host, "env", f"PYTHONPATH={env_py}", sys.executable,
              "-c", SCRIPT, str(tmp_path), lab.token, str(busybox_binary), timeout=120)
    import json

    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["ping"], "containers on one network must reach each other under FORWARD DROP"
    assert out["published"] == "through\n", "published port must answer under FORWARD DROP"
    assert out["removed"] == 2 and not out["ping_without"], \
        "without the DOCKER-USER accepts docker's DROP should win (the test can fail)"
    assert out["ping_after_dockerd_restart"], "the DOCKER-USER watcher must reopen it"
    assert out["left"] == {}
    rules = sh("ip", "netns", "exec", host, "iptables", "-S", "DOCKER-USER").stdout
    assert lab.token not in rules
