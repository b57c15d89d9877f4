"""A minimal root filesystem made from the host's static busybox.

There is no Docker Hub here, so every test image starts from Debian's
``busybox-static``: one binary plus a symlink per applet, and the few files
programs expect (/etc/passwd, /etc/group, the mount points).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")


def find_static_busybox() -> Path | None:
    for candidate in BUSYBOX_CANDIDATES:
        p = Path(candidate)
        if p.is_file():
            out = subprocess.run(["file", "-L", str(p)], capture_output=True, text=True)
            if out.returncode != 0 or "statically linked" in out.stdout or \
                    "static-pie" in out.stdout:
                return p
    return None


def make_rootfs(target: Path, busybox: Path) -> Path:
    """Lay a busybox root filesystem at ``target`` and return it."""
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp",
              "root", "home", "var", "run"):
        (target / d).mkdir(parents=True, exist_ok=True)
    os.chmod(target / "tmp", 0o1777)
    shutil.copy2(busybox, target / "bin" / "busybox")
    applets = subprocess.run([str(busybox), "--list-full"], capture_output=True, text=True,
                             check=True).stdout.split()
    for applet in applets:
        link = target / applet
        if applet == "bin/busybox" or link.exists() or link.is_symlink():
            continue
        link.parent.mkdir(parents=True, exist_ok=True)
        depth = applet.count("/")
        link.symlink_to("../" * depth + "bin/busybox")
    (target / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\n"
        "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
        "user:x:1000:1000:user:/home/user:/bin/sh\n"
    )
    (target / "etc" / "group").write_text(
        "root:x:0:\ndaemon:x:1:\ntty:x:5:\nusers:x:100:\nuser:x:1000:\nnogroup:x:65534:\n"
    )
    (target / "etc" / "hostname").write_text("busybox\n")
    return target
