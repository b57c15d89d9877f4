"""Runs ``rootfs.setup`` for real without the core runtime (no tests in here).

``run_in_container`` starts a fresh ``python -c`` helper (single-threaded, unlike
pytest) that unshares the spec's namespaces (at least mount + pid), forks pid 1, calls
``setup()`` on the given rootfs and execs busybox ``sh -c SCRIPT``. Every mount lives
in that private namespace and disappears with it. With ``userns=True`` the helper's
child first enters a new user namespace in which only root is mapped (to root, or to
``userns_host_id``), so the user-namespace paths (bind instead of mknod, sysfs bind)
run while the rootfs files stay accessible. A spec without a mount namespace shares
the helper's: the helper first makes a private one standing in for the host's, and
after the container exits reports what it left mounted there and unmounts it with
``unmount_rootfs``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass

_HELPER = r'''
import json, os, sys, traceback
from dockyard.runtime import syscalls as sc
import dockyard.runtime.rootfs
cfg = json.loads(sys.argv[1])
try:
    dockyard.runtime.rootfs.validate(cfg["spec"])  # as the core's parent: preloads modules
except Exception:
    pass  # setup() reports it

NS = {"mount": sc.CLONE_NEWNS, "pid": sc.CLONE_NEWPID, "ipc": sc.CLONE_NEWIPC,
      "uts": sc.CLONE_NEWUTS, "network": sc.CLONE_NEWNET, "cgroup": sc.CLONE_NEWCGROUP}
flags = 0
for t in cfg["unshare"]:
    flags |= NS[t]

def container():
    if cfg["no_openat2"]:
        from dockyard.runtime.rootfs import paths
        paths._openat2_works = False  # exercise the manual walk
    if cfg["drop_mknod"]:
        eff, perm, inh = sc.capget()
        sc.capset(eff & ~(1 << 27), perm & ~(1 << 27), inh)  # CAP_MKNOD: mknod -> EPERM
    console = None
    if cfg["console"]:
        master, slave = os.openpty()
        console = os.ttyname(slave)
    try:
        from dockyard.runtime.rootfs import setup
        opener = None
        if cfg["console_inside"]:
            def opener():
                # the runc way: a pty from the container's own devpts, after the pivot
                master, slave = os.openpty()
                os.set_inheritable(master, True)  # keep the pty alive in the exec'd sh
                return os.ttyname(slave)
        setup(cfg["spec"], cfg["rootfs"], no_pivot=cfg["no_pivot"], console_path=console,
              open_console=opener)
    except BaseException as exc:
        sys.stderr.write("SETUP-ERROR %s: %s\n" % (type(exc).__name__, exc))
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(3)
    os.execv("/bin/sh", ["sh", "-c", cfg["script"]])

def run_pid1():
    pid = os.fork()
    if pid == 0:
        try:
            container()
        finally:
            os._exit(4)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)

if not cfg["userns"]:
    if cfg["shared_mount_ns"]:
        # Stand-in for "the host's" mount namespace that the container shares.
        sc.unshare(sc.CLONE_NEWNS)
        sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
    sc.unshare(flags)
    if cfg["rootfs_on_tmpfs"]:
        # Like an overlay rootfs on a systemd host: the rootfs is a mount of its own
        # and everything is shared. Private first, so nothing reaches the real host.
        import shutil
        sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
        sc.mount(None, "/", None, sc.MS_REC | sc.MS_SHARED)
        template = cfg["rootfs"] + ".template"
        os.rename(cfg["rootfs"], template)
        os.mkdir(cfg["rootfs"])
        sc.mount("tmpfs", cfg["rootfs"], "tmpfs", 0, "mode=755")
        shutil.copytree(template, cfg["rootfs"], symlinks=True, dirs_exist_ok=True)
    code = run_pid1()
    if cfg["shared_mount_ns"]:
        from dockyard.runtime.rootfs import unmount_rootfs
        from dockyard.runtime.rootfs.mountinfo import read_mountinfo
        root = os.path.realpath(cfg["rootfs"])
        under = lambda: [m.mountpoint for m in read_mountinfo()
                         if m.mountpoint == root or m.mountpoint.startswith(root + "/")]
        print("LEFT-BEFORE", len(under()))
        print("REMOVED", len(unmount_rootfs(root)))
        print("LEFT-AFTER", len(under()))
    sys.exit(code)

r1, w1 = os.pipe()
r2, w2 = os.pipe()
child = os.fork()
if child == 0:
    os.close(r1); os.close(w2)
    try:
        sc.unshare(sc.CLONE_NEWUSER | flags)
        os.write(w1, b"u")
        os.read(r2, 1)
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
        code = run_pid1()
    except BaseException:
        traceback.print_exc()
        code = 5
    os._exit(code if code >= 0 else 128 - code)
os.close(w1); os.close(r2)
if os.read(r1, 1) != b"u":
    sys.exit(6)
for name in ("uid_map", "gid_map"):
    with open("/proc/%d/%s" % (child, name), "w") as f:
        f.write("0 %d 1\n" % cfg["userns_host_id"])
os.write(w2, b"m")
_, status = os.waitpid(child, 0)
sys.exit(os.waitstatus_to_exitcode(status))
'''


@dataclass
class Result:
    code: int
    out: str
    err: str

    def mounts(self) -> dict[str, list[str]]:
        """mountpoint -> its mountinfo fields, parsed from a ``cat /proc/self/mountinfo``
        section printed between ``--mountinfo--`` markers."""
        text = self.out.split("--mountinfo--")[1]
        found: dict[str, list[str]] = {}
        for line in text.strip().splitlines():
            fields = line.split()
            found[fields[4]] = fields
        return found


def run_in_container(spec: dict, rootfs: os.PathLike | str, script: str, *,
                     no_pivot: bool = False,
                     console: bool = False, userns: bool = False, no_openat2: bool = False,
                     drop_mknod: bool = False, userns_host_id: int = 0,
                     cwd: os.PathLike | str | None = None, rootfs_on_tmpfs: bool = False,
                     console_inside: bool = False,
                     timeout: int = 60) -> Result:
    types = {ns["type"] for ns in spec["linux"]["namespaces"]}
    shared_mount_ns = "mount" not in types
    unshare = sorted(types - {"user"} | {"pid"})
    cfg = {"spec": spec, "rootfs": str(rootfs), "script": script, "unshare": unshare,
           "no_pivot": no_pivot, "console": console, "userns": userns,
           "no_openat2": no_openat2, "shared_mount_ns": shared_mount_ns,
           "drop_mknod": drop_mknod, "userns_host_id": userns_host_id,
           "rootfs_on_tmpfs": rootfs_on_tmpfs, "console_inside": console_inside}
    proc = subprocess.run([sys.executable, "-c", _HELPER, json.dumps(cfg)],
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, cwd=cwd)
    return Result(proc.returncode, proc.stdout, proc.stderr)


MOUNTINFO = "echo --mountinfo--; cat /proc/self/mountinfo; echo --mountinfo--"


def base_spec(**linux: object) -> dict:
    """runc's default config.json (the parts rootfs reads), namespaces as listed."""
    spec = {
        "ociVersion": "1.0.2",
        "root": {"path": "rootfs", "readonly": False},
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620",
                         "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
        ],
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "mount", "ipc", "uts")],
            "maskedPaths": ["/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/timer_list",
                            "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                              "/proc/sysrq-trigger"],
        },
    }
    spec["linux"].update(linux)
    return spec
