"""Shared bits for the ocispec unit tests: a tiny rootfs and a MountPlan stand-in."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CID = "0123456789ab" + "c" * 52

PASSWD = """root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
user:x:1000:1000:user:/home/user:/bin/sh
app:x:1001:1001::/srv:/bin/sh
"""
GROUP = """root:x:0:
daemon:x:1:
wheel:x:10:user,app
users:x:100:user
user:x:1000:
app:x:1001:
"""


def make_rootfs(tmp: Path, passwd: str = PASSWD, group: str = GROUP) -> Path:
    root = tmp / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text(passwd)
    (root / "etc" / "group").write_text(group)
    return root


@dataclass(frozen=True)
class Plan:
    """Stands in for engine/mounts.py's MountPlan (the volfs contract fields)."""

    type: str
    source: str
    destination: str
    read_only: bool = False
    propagation: str = ""
    options: tuple[str, ...] = ()
    name: str = ""
    driver: str = ""
    mode: str = ""
    copy_up: bool = False
    anonymous: bool = False
    hidden: bool = False
