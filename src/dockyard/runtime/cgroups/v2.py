"""cgroup v2 (unified) manager: one directory, resources mapped to v2 files.

The mount root is a parameter: the host's cgroup2 mount normally, a fake tree in
tests, or ``/sys/fs/cgroup/unified`` on a hybrid host. Controllers are enabled in
the ancestors' ``cgroup.subtree_control`` (from the mount root down to the
leaf's parent) only for the controllers this manager was told to enable at
``apply`` and for those a ``set`` needs, so a hybrid host's root is not touched
unless a limit asks for it.
"""

from __future__ import annotations

import errno
import os
import posixpath
import time

from dockyard.errors import Conflict, InvalidArgument, SystemError_, Unavailable

from . import cgfs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from typing import Any

    from .stats import CgroupStats

__all__ = ["V2Manager", "v2_writes"]

KNOWN_CONTROLLERS = ("cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc")
_R = "linux.resources"


def _max(value: int) -> str:
    return "max" if value < 0 else str(value)


def _memory_writes(mem: Mapping[str, Any]) -> list[tuple[str, str]]:
    from .resources import swap_to_v2, warn

    out = []
    limit, swap = mem.get("limit"), mem.get("swap")
    swap_v2 = swap_to_v2(limit, swap)
    # swap.max first: lowering memory.max below a current swap.max is always fine,
    # and a new memory.max must exist before the swap value derived from it matters.
    if swap_v2 is not None:
        out.append(("memory.swap.max", _max(swap_v2)))
    if limit:
        out.append(("memory.max", _max(limit)))
    if mem.get("reservation"):
        out.append(("memory.low", _max(mem["reservation"])))
    for key, why in (("kernel", "kernel memory limits do not exist on cgroup v2"),
                     ("kernelTCP", "kernel TCP limits do not exist on cgroup v2"),
                     ("swappiness", "cgroup v2 has no per-cgroup swappiness"),
                     ("disableOOMKiller", "cgroup v2 cannot disable the OOM killer")):
        if mem.get(key) not in (None, 0, False, -1):
            warn(f"{_R}.memory.{key} ignored: {why}")
    return out


def _cpu_writes(cpu: Mapping[str, Any]) -> list[tuple[str, str]]:
    from .resources import shares_to_weight

    out = []
    if cpu.get("shares"):
        out.append(("cpu.weight", str(shares_to_weight(cpu["shares"]))))
    quota, period = cpu.get("quota") or 0, cpu.get("period") or 0
    if quota or period:
        value = str(quota) if quota > 0 else "max"
        out.append(("cpu.max", f"{value} {period}" if period else value))
    if cpu.get("burst") is not None:
        out.append(("cpu.max.burst", str(cpu["burst"])))
    if cpu.get("realtimeRuntime") or cpu.get("realtimePeriod"):
        raise Unavailable(f"{_R}.cpu.realtimeRuntime/realtimePeriod: cgroup v2 has no "
                          "real-time CPU controller")
    if cpu.get("idle") is not None:
        out.append(("cpu.idle", str(cpu["idle"])))
    if cpu.get("cpus"):
        out.append(("cpuset.cpus", cpu["cpus"]))
    if cpu.get("mems"):
        out.append(("cpuset.mems", cpu["mems"]))
    return out


def _io_writes(blk: Mapping[str, Any], has: Callable[[str], bool]) -> list[tuple[str, str]]:
    from .resources import blkio_weight_to_io_weight, warn

    out = []
    bfq = has("io.bfq.weight")
    if blk.get("weight"):
        w = blk["weight"]
        out.append(("io.bfq.weight", str(w)) if bfq
                   else ("io.weight", f"default {blkio_weight_to_io_weight(w)}"))
    if blk.get("leafWeight"):
        warn(f"{_R}.blockIO.leafWeight ignored: cgroup v2 has no leaf weight")
    for dev in blk.get("weightDevice") or ():
        if dev.get("weight"):
            dev_id = f"{dev['major']}:{dev['minor']}"
            w = dev["weight"]
            out.append(("io.bfq.weight", f"{dev_id} {w}") if bfq
                       else ("io.weight", f"{dev_id} {blkio_weight_to_io_weight(w)}"))
    for key, name in (("throttleReadBpsDevice", "rbps"), ("throttleWriteBpsDevice", "wbps"),
                      ("throttleReadIOPSDevice", "riops"),
                      ("throttleWriteIOPSDevice", "wiops")):
        for dev in blk.get(key) or ():
            rate = dev["rate"] or -1  # 0 removes the limit, as on v1
            out.append(("io.max", f"{dev['major']}:{dev['minor']} {name}={_max(rate)}"))
    return out


def v2_writes(resources: Mapping[str, Any],
              has: Callable[[str], bool] = lambda name: True) -> list[tuple[str, str]]:
    """Every (file, value) write for ``resources`` except devices, in order.

    ``has(name)`` says whether the cgroup has a file (io.bfq.weight or io.weight).
    """
    from .resources import hugepage_size

    out: list[tuple[str, str]] = []
    out += _memory_writes(resources.get("memory") or {})
    out += _cpu_writes(resources.get("cpu") or {})
    pids = resources.get("pids") or {}
    if pids.get("limit"):
        out.append(("pids.max", _max(pids["limit"])))
    out += _io_writes(resources.get("blockIO") or {}, has)
    for i, hp in enumerate(resources.get("hugepageLimits") or ()):
        size = hugepage_size(hp.get("pageSize"), f"{_R}.hugepageLimits[{i}]")
        out.append((f"hugetlb.{size}.max", str(hp["limit"])))
    net = resources.get("network") or {}
    if net.get("classID") or net.get("priorities"):
        raise Unavailable(f"{_R}.network: cgroup v2 has no net_cls/net_prio controllers")
    for key, value in (resources.get("unified") or {}).items():
        out.append((key, value))
    return out


class V2Manager:
    """One cgroup in a cgroup2 hierarchy mounted at ``mount``.

    ``path`` is the hierarchy path (``/dockyard/<id>``). ``controllers``: which
    controllers ``apply`` enables for the new cgroup (None = every one the root
    offers; ``()`` = none until a ``set`` needs one). ``created`` lists the dirs this
    manager made, so ``destroy`` removes those and nothing else.
    """

    version = 2

    def __init__(self, mount: str, path: str, *, controllers: Sequence[str] | None = None,
                 created: Iterable[str] = (), shared: Iterable[str] = (),
                 enable_in_root: bool = True) -> None:
        self.mount = mount.rstrip("/") or "/"
        self.path = posixpath.normpath("/" + path.lstrip("/"))
        if self.path == "/":
            raise InvalidArgument("refusing to manage the root cgroup")
        self.controllers = None if controllers is None else tuple(controllers)
        self.created: list[str] = list(created)
        self.shared: list[str] = list(shared)  # see V1Manager.shared
        self.dir = posixpath.join(self.mount, self.path.lstrip("/"))
        # False on a hybrid host: the cgroup2 root's subtree_control is host-wide
        # configuration, so a controller the admin did not enable there stays off.
        self.enable_in_root = enable_in_root

    # --- identity ------------------------------------------------------------------
    @property
    def paths(self) -> dict[str, str]:
        return {"": self.dir}

    def to_state(self) -> dict[str, Any]:
        return {"version": 2, "mount": self.mount, "path": self.path,
                "controllers": None if self.controllers is None else list(self.controllers),
                "created": list(self.created), "shared": list(self.shared),
                "enable_in_root": self.enable_in_root}

    @classmethod
    def from_state(cls, saved: Mapping[str, Any]) -> V2Manager:
        return cls(saved["mount"], saved["path"], controllers=saved.get("controllers"),
                   created=saved.get("created") or (), shared=saved.get("shared") or (),
                   enable_in_root=saved.get("enable_in_root", True))

    # --- creation --------------------------------------------------------------------
    def _levels(self) -> list[str]:
        """Every dir from the mount root's child down to the leaf."""
        parts = self.path.strip("/").split("/")
        return [posixpath.join(self.mount, *parts[: i + 1]) for i in range(len(parts))]

    def create(self) -> None:
        self.created += cgfs.make_dirs(self.dir)
        wanted = self.controllers
        if wanted is None:
            try:
                offered = cgfs.read(self.mount, "cgroup.controllers").split()
            except OSError:
                offered = []
            wanted = tuple(c for c in KNOWN_CONTROLLERS if c in offered)
        self.enable(wanted)

    def apply(self, pid: int | None) -> None:
        """Create the cgroup (and missing parents) and move ``pid`` into it."""
        self.create()
        if pid is not None:
            self.add_pid(pid)

    def add_pid(self, pid: int) -> None:
        cgfs.write(self.dir, "cgroup.procs", str(pid), what=f"joining pid {pid}")

    def enable(self, controllers: Iterable[str]) -> None:
        """Enable ``controllers`` in every ancestor's subtree_control, top down."""
        wanted = [c for c in controllers if c in KNOWN_CONTROLLERS]
        if not wanted:
            return
        for parent in [self.mount, *self._levels()[:-1]]:
            try:
                enabled = cgfs.read(parent, "cgroup.subtree_control").split()
                offered = cgfs.read(parent, "cgroup.controllers").split()
            except OSError as err:
                raise SystemError_(f"reading controllers of {parent}: {err}") from err
            for c in wanted:
                if c in enabled:
                    continue
                if c not in offered:
                    raise Unavailable(f"cgroup v2 controller {c!r} is not available "
                                      f"in {parent}")
                if parent == self.mount and not self.enable_in_root:
                    raise Unavailable(
                        f"the {c} controller is not enabled in {parent}/"
                        f"cgroup.subtree_control (host configuration on this hybrid "
                        f"host; `echo +{c} > {parent}/cgroup.subtree_control` as root "
                        "enables it)")
                cgfs.write(parent, "cgroup.subtree_control", f"+{c}",
                           what=f"enabling the {c} controller")

    # --- resources -------------------------------------------------------------------
    def set(self, resources: Mapping[str, Any] | None) -> None:
        """Apply ``linux.resources`` (also used for ``update``).

        Values are checked first; the controllers they need are enabled; then every
        file must exist before the first value is written.
        """
        from .resources import parse_rules, validate

        resources = resources or {}
        validate(resources)
        writes = v2_writes(resources, lambda name: cgfs.exists(self.dir, name))
        rules = None
        if resources.get("devices") is not None:
            rules = parse_rules(resources["devices"])
        needed = {name.split(".", 1)[0] for name, _ in writes}
        self.enable(c for c in KNOWN_CONTROLLERS if c in needed)
        for name, value in writes:
            if not cgfs.exists(self.dir, name):
                why = "no swap accounting" if name == "memory.swap.max" else f"no {name}"
                raise Unavailable(f"{_R}: cannot set {name} = {value}: this kernel has "
                                  f"{why} ({self.dir}/{name} missing)")
        for name, value in writes:
            cgfs.write(self.dir, name, value, what=f"{_R} ({name})")
        if rules is not None:
            from . import devices_bpf

            try:
                devices_bpf.attach(self.dir, rules)
            except OSError as err:
                raise SystemError_(f"{_R}.devices: attaching the BPF device program to "
                                   f"{self.dir}: {err}") from err

    # --- freezer ---------------------------------------------------------------------
    def _frozen(self) -> bool:
        for line in cgfs.read(self.dir, "cgroup.events").splitlines():
            key, _, value = line.partition(" ")
            if key == "frozen":
                return value.strip() == "1"
        return False

    def _set_frozen(self, frozen: bool, timeout: float) -> None:
        cgfs.write(self.dir, "cgroup.freeze", "1" if frozen else "0")
        deadline = time.monotonic() + timeout
        delay = 0.001
        while self._frozen() != frozen:
            if time.monotonic() > deadline:
                if frozen:
                    cgfs.write(self.dir, "cgroup.freeze", "0")
                raise SystemError_(f"cgroup {self.dir} did not become "
                                   f"{'frozen' if frozen else 'thawed'} in {timeout}s")
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def freeze(self, timeout: float = 10.0) -> None:
        self._set_frozen(True, timeout)

    def thaw(self, timeout: float = 10.0) -> None:
        """Thaw; a cgroup that is already gone has nothing left to thaw."""
        if not os.path.isdir(self.dir):
            return
        self._set_frozen(False, timeout)

    # --- reading -------------------------------------------------------------------
    def pids(self) -> list[int]:
        try:
            text = cgfs.read(self.dir, "cgroup.procs")
        except FileNotFoundError:
            return []
        return [int(x) for x in text.split()]

    def stats(self) -> CgroupStats:
        from .stats import read_v2

        return read_v2(self.dir)

    # --- removal -------------------------------------------------------------------
    def destroy(self, timeout: float = 5.0) -> None:
        """Remove the leaf (retrying while its tasks exit) and the parents we made."""
        remove_dir(self.dir, timeout)
        parents = set(self._levels()[:-1])
        cgfs.remove_empty(parents & (set(self.created) | set(self.shared)))
        self.created = [c for c in self.created if os.path.isdir(c)]


def remove_dir(path: str, timeout: float) -> None:
    """rmdir a cgroup and the sub-cgroups its processes made (deepest first),
    retrying on EBUSY while the last tasks are exiting.

    This is on every container's teardown: the common case is one rmdir, and the
    first retries come fast (a task that just exited leaves within microseconds).
    """
    deadline = time.monotonic() + timeout
    delay = 0.0002
    while True:
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as err:
            if err.errno not in (errno.EBUSY, errno.ENOTEMPTY):
                raise Conflict(f"cannot remove cgroup {path}: {err.strerror}") from err
            try:
                _rmdir_children(path)
                os.rmdir(path)
                return
            except FileNotFoundError:
                return
            except OSError as again:
                if time.monotonic() > deadline:
                    left = _tasks(path)
                    raise Conflict(f"cannot remove cgroup {path}: {again.strerror}"
                                   + (f" (tasks still inside: {left})" if left else "")
                                   ) from again
            time.sleep(delay)
            delay = min(delay * 2, 0.05)


def _rmdir_children(path: str) -> None:
    # Only directories: cgroupfs control files vanish with their cgroup. Symlinks
    # are never followed (a cgroupfs has none; anything else is not ours to touch).
    with os.scandir(path) as entries:
        subdirs = [e.path for e in entries if e.is_dir(follow_symlinks=False)]
    for sub in subdirs:
        _rmdir_children(sub)
        os.rmdir(sub)


def _tasks(path: str) -> list[int]:
    try:
        with open(os.path.join(path, "cgroup.procs")) as f:
            return [int(x) for x in f.read().split()]
    except (OSError, ValueError):
        return []
