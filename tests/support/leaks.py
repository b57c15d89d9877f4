"""Snapshots of the kernel objects a test can leave behind, and their difference.

Only objects this pytest session can own are looked at, so that several test runs
on one machine (developers in parallel, a dockerd beside us) do not trip each
other: mounts under the session's directories or naming its token, cgroups and
links naming the token, processes descending from pytest or rooted in the
session's directories, and entries in the session's private TMPDIR.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class Snapshot:
    mounts: frozenset[str] = field(default_factory=frozenset)
    cgroups: frozenset[str] = field(default_factory=frozenset)
    links: frozenset[str] = field(default_factory=frozenset)
    netns: frozenset[str] = field(default_factory=frozenset)
    processes: frozenset[str] = field(default_factory=frozenset)
    tmp_entries: frozenset[str] = field(default_factory=frozenset)

    def leaked_since(self, before: Snapshot) -> dict[str, list[str]]:
        leaks: dict[str, list[str]] = {}
        for name in ("mounts", "cgroups", "links", "netns", "processes", "tmp_entries"):
            new = sorted(getattr(self, name) - getattr(before, name))
            if new:
                leaks[name] = new
        return leaks


def _unescape_mountinfo(path: str) -> str:
    return path.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n") \
        .replace("\\134", "\\")


def _mounts(owned_dirs: tuple[str, ...], token: str) -> frozenset[str]:
    found = set()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = _unescape_mountinfo(line.split()[4])
            if token in point or any(point.startswith(d) for d in owned_dirs):
                found.add(point)
    return frozenset(found)


def _cgroups(token: str) -> frozenset[str]:
    found = set()
    if not CGROUP_ROOT.is_dir():
        return frozenset()
    # v2 at the root, or v1/hybrid controllers one level down; containers sit at
    # most a few levels below either.
    for top, dirs, _files in os.walk(CGROUP_ROOT):
        depth = top[len(str(CGROUP_ROOT)):].count("/")
        for d in dirs:
            if token in d:
                found.add(os.path.join(top, d))
        if depth >= 3:
            dirs.clear()
        else:
            dirs[:] = [d for d in dirs if token in d or depth < 2]
    return frozenset(found)


def _links(token: str) -> frozenset[str]:
    try:
        names = os.listdir("/sys/class/net")
    except OSError:
        return frozenset()
    return frozenset(n for n in names if token in n)


def _netns(token: str) -> frozenset[str]:
    try:
        return frozenset(n for n in os.listdir("/run/netns") if token in n)
    except OSError:
        return frozenset()


def _processes(owned_dirs: tuple[str, ...], ancestor: int) -> frozenset[str]:
    parents: dict[int, int] = {}
    rooted: set[int] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
            fields = stat.rsplit(")", 1)[1].split()
            if fields[0] in ("Z", "X"):
                continue
            parents[pid] = int(fields[1])
            root = os.readlink(f"/proc/{pid}/root")
            if any(root.startswith(d) for d in owned_dirs):
                rooted.add(pid)
        except OSError:
            continue
    found = set(rooted)
    for pid in parents:
        p = pid
        seen = 0
        while p > 1 and seen < 64:
            p = parents.get(p, 0)
            seen += 1
            if p == ancestor:
                found.add(pid)
                break
    out = set()
    for pid in found:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        out.add(f"{pid} {cmd}")
    return frozenset(out)


def _tmp_entries(tmp_dir: str) -> frozenset[str]:
    try:
        return frozenset(
            n for n in os.listdir(tmp_dir) if not n.startswith(("pytest-of-", "pytest-"))
        )
    except OSError:
        return frozenset()


def take(token: str, owned_dirs: tuple[str, ...], tmp_dir: str) -> Snapshot:
    return Snapshot(
        mounts=_mounts(owned_dirs, token),
        cgroups=_cgroups(token),
        links=_links(token),
        netns=_netns(token),
        processes=_processes(owned_dirs, os.getpid()),
        tmp_entries=_tmp_entries(tmp_dir),
    )
