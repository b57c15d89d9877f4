"""Facts about the host for ``/info`` and ``/version``, read once at start-up."""

from __future__ import annotations

import os
import platform
import socket
from dataclasses import dataclass
from pathlib import Path

_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386",
         "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}


@dataclass(frozen=True)
class HostInfo:
    hostname: str
    kernel: str
    os_name: str          # PRETTY_NAME of /etc/os-release
    os_version: str
    machine: str          # uname -m (x86_64), as /info's Architecture
    goarch: str           # amd64, as /version's Arch
    ncpu: int
    mem_total: int        # bytes
    cgroup_version: str   # "1" or "2"
    cgroup_mode: str      # v1, hybrid, v2, none
    driver: str           # overlay2 or the snapshotter's name
    python: str


def probe(data_root: Path) -> HostInfo:
    uname = os.uname()
    os_release = _os_release()
    mode = _cgroup_mode()
    return HostInfo(
        hostname=socket.gethostname(),
        kernel=uname.release,
        os_name=os_release.get("PRETTY_NAME", "Linux"),
        os_version=os_release.get("VERSION_ID", ""),
        machine=uname.machine,
        goarch=_ARCH.get(uname.machine, uname.machine),
        ncpu=os.cpu_count() or 1,
        mem_total=_mem_total(),
        cgroup_version="2" if mode == "v2" else "1",
        cgroup_mode=mode,
        driver=_driver(data_root),
        python=platform.python_version(),
    )


def _os_release() -> dict[str, str]:
    for path in ("/etc/os-release", "/usr/lib/os-release"):
        try:
            text = Path(path).read_text()
        except OSError:
            continue
        out = {}
        for line in text.splitlines():
            key, eq, value = line.partition("=")
            if eq:
                out[key.strip()] = value.strip().strip('"')
        return out
    return {}


def _mem_total() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _cgroup_mode() -> str:
    from dockyard.runtime.cgroups.paths import detect

    try:
        return detect().mode
    except OSError:
        return "none"


def _driver(data_root: Path) -> str:
    """The snapshotter the image store uses, in dockerd's vocabulary."""
    from dockyard.image.snapshots import OverlaySnapshotter, default_snapshotter
    from dockyard.image.store import ImageStore

    store = ImageStore(data_root)
    try:
        snap = default_snapshotter(store.snapshots_root)
    finally:
        store.close()
    if isinstance(snap, OverlaySnapshotter):
        return "overlay2"
    return type(snap).__name__.removesuffix("Snapshotter").lower()


__all__ = ["HostInfo", "probe"]
