"""Base images without a network: busybox from the host, Debian via debootstrap.

``dockyard image bootstrap busybox [--tag busybox:latest]``
    Lays out a root filesystem around the host's static busybox (Debian package
    ``busybox-static``): ``/bin/busybox``, one symlink per applet as
    ``busybox --list-full`` names them, ``/etc/passwd``, ``/etc/group``, and the
    usual mount points. The layer is a reproducible tar (sorted entries, every
    mtime = the busybox binary's), and ``created`` is that mtime too, so the same
    host always makes the same image id.

``dockyard image bootstrap debian [--suite bookworm] [--mirror URL]``
    Runs ``debootstrap --variant=minbase`` into a temporary directory (needs the
    Debian mirror, a few minutes and ~200 MB), then imports the tree as one layer
    with ``CMD ["bash"]``. The temporary tree is removed on every path.
"""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from dockyard.errors import InvalidArgument, SystemError_, Unavailable
from dockyard.image import manifest as mf
from dockyard.image import mediatypes as mt
from dockyard.image import reference as refs
from dockyard.image.importer import BeforeRecord, apply_changes, record_single_layer
from dockyard.image.store import ImageRecord, ImageStore

BUSYBOX_PATHS = ("/bin/busybox", "/usr/bin/busybox")
_DIRS = ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root",
         "home", "var", "run")
_PASSWD = ("root:x:0:0:root:/root:/bin/sh\n"
           "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
           "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
_GROUP = "root:x:0:\ndaemon:x:1:\ntty:x:5:\nusers:x:100:\nnogroup:x:65534:\n"


def find_busybox(path: str | None = None) -> Path:
    for candidate in ([path] if path else BUSYBOX_PATHS):
        p = Path(candidate)
        if p.is_file():
            return p
    raise Unavailable("no busybox binary found (install Debian's busybox-static, "
                      "or pass --busybox PATH)")


def busybox_rootfs(target: Path, busybox: Path) -> None:
    """Lay out a busybox root filesystem at ``target`` (an empty directory)."""
    for d in _DIRS:
        (target / d).mkdir(parents=True, exist_ok=True)
    os.chmod(target / "tmp", 0o1777)
    os.chmod(target / "root", 0o700)
    shutil.copyfile(busybox, target / "bin" / "busybox")
    os.chmod(target / "bin" / "busybox", 0o755)
    out = subprocess.run([str(busybox), "--list-full"], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemError_(f"{busybox} --list-full failed: {out.stderr.strip()}")
    for applet in out.stdout.split():
        if applet.startswith("/") or ".." in applet.split("/") or applet == "bin/busybox":
            continue
        link = target / applet
        if link.exists() or link.is_symlink():
            continue
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to("../" * applet.count("/") + "bin/busybox")
    (target / "etc" / "passwd").write_text(_PASSWD)
    (target / "etc" / "group").write_text(_GROUP)
    (target / "etc" / "hostname").write_text("busybox\n")


def bootstrap_busybox(store: ImageStore, tag: str = "busybox:latest",
                      busybox: str | None = None,
                      before_record: BeforeRecord | None = None) -> ImageRecord:
    binary = find_busybox(busybox)
    mtime = int(binary.stat().st_mtime)
    work = Path(tempfile.mkdtemp(prefix="bootstrap-"))
    try:
        root = work / "rootfs"
        root.mkdir()
        busybox_rootfs(root, binary)
        return _record_tree(store, root, tag, mtime, ['CMD ["sh"]'],
                            "bootstrapped from the host's static busybox", before_record)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def bootstrap_debian(store: ImageStore, suite: str = "bookworm", tag: str | None = None,
                     mirror: str = "http://deb.debian.org/debian",
                     before_record: BeforeRecord | None = None) -> ImageRecord:
    tool = shutil.which("debootstrap")
    if tool is None:
        raise Unavailable("debootstrap is not installed (apt-get install debootstrap)")
    if not suite.replace("-", "").isalnum():
        raise InvalidArgument(f"invalid suite name {suite!r}")
    work = Path(tempfile.mkdtemp(prefix="bootstrap-debian-"))
    try:
        root = work / "rootfs"
        out = subprocess.run([tool, "--variant=minbase", suite, str(root), mirror],
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemError_(f"debootstrap failed ({out.returncode}): "
                               f"{out.stderr.strip()[-2000:]}")
        # debootstrap leaves its own mounts (proc, sys) only on failure paths; be sure.
        _unmount_below(root)
        # The runtime gives containers their /dev; image layers carry no device nodes.
        for entry in (root / "dev").iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        return _record_tree(store, root, tag or f"debian:{suite}",
                            int(_dt.datetime.now(_dt.UTC).timestamp()), ['CMD ["bash"]'],
                            f"debootstrap --variant=minbase {suite}", before_record)
    finally:
        _unmount_below(work)
        shutil.rmtree(work, ignore_errors=True)


def _record_tree(store: ImageStore, root: Path, tag: str, mtime: int,
                 changes: Sequence[str], comment: str,
                 before_record: BeforeRecord | None) -> ImageRecord:
    from dockyard.image.diff import DiffOptions, diff_dirs

    ref = refs.parse(tag)
    if ref.digest is not None:
        raise InvalidArgument(f"cannot tag with a digest: {tag}")
    ref = ref.with_default_tag()
    created = _dt.datetime.fromtimestamp(mtime, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    plat = mf.Platform.host().normalized()
    with store.lease() as lease, store.content.writer() as w:
        stats = diff_dirs(None, root, w,  # type: ignore[arg-type]
                          DiffOptions(compression="none", reproducible=True, mtime=mtime))
        lease.add_blob(stats.digest)
        blob = w.commit(stats.digest, stats.compressed_size)
        config = mf.ImageConfig(
            plat.architecture, plat.os, (stats.diff_id,),
            apply_changes(mf.ContainerConfig(env=(
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",)),
                changes),
            (mf.HistoryEntry(created, f"dockyard image bootstrap ({comment})"),),
            created=created, variant=plat.variant)
        return record_single_layer(store, lease, config, blob.digest, blob.size,
                                   mt.OCI_LAYER, stats.size, before_record, [ref])


def _unmount_below(root: Path) -> None:
    prefix = str(root)
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    for point in sorted((p for p in points if p == prefix or p.startswith(prefix + "/")),
                        key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True)


__all__ = ["bootstrap_busybox", "bootstrap_debian", "busybox_rootfs", "find_busybox"]
