"""Temporary stand-ins for rootfs/, cgroups/ and security/ until their branches merge.

Deliberately minimal (no symlink-safe mount targets, v1 cgroups only, no
capabilities or seccomp): enough to run a busybox container through the
lifecycle. :mod:`modules` uses them only when the real package is absent.
"""

from __future__ import annotations

import os
import time
from types import SimpleNamespace

from dockyard.runtime import syscalls as sc

_FLAGS = {
    "ro": sc.MS_RDONLY, "nosuid": sc.MS_NOSUID, "nodev": sc.MS_NODEV,
    "noexec": sc.MS_NOEXEC, "bind": sc.MS_BIND, "rbind": sc.MS_BIND | sc.MS_REC,
    "relatime": sc.MS_RELATIME, "strictatime": sc.MS_STRICTATIME, "noatime": sc.MS_NOATIME,
}
_CLEAR = {"rw", "suid", "dev", "exec", "private", "rprivate", "slave", "rslave"}


def _setup(spec: dict, rootfs: str, *, no_pivot: bool, console_path: str | None) -> None:
    sc.mount(None, "/", None, sc.MS_REC | sc.MS_SLAVE)
    sc.mount(rootfs, rootfs, None, sc.MS_BIND | sc.MS_REC)
    for m in spec.get("mounts") or []:
        flags, data = 0, []
        for o in m.get("options") or []:
            if o in _FLAGS:
                flags |= _FLAGS[o]
            elif o not in _CLEAR:
                data.append(o)
        dest = os.path.join(rootfs, m["destination"].lstrip("/"))
        src = m.get("source", m.get("type", "none"))
        if flags & sc.MS_BIND and not os.path.isdir(src):
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            if not os.path.exists(dest):
                open(dest, "a").close()
        else:
            os.makedirs(dest, exist_ok=True)
        try:
            sc.mount(src, dest, m.get("type"), flags & ~sc.MS_RDONLY if flags & sc.MS_BIND
                     else flags, ",".join(data) or None)
        except OSError:
            if m.get("type") in ("sysfs", "cgroup", "mqueue"):
                continue
            raise
        if flags & sc.MS_BIND and flags & sc.MS_RDONLY:
            sc.mount(None, dest, None, flags | sc.MS_REMOUNT)
    dev = os.path.join(rootfs, "dev")
    for name, minor in (("null", 3), ("zero", 5), ("full", 7), ("random", 8),
                        ("urandom", 9)):
        p = os.path.join(dev, name)
        if not os.path.exists(p):
            os.mknod(p, 0o20666, os.makedev(1, minor))
            os.chmod(p, 0o666)
    if os.path.isdir(os.path.join(dev, "pts")) and not os.path.lexists(
            os.path.join(dev, "ptmx")):
        os.symlink("pts/ptmx", os.path.join(dev, "ptmx"))
    if console_path:
        target = os.path.join(dev, "console")
        if not os.path.exists(target):
            open(target, "a").close()
        sc.mount(console_path, target, None, sc.MS_BIND)
    os.chdir(rootfs)
    if no_pivot:
        sc.mount(rootfs, "/", None, sc.MS_MOVE)
        os.chroot(".")
    else:
        sc.pivot_root(".", ".")
        sc.umount2(".", sc.MNT_DETACH)
    os.chdir("/")
    for k, v in ((spec.get("linux") or {}).get("sysctl") or {}).items():
        with open("/proc/sys/" + k.replace(".", "/"), "w") as f:
            f.write(v)
    if (spec.get("root") or {}).get("readonly"):
        sc.mount(None, "/", None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY)


rootfs = SimpleNamespace(setup=_setup)


class _V1Manager:
    """cgroup v1: one directory per mounted controller hierarchy."""

    def __init__(self, paths: dict[str, str]) -> None:
        self.paths = paths

    def apply(self, pid: int) -> None:
        for ctrl, d in self.paths.items():
            if "cpuset" in ctrl:
                self._cpuset_dirs(d)
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "cgroup.procs"), "w") as f:
                f.write(str(pid))

    @staticmethod
    def _cpuset_dirs(d: str) -> None:
        parent = os.path.dirname(d)
        try:
            with open(os.path.join(parent, "cpuset.cpus")) as f:
                ready = bool(f.read().strip())
        except FileNotFoundError:
            ready = False
        if not ready:
            _V1Manager._cpuset_dirs(parent)
        os.makedirs(d, exist_ok=True)
        for f in ("cpuset.cpus", "cpuset.mems"):
            with open(os.path.join(d, f)) as cur:
                if cur.read().strip():
                    continue
            with open(os.path.join(parent, f)) as src:
                val = src.read()
            with open(os.path.join(d, f), "w") as dst:
                dst.write(val)

    def set(self, resources: dict) -> None:
        pids = (resources.get("pids") or {}).get("limit")
        if pids and "pids" in self.paths:
            with open(os.path.join(self.paths["pids"], "pids.max"), "w") as f:
                f.write(str(pids) if pids > 0 else "max")
        mem = (resources.get("memory") or {}).get("limit")
        if mem and "memory" in self.paths:
            with open(os.path.join(self.paths["memory"], "memory.limit_in_bytes"), "w") as f:
                f.write(str(mem))

    def _freezer(self, state: str) -> None:
        with open(os.path.join(self.paths["freezer"], "freezer.state"), "w") as f:
            f.write(state)

    def freeze(self) -> None:
        self._freezer("FROZEN")

    def thaw(self) -> None:
        self._freezer("THAWED")

    def pids(self) -> list[int]:
        d = self.paths.get("pids") or next(iter(self.paths.values()))
        try:
            with open(os.path.join(d, "cgroup.procs")) as f:
                return [int(x) for x in f.read().split()]
        except FileNotFoundError:
            return []

    def stats(self) -> dict:
        return {}

    def destroy(self) -> None:
        for d in self.paths.values():
            for _ in range(200):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)

    def to_state(self) -> dict:
        return {"v1": self.paths}


def _create_manager(cgroups_path: str | None, container_id: str) -> _V1Manager:
    rel = (cgroups_path or f"/dockyard/{container_id}").lstrip("/")
    paths = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            fields = post.split()
            if fields[0] != "cgroup":
                continue
            opts = fields[2].split(",")
            ctrls = [o for o in opts if o in ("cpu", "cpuacct", "cpuset", "memory", "devices",
                                              "freezer", "pids", "blkio")]
            if ctrls:
                paths[",".join(ctrls)] = os.path.join(pre.split()[4], rel)
    for key in list(paths):
        for c in key.split(","):
            paths.setdefault(c, paths[key])
    return _V1Manager({k: v for k, v in paths.items() if True})


def _load_manager(saved: dict) -> _V1Manager:
    return _V1Manager(saved["v1"])


cgroups = SimpleNamespace(create_manager=_create_manager, load_manager=_load_manager,
                          validate=lambda resources: None)


def _finalize(process: dict, *, seccomp: dict | None, no_new_privileges: bool) -> None:
    user = process.get("user") or {}
    os.setgroups(user.get("additionalGids") or [])
    os.setgid(user.get("gid", 0))
    os.setuid(user.get("uid", 0))
    if user.get("umask") is not None:
        os.umask(user["umask"])
    if no_new_privileges:
        sc.prctl(sc.PR_SET_NO_NEW_PRIVS, 1)


security = SimpleNamespace(validate=lambda spec: None, finalize_process=_finalize)
