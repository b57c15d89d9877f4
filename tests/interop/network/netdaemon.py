"""A dockyardd for network interop tests, and the clean-up networks need after it.

The daemon keeps bridges and rules when it stops (containers outlive it: live
restore), so after removing every container and stopping the daemon, the fixture
uninstalls the network service from the same state (token-named links, the nft
table, the netns directory) and checks nothing of it is left.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.integration.daemon.harness import Daemon, bootstrap_busybox, running_daemon
from tests.integration.network.conftest import OCTET

DOCKER = "/usr/bin/docker"


def pool_config() -> dict:
    return {"default-address-pools": [{"base": f"10.{OCTET}.128.0/17", "size": 24}]}


def leftovers(work: Path) -> dict[str, list[str]]:
    """Network objects of this session's daemons, read straight from the kernel."""
    token = os.environ["DOCKYARD_TEST_TOKEN"]
    links = [n for _, n in socket.if_nameindex() if n.startswith(token)]
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True,
                            timeout=30).stdout
    ns_dir = work / "exec" / "netns"
    found = {"links": links,
             "nft_tables": [t for t in tables.split() if t.startswith(f"dockyard-{token}")],
             "netns": sorted(os.listdir(ns_dir)) if ns_dir.is_dir() else []}
    return {k: v for k, v in found.items() if v}


def purge(work: Path) -> dict[str, list[str]]:
    from dockyard.network.service import NetworkService

    svc = NetworkService(work / "root" / "network", work / "exec", pool_config())
    asyncio.run(svc.uninstall())
    return {k: v for k, v in svc.kernel_objects().items() if v}


@contextmanager
def network_daemon(work: Path) -> Iterator[tuple[Daemon, dict[str, str]]]:
    if not shutil.which(DOCKER):
        pytest.fail(f"{DOCKER} is missing: apt-get install docker.io (the CLI is needed)")
    if os.geteuid() != 0:
        pytest.fail("interop tests need root")
    (work / "daemon.json").write_text(json.dumps(pool_config()))
    bootstrap_busybox(work / "root")
    env = {**os.environ, "DOCKER_CONFIG": str(work / "docker-config")}
    left: dict[str, list[str]] = {}
    try:
        with running_daemon(work) as d:
            env["DOCKER_HOST"] = d.host
            try:
                yield d, env
            finally:
                ids = subprocess.run([DOCKER, "ps", "-aq"], capture_output=True, text=True,
                                     env=env, timeout=60).stdout.split()
                if ids:
                    subprocess.run([DOCKER, "rm", "-f", *ids], capture_output=True, env=env,
                                   timeout=120)
    finally:
        after_stop = leftovers(work)
        left = purge(work)
    assert not left, f"network objects left after the daemon: {left}"
    assert not after_stop, f"a cleanly stopped daemon left network objects: {after_stop}"
