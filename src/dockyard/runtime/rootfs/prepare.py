"""``setup()``: the whole root filesystem of a container, in runc's order.

Runs in the container's init, in its fresh mount namespace, as (namespaced) root:

1. propagation of ``/`` (``linux.rootfsPropagation``; default rslave so nothing we
   do reaches the host), the mount holding the rootfs made private (pivot_root
   refuses a shared parent), and the rootfs bind-mounted onto itself;
2. every ``mounts[]`` entry, in order, resolved inside the rootfs;
3. /dev: nodes, links, console (unless /dev is a bind mount);
4. pivot_root (or MS_MOVE + chroot with ``no_pivot``; plain chroot when the
   container has no mount namespace of its own);
5. ``linux.sysctl`` (before /proc/sys turns read-only), ``process.cwd`` created,
   ``readonlyPaths``, ``maskedPaths``, ``root.readonly``, then the asked-for
   propagation on the new ``/`` (shared and unbindable only now: earlier they
   would break the self-bind, pivot_root or the binds of step 5), chdir to ``/``.
"""

from __future__ import annotations

import os

from dockyard.runtime import syscalls as sc
from dockyard.runtime.rootfs import devices, paths_masking, pivot, sysctl
from dockyard.runtime.rootfs.mountinfo import find_mount_of, read_mountinfo
from dockyard.runtime.rootfs.mounts import MountContext, mount_entry
from dockyard.runtime.rootfs.paths import RootDir, fd_path
from dockyard.runtime.rootfs.spec import MountSpec, RootfsPlan, parse

__all__ = ["in_user_namespace", "preload", "setup", "unmount_rootfs"]

TYPE_CHECKING = False  # typing itself costs start-up time
if TYPE_CHECKING:
    from collections.abc import Callable


def in_user_namespace() -> bool:
    """True unless this process sees the initial user namespace's full identity map."""
    try:
        with open("/proc/self/uid_map") as f:
            lines = f.read().split("\n")
    except FileNotFoundError:
        return False
    fields = lines[0].split()
    return not (len([ln for ln in lines if ln.strip()]) == 1
                and fields == ["0", "0", "4294967295"])


def _prepare_root(rootfs: str, real_rootfs: str, plan: RootfsPlan) -> None:
    flag = plan.root_propagation
    if flag is None or flag & sc.MS_UNBINDABLE:
        flag = sc.MS_SLAVE | sc.MS_REC
    try:
        sc.mount(None, "/", None, flag)
    except OSError as exc:
        raise OSError(exc.errno, f"rootfsPropagation on /: {exc.strerror}") from exc
    parent = find_mount_of(real_rootfs, read_mountinfo())
    if parent is not None:
        # The rootfs itself is often a mount (an overlay): then use the path as given.
        target = rootfs if parent.mountpoint == real_rootfs else parent.mountpoint
        try:
            sc.mount(None, target, None, sc.MS_PRIVATE)
        except OSError as exc:
            raise OSError(exc.errno, f"making {parent.mountpoint} private: "
                                     f"{exc.strerror}") from exc
    _self_bind(rootfs)


def _remount_readonly(m: MountSpec) -> None:
    try:
        sc.mount(None, m.destination, None, sc.MS_REMOUNT | m.flags, m.data or None)
    except OSError as exc:
        raise OSError(exc.errno, f"{m.label}: remount read-only: {exc.strerror}") from exc


def _make_cwd(cwd: str) -> None:
    """Create process.cwd now, while / may still be written (runc does too).

    We are inside the new root already, so symlinks in the path cannot lead out.
    """
    try:
        os.makedirs(cwd, mode=0o755, exist_ok=True)
    except OSError as exc:
        raise OSError(exc.errno, f"process.cwd {cwd}: {exc.strerror}") from exc


def preload(plan: RootfsPlan) -> None:
    """Import what this spec's setup() will need (only cgroupfs is optional).

    :func:`dockyard.runtime.rootfs.validate` calls it in the parent, where imports
    work; setup() may run as a user-namespace uid that cannot read the Python
    installation, or past pivot_root, where no import can succeed.
    """
    if any(m.type == "cgroup" for m in plan.mounts):
        from dockyard.runtime.rootfs import cgroupfs  # noqa: F401
    if any(m.copy_up for m in plan.mounts):
        import shutil  # noqa: F401


def _real_path(rootfs: str) -> str:
    """The absolute, symlink-free path of ``rootfs`` (for mountinfo), via an fd."""
    try:
        fd = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise OSError(exc.errno, f"rootfs {rootfs!r}: {exc.strerror}") from None
    try:
        return os.readlink(fd_path(fd))
    finally:
        os.close(fd)


def _self_bind(rootfs: str) -> None:
    try:
        sc.mount(rootfs, rootfs, None, sc.MS_BIND | sc.MS_REC)
    except OSError as exc:
        raise OSError(exc.errno, f"bind-mounting rootfs {rootfs} onto itself: "
                                 f"{exc.strerror}") from exc


def _enter_root(rootfs: str, plan: RootfsPlan, *, no_pivot: bool, own_mount_ns: bool) -> None:
    if not own_mount_ns:
        how = "chroot"
    elif no_pivot:
        how = "MS_MOVE+chroot"
    else:
        how = "pivot_root"
    try:
        if how == "chroot":
            os.chroot(rootfs)
            os.chdir("/")
        elif no_pivot:
            pivot.move_root(rootfs)
        else:
            pivot.pivot_root(rootfs)
    except OSError as exc:
        raise OSError(exc.errno, f"{how} into {rootfs}: {exc.strerror}") from exc


def _final_propagation(plan: RootfsPlan) -> None:
    """The asked-for propagation on the new ``/``: last, since an (r)unbindable tree
    would refuse the bind mounts that read-only and masked paths still need."""
    try:
        sc.mount(None, "/", None, plan.root_propagation)
    except OSError as exc:
        raise OSError(exc.errno, f"rootfsPropagation on the new /: {exc.strerror}") \
            from exc


def setup(spec: dict, rootfs: str, *, no_pivot: bool = False,
          console_path: str | None = None,
          open_console: Callable[[], str] | None = None) -> None:
    """Build the container's root filesystem and enter it (see module docstring).

    ``rootfs`` is a host path, best given relative to the cwd (the bundle, which is
    also what relative bind sources are relative to): it is only ever resolved
    from the cwd, so a user-namespace uid that cannot search the bundle's
    ancestors still reaches it. Raises InvalidArgument for a bad spec (before any
    mount), OSError naming the mount or path for kernel failures.

    Without a ``mount`` entry in linux.namespaces the container shares the caller's
    mount namespace (runc allows this): nothing is done to ``/`` or the host's
    mounts, the mounts are still made (inside the rootfs only), and the process
    chroots instead of pivoting. Those mounts outlive the container: the caller
    removes them with :func:`unmount_rootfs` when it deletes the container.

    The console: ``console_path`` is a pty slave opened by the caller before setup
    (a host path), bound onto /dev/console before the pivot. ``open_console`` is
    the runc way instead: called once inside the new root, right after the pivot
    (the container's devpts is mounted, / is still writable), it allocates the pty
    from the container's /dev/ptmx and returns the slave's path there
    (``/dev/pts/0``), which is then bound onto /dev/console.
    """
    plan = parse(spec)
    preload(plan)
    real_rootfs = _real_path(rootfs)
    ctx = MountContext(
        in_userns=in_user_namespace() or "user" in plan.namespaces,
        new_netns="network" in plan.namespaces,
        new_ipcns="ipc" in plan.namespaces,
        new_cgroupns="cgroup" in plan.namespaces,
    )
    own_mount_ns = "mount" in plan.namespaces
    if own_mount_ns:
        _prepare_root(rootfs, real_rootfs, plan)
    elif plan.readonly_root:
        _self_bind(rootfs)  # so the read-only remount hits the rootfs, not its host mount
    ro_dev = None
    with RootDir(rootfs) as root:
        for m in plan.mounts:
            if m.destination == "/dev" and not m.bind and m.flags & sc.MS_RDONLY:
                # A read-only /dev is made writable until its nodes and console are
                # in, then remounted read-only (runc does the same).
                ro_dev = m
                m = m.replace(flags=m.flags & ~sc.MS_RDONLY)  # type: ignore[assignment]
            mount_entry(root, m, ctx)
        if not plan.dev_is_bound:
            devices.setup_dev(root, plan.devices, in_userns=ctx.in_userns)
        if console_path:
            devices.mount_console(root, console_path)
    _enter_root(rootfs, plan, no_pivot=no_pivot, own_mount_ns=own_mount_ns)
    if open_console is not None:
        slave = open_console()
        with RootDir("/") as root:
            devices.mount_console(root, slave)
    if ro_dev is not None:
        _remount_readonly(ro_dev)
    sysctl.apply(plan.sysctl)
    _make_cwd(plan.cwd)
    paths_masking.readonly_paths(plan.readonly_paths)
    paths_masking.mask_paths(plan.masked_paths)
    if plan.readonly_root:
        paths_masking.readonly_root()
    if plan.root_propagation is not None and own_mount_ns:
        _final_propagation(plan)
    os.chdir("/")


def unmount_rootfs(rootfs: str) -> list[str]:
    """Detach every mount at or below ``rootfs`` in this mount namespace, deepest first.

    For containers that shared the caller's mount namespace (no ``mount`` entry):
    their mounts stay after the container exits. Returns the mount points removed;
    ones already gone are skipped.
    """
    rootfs = os.path.realpath(rootfs)
    points = [m.mountpoint for m in read_mountinfo()
              if m.mountpoint == rootfs or m.mountpoint.startswith(rootfs + "/")]
    removed = []
    for point in reversed(points):  # mountinfo lists parents before children
        try:
            sc.umount2(point, sc.MNT_DETACH | sc.UMOUNT_NOFOLLOW)
        except OSError as exc:
            if exc.errno not in (2, 22):  # ENOENT, EINVAL: gone already
                raise
            continue
        removed.append(point)
    return removed
