"""The one place in ``image/`` that performs mounts.

Snapshotters only *describe* mounts (:class:`MountSpec`); this module acts on
the descriptions ("stores describe, one place acts"). Two details it owns:

* **Relative lowerdirs.** mount(2) takes its option string in one page, which a
  deep overlay stack can overflow. A spec with ``cwd`` set has paths relative to
  that directory; the mount is then made from a short-lived thread that gave
  itself a private cwd with ``unshare(CLONE_FS)``, so the process's cwd (shared
  by every other thread of the daemon) never changes.
* **Helper mounts.** A spec with ``target`` set is mounted at that absolute path
  (an intermediate read-only overlay that stacks some lower layers) before the
  main one; :func:`unmount` takes the same list to undo them.
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from dockyard.errors import InvalidArgument, SystemError_
from dockyard.pids import alive as _alive

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
MAX_MOUNT_DATA = PAGE_SIZE - 1  # the kernel copies one page, NUL included

_FLAG_OPTIONS = {
    "ro": 1, "nosuid": 2, "nodev": 4, "noexec": 8, "noatime": 1024,
    "nodiratime": 2048, "relatime": 1 << 21,
}


@dataclass(frozen=True)
class MountSpec:
    """One mount, described: ``mount -t TYPE SOURCE -o OPTIONS <target>``.

    ``target`` None means the caller's target; otherwise an absolute helper
    mountpoint. ``cwd`` is the directory relative paths in ``options`` start from.
    """

    type: str
    source: str
    options: tuple[str, ...] = ()
    target: str | None = None
    cwd: str | None = None

    @property
    def data(self) -> str:
        return ",".join(o for o in self.options if o not in _FLAG_OPTIONS
                        and o not in ("rw", "bind", "rbind"))

    @property
    def readonly(self) -> bool:
        return "ro" in self.options


def _flags(spec: MountSpec) -> int:
    from dockyard.runtime import syscalls

    flags = 0
    for opt in spec.options:
        flags |= _FLAG_OPTIONS.get(opt, 0)
    if spec.type == "bind" or "bind" in spec.options or "rbind" in spec.options:
        flags |= syscalls.MS_BIND
        if "rbind" in spec.options:
            flags |= syscalls.MS_REC
    return flags


def _mount_one(spec: MountSpec, target: str) -> None:
    from dockyard.runtime import syscalls

    flags = _flags(spec)
    is_bind = bool(flags & syscalls.MS_BIND)
    data = None if is_bind else spec.data
    if data and len(data.encode()) > MAX_MOUNT_DATA:
        raise InvalidArgument(
            f"mount options for {target} are {len(data)} bytes; the kernel takes at most "
            f"{MAX_MOUNT_DATA}")
    if spec.cwd is None:
        _do_mount(spec, target, flags, data)
        return
    failure: list[BaseException] = []

    def in_private_cwd() -> None:
        try:
            syscalls.unshare(syscalls.CLONE_FS)
            os.chdir(spec.cwd)
            _do_mount(spec, target, flags, data)
        except BaseException as e:  # re-raised in the caller's thread
            failure.append(e)

    t = threading.Thread(target=in_private_cwd, name="dockyard-mount")
    t.start()
    t.join()
    if failure:
        raise failure[0]


def _do_mount(spec: MountSpec, target: str, flags: int, data: str | None) -> None:
    from dockyard.runtime import syscalls

    fstype = None if flags & syscalls.MS_BIND else spec.type
    ro_bind = bool(flags & syscalls.MS_BIND and flags & syscalls.MS_RDONLY)
    try:
        syscalls.mount(spec.source, target, fstype,
                       flags & ~syscalls.MS_RDONLY if ro_bind else flags, data)
    except OSError as e:
        raise SystemError_(f"mount {spec.type} on {target} failed: {e}") from e
    if ro_bind:
        # a bind mount ignores MS_RDONLY until it is remounted
        try:
            syscalls.mount(None, target, None,
                           syscalls.MS_BIND | syscalls.MS_REMOUNT | syscalls.MS_RDONLY)
        except OSError as e:
            _detach(target)
            raise SystemError_(f"read-only remount of {target} failed: {e}") from e


def mount_all(mounts: Sequence[MountSpec], target: str | os.PathLike[str]) -> None:
    """Mount ``mounts`` in order; on failure undo what was mounted and raise."""
    target = os.fspath(target)
    done: list[str] = []
    try:
        for spec in mounts:
            where = spec.target or target
            _mount_one(spec, where)
            done.append(where)
    except BaseException:
        for where in reversed(done):
            _detach(where)
        raise


def _detach(target: str) -> None:
    from dockyard.runtime import syscalls

    try:
        syscalls.umount2(target, 0)
    except OSError as e:
        if e.errno == errno.EBUSY:
            syscalls.umount2(target, syscalls.MNT_DETACH)
        elif e.errno not in (errno.EINVAL, errno.ENOENT):
            raise


def unmount(target: str | os.PathLike[str], mounts: Sequence[MountSpec] = ()) -> None:
    """Unmount ``target`` (lazily when busy), then any helper mounts of ``mounts``.

    Unmounting something not mounted is not an error, so cleanup can call this
    unconditionally.
    """
    try:
        _detach(os.fspath(target))
        for spec in reversed(mounts):
            if spec.target:
                _detach(spec.target)
    except OSError as e:
        raise SystemError_(f"unmount {target} failed: {e}") from e


def is_mountpoint_under(path: str | os.PathLike[str]) -> list[str]:
    """Mount points at or below ``path`` (from /proc/self/mountinfo)."""
    base = os.path.realpath(path)
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ").replace("\\134", "\\")
            if point == base or point.startswith(base + "/"):
                found.append(point)
    return found


_PROBE_PREFIX = ".overlay-probe-"


def overlay_supported(workdir: str | os.PathLike[str]) -> bool:
    """Probe: can we mount an overlay with an upperdir on this filesystem?

    The probe directory carries this process's pid, so a later probe can tell a
    probe whose owner was killed between mount and unmount (and left its mount
    behind) from one still running, and clean the dead one up first.
    """
    import shutil
    import tempfile

    remove_stale_probes(workdir)
    try:
        probe = tempfile.mkdtemp(prefix=f"{_PROBE_PREFIX}{os.getpid()}-", dir=workdir)
    except OSError:
        return False
    try:
        for d in ("l1", "l2", "u", "w", "m"):
            os.mkdir(os.path.join(probe, d))
        spec = MountSpec("overlay", "overlay", (
            f"lowerdir={probe}/l1:{probe}/l2", f"upperdir={probe}/u", f"workdir={probe}/w"))
        try:
            mount_all([spec], os.path.join(probe, "m"))
        except (SystemError_, OSError):
            return False
        unmount(os.path.join(probe, "m"))
        return True
    finally:
        shutil.rmtree(probe, ignore_errors=True)


def remove_stale_probes(workdir: str | os.PathLike[str]) -> int:
    """Unmount and remove probe directories whose owning process is gone."""
    import shutil

    try:
        entries = os.listdir(workdir)
    except OSError:
        return 0
    removed = 0
    for entry in entries:
        if not entry.startswith(_PROBE_PREFIX):
            continue
        owner = entry[len(_PROBE_PREFIX):].split("-", 1)[0]
        if owner.isdigit() and _alive(int(owner)):
            continue
        path = os.path.join(os.fspath(workdir), entry)
        for point in sorted(is_mountpoint_under(path), key=len, reverse=True):
            _detach(point)
        shutil.rmtree(path, ignore_errors=True)
        removed += 1
    return removed


__all__ = ["MAX_MOUNT_DATA", "MountSpec", "is_mountpoint_under", "mount_all",
           "overlay_supported", "remove_stale_probes", "unmount"]
