"""Let dockyard's bridges forward on a machine where dockerd also runs.

dockerd sets the iptables ``FORWARD`` policy to DROP and loads br_netfilter. Every
nftables base chain on a hook is evaluated, table by table: an ``accept`` in
dockyard's own table ends only that chain, and a drop in docker's ``ip filter`` table
(iptables-nft or legacy) still drops. Per-bridge ``nf_call_iptables=0`` does not help
either: the kernel ORs it with the global ``bridge-nf-call-iptables`` that dockerd
turns on. The one supported door is the ``DOCKER-USER`` chain, which docker's
``FORWARD`` jumps to first and never flushes: an ACCEPT there for traffic entering or
leaving a dockyard bridge wins over docker's DROP. Rules carry the comment
``dockyard`` and are inserted only when the chain exists (no dockerd, nothing to do).
If dockerd starts after dockyard, the daemon calls ``allow_bridge`` again.

Isolation is unaffected: dockyard's own table drops bridge-to-bridge traffic, and a
drop anywhere is final.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Sequence

from dockyard.network.names import check_ifname

__all__ = ["allow_bridge", "disallow_bridge", "docker_user_chains"]

CHAIN = "DOCKER-USER"
COMMENT = "dockyard"
Runner = Callable[[Sequence[str]], int]


def _run(argv: Sequence[str]) -> int:
    return subprocess.run(list(argv), capture_output=True, timeout=30).returncode


def _tools() -> list[str]:
    return [t for t in ("iptables", "ip6tables") if shutil.which(t)]


def _rules(bridge: str) -> list[list[str]]:
    tag = ["-m", "comment", "--comment", COMMENT, "-j", "ACCEPT"]
    return [["-i", bridge, *tag], ["-o", bridge, *tag]]


def docker_user_chains(run: Runner = _run, tools: Sequence[str] | None = None) -> list[str]:
    """The iptables binaries (v4/v6) whose filter table has a DOCKER-USER chain."""
    return [t for t in (tools if tools is not None else _tools())
            if run([t, "-w", "-t", "filter", "-S", CHAIN]) == 0]


def allow_bridge(bridge: str, run: Runner = _run,
                 tools: Sequence[str] | None = None) -> int:
    """Insert the ACCEPTs for ``bridge`` where missing; returns how many were added."""
    check_ifname(bridge)
    added = 0
    for tool in docker_user_chains(run, tools):
        for rule in _rules(bridge):
            present = run([tool, "-w", "-t", "filter", "-C", CHAIN, *rule]) == 0
            if not present and run([tool, "-w", "-t", "filter", "-I", CHAIN, "1", *rule]) == 0:
                added += 1
    return added


def disallow_bridge(bridge: str, run: Runner = _run,
                    tools: Sequence[str] | None = None) -> int:
    """Remove every copy of the ACCEPTs for ``bridge``; returns how many went."""
    check_ifname(bridge)
    removed = 0
    for tool in docker_user_chains(run, tools):
        for rule in _rules(bridge):
            for _ in range(64):  # bounded: a copy per earlier allow at most
                if run([tool, "-w", "-t", "filter", "-D", CHAIN, *rule]) != 0:
                    break
                removed += 1
    return removed
