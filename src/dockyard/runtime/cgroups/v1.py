"""cgroup v1 manager: one directory per mounted hierarchy, same path in each.

Every mounted hierarchy gets the path, named ones (``name=systemd``) included,
so the container is fully placed. On a hybrid host the cgroup2 mount gets it
too, through a :class:`V2Manager` with no controllers enabled: that is where
this kernel keeps hugetlb, used only when a hugepage limit asks for it.

The devices controller (deny-all, then the spec's rules in order) is at the end:
it is v1-only and on every container's start-up path, so not a module of its own.
"""

from __future__ import annotations

import os
import posixpath
import time

from dockyard.errors import DockyardError, InvalidArgument, SystemError_, Unavailable

from . import cgfs
from .v2 import V2Manager, remove_dir

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from typing import Any

    from .resources import DeviceRule
    from .stats import CgroupStats

__all__ = ["V1Manager", "apply_device_rules", "rule_lines", "v1_writes"]

_R = "linux.resources"
# Controllers the resources touch, by the spec section that needs them.
_NEEDS = {"memory": "memory", "pids": "pids", "blockIO": "blkio",
          "hugepageLimits": "hugetlb"}


def _memory_writes(mem: Mapping[str, Any], current_memsw: int | None) -> list[tuple[str, str]]:
    from .resources import warn

    out: list[tuple[str, str]] = []
    limit, swap = mem.get("limit"), mem.get("swap")
    pair = []
    if limit:
        pair.append(("memory.limit_in_bytes", str(limit)))
    if swap:
        pair.append(("memory.memsw.limit_in_bytes", str(swap)))
    # memory <= memsw at every moment: when raising memsw past its current value,
    # set it first; otherwise set the memory limit first.
    if len(pair) == 2 and current_memsw is not None and \
            (swap == -1 or (current_memsw != -1 and swap > current_memsw)):
        pair.reverse()
    out += pair
    if mem.get("reservation"):
        out.append(("memory.soft_limit_in_bytes", str(mem["reservation"])))
    if mem.get("kernel"):
        warn(f"{_R}.memory.kernel ignored: kernel memory limits are not supported "
             "by this kernel (memory.kmem.limit_in_bytes has no effect)")
    if mem.get("kernelTCP"):
        out.append(("memory.kmem.tcp.limit_in_bytes", str(mem["kernelTCP"])))
    if mem.get("swappiness") is not None:
        out.append(("memory.swappiness", str(mem["swappiness"])))
    if mem.get("disableOOMKiller"):
        out.append(("memory.oom_control", "1"))
    if mem.get("useHierarchy") is not None:
        out.append(("memory.use_hierarchy", "1" if mem["useHierarchy"] else "0"))
    return out


def _cpu_writes(cpu: Mapping[str, Any]) -> list[tuple[str, str]]:
    out = []
    if cpu.get("shares"):
        out.append(("cpu.shares", str(cpu["shares"])))
    if cpu.get("period"):
        out.append(("cpu.cfs_period_us", str(cpu["period"])))
    if cpu.get("quota"):
        out.append(("cpu.cfs_quota_us", str(cpu["quota"])))
    if cpu.get("burst") is not None:
        out.append(("cpu.cfs_burst_us", str(cpu["burst"])))
    if cpu.get("realtimePeriod"):
        out.append(("cpu.rt_period_us", str(cpu["realtimePeriod"])))
    if cpu.get("realtimeRuntime"):
        out.append(("cpu.rt_runtime_us", str(cpu["realtimeRuntime"])))
    if cpu.get("idle") is not None:
        out.append(("cpu.idle", str(cpu["idle"])))
    if cpu.get("cpus"):
        out.append(("cpuset.cpus", cpu["cpus"]))
    if cpu.get("mems"):
        out.append(("cpuset.mems", cpu["mems"]))
    return out


def _blkio_writes(blk: Mapping[str, Any]) -> list[tuple[str, str]]:
    out = []
    if blk.get("weight"):
        out.append(("blkio.weight", str(blk["weight"])))
    if blk.get("leafWeight"):
        out.append(("blkio.leaf_weight", str(blk["leafWeight"])))
    for dev in blk.get("weightDevice") or ():
        dev_id = f"{dev['major']}:{dev['minor']}"
        if dev.get("weight"):
            out.append(("blkio.weight_device", f"{dev_id} {dev['weight']}"))
        if dev.get("leafWeight"):
            out.append(("blkio.leaf_weight_device", f"{dev_id} {dev['leafWeight']}"))
    for key, name in (("throttleReadBpsDevice", "read_bps_device"),
                      ("throttleWriteBpsDevice", "write_bps_device"),
                      ("throttleReadIOPSDevice", "read_iops_device"),
                      ("throttleWriteIOPSDevice", "write_iops_device")):
        for dev in blk.get(key) or ():
            out.append((f"blkio.throttle.{name}", f"{dev['major']}:{dev['minor']} {dev['rate']}"))
    return out


def v1_writes(resources: Mapping[str, Any],
              current_memsw: int | None = None) -> list[tuple[str, str]]:
    """Every (file, value) write for ``resources`` except devices and hugetlb-on-v2.

    The controller of each file is the part of its name before the first dot.
    """
    from .resources import hugepage_size

    if resources.get("unified"):
        raise InvalidArgument(f"{_R}.unified: this host uses cgroup v1; unified "
                              "(cgroup v2) settings cannot be applied")
    out: list[tuple[str, str]] = []
    out += _memory_writes(resources.get("memory") or {}, current_memsw)
    out += _cpu_writes(resources.get("cpu") or {})
    pids = resources.get("pids") or {}
    if pids.get("limit"):
        limit = pids["limit"]
        out.append(("pids.max", "max" if limit < 0 else str(limit)))
    out += _blkio_writes(resources.get("blockIO") or {})
    for i, hp in enumerate(resources.get("hugepageLimits") or ()):
        size = hugepage_size(hp.get("pageSize"), f"{_R}.hugepageLimits[{i}]")
        out.append((f"hugetlb.{size}.limit_in_bytes", str(hp["limit"])))
    net = resources.get("network") or {}
    if net.get("classID"):
        out.append(("net_cls.classid", str(net["classID"])))
    for prio in net.get("priorities") or ():
        out.append(("net_prio.ifpriomap", f"{prio['name']} {prio.get('priority', 0)}"))
    return out


class V1Manager:
    """One cgroup path placed in every mounted v1 hierarchy (and unified on hybrid).

    ``dirs`` maps each controller or named hierarchy to its directory; co-mounted
    controllers (``cpu,cpuacct``) share one directory.
    """

    version = 1

    def __init__(self, dirs: Mapping[str, str], *, created: Iterable[str] = (),
                 shared: Iterable[str] = (), unified: V2Manager | None = None) -> None:
        if not dirs:
            raise Unavailable("no cgroup v1 hierarchy is mounted")
        self.dirs = dict(dirs)
        self.created: list[str] = list(created)
        # parents that any of our containers may share (the default /dockyard):
        # removed when empty even if another container made them
        self.shared: list[str] = list(shared)
        self.unified = unified

    @property
    def paths(self) -> dict[str, str]:
        out = dict(self.dirs)
        if self.unified is not None:
            out[""] = self.unified.dir
        return out

    def to_state(self) -> dict[str, Any]:
        return {"version": 1, "dirs": dict(self.dirs), "created": list(self.created),
                "shared": list(self.shared),
                "unified": self.unified.to_state() if self.unified else None}

    @classmethod
    def from_state(cls, saved: Mapping[str, Any]) -> V1Manager:
        unified = V2Manager.from_state(saved["unified"]) if saved.get("unified") else None
        return cls(saved["dirs"], created=saved.get("created") or (),
                   shared=saved.get("shared") or (), unified=unified)

    def _unique_dirs(self) -> list[str]:
        return sorted(set(self.dirs.values()))

    # --- creation --------------------------------------------------------------------
    def create(self) -> None:
        for leaf in self._unique_dirs():
            self.created += cgfs.make_dirs(leaf)
        if "cpuset" in self.dirs:
            _fill_cpuset(self.dirs["cpuset"])
        if self.unified is not None:
            self._best_effort_unified(self.unified.create)

    def _best_effort_unified(self, step) -> None:
        # The cgroup2 side of a hybrid host only adds hugetlb here; a host where it
        # is read-only or foreign (a container's view) must not stop the container.
        try:
            step()
        except DockyardError as err:
            from .resources import warn

            warn(f"not using the cgroup2 hierarchy of this hybrid host: {err}")
            unified, self.unified = self.unified, None
            try:
                unified.destroy(timeout=0.5)
            except DockyardError:
                pass

    def apply(self, pid: int | None) -> None:
        """Create the cgroup everywhere and move ``pid`` into it (every hierarchy)."""
        self.create()
        if pid is not None:
            for d in self._unique_dirs():
                cgfs.write(d, "cgroup.procs", str(pid), what=f"joining pid {pid}")
            if self.unified is not None:
                self._best_effort_unified(lambda: self.unified.add_pid(pid))

    # --- resources -------------------------------------------------------------------
    def _dir_of(self, controller: str, what: str) -> str:
        d = self.dirs.get(controller)
        if d is None:
            raise Unavailable(f"{what}: the {controller} cgroup controller is not mounted "
                              "on this host")
        return d

    def set(self, resources: Mapping[str, Any] | None) -> None:
        """Apply ``linux.resources`` (also used for ``update``).

        Everything is checked first (values, mounted controllers, files present), so
        a request this host cannot honour fails before anything is written.
        """
        from .resources import parse_rules, validate

        resources = dict(resources or {})
        validate(resources)
        hugepages = resources.pop("hugepageLimits", None) or []
        if hugepages and "hugetlb" not in self.dirs:
            if self.unified is None:  # no hugetlb anywhere
                self._dir_of("hugetlb", f"{_R}.hugepageLimits")
        elif hugepages:
            resources["hugepageLimits"] = hugepages
            hugepages = []
        memsw = None
        if "memory" in self.dirs:
            memsw = cgfs.read_int(self.dirs["memory"], "memory.memsw.limit_in_bytes")
            if memsw is not None and memsw >= 0x7FFFFFFFFFFFF000:
                memsw = -1
        planned = []
        for name, value in v1_writes(resources, memsw):
            d = self._dir_of(name.split(".", 1)[0], f"{_R} ({name} = {value})")
            if not cgfs.exists(d, name):
                raise Unavailable(f"{_R}: cannot set {name} = {value}: this kernel has no "
                                  f"{os.path.join(d, name)}")
            planned.append((d, name, value))
        rules = None
        if resources.get("devices") is not None:
            rules = parse_rules(resources["devices"])
            devices_dir = self._dir_of("devices", f"{_R}.devices")
        if hugepages:
            # This kernel keeps hugetlb on the cgroup2 side of a hybrid host.
            self.unified.set({"hugepageLimits": hugepages})
        for d, name, value in planned:
            if name == "memory.use_hierarchy" and cgfs.read(d, name) == value:
                continue  # always 1 on modern kernels; writing it can fail needlessly
            cgfs.write(d, name, value, what=f"{_R} ({name})")
        if rules is not None:
            apply_device_rules(devices_dir, rules)

    # --- freezer ---------------------------------------------------------------------
    def _set_freezer(self, state: str, timeout: float) -> None:
        d = self._dir_of("freezer", "freeze")
        deadline = time.monotonic() + timeout
        delay = 0.001
        while True:
            cgfs.write(d, "freezer.state", state)
            if cgfs.read(d, "freezer.state") == state:
                return
            if time.monotonic() > deadline:
                if state == "FROZEN":
                    cgfs.write(d, "freezer.state", "THAWED")
                raise SystemError_(f"cgroup {d} did not reach {state} in {timeout}s")
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def freeze(self, timeout: float = 10.0) -> None:
        if "freezer" not in self.dirs and self.unified is not None:
            self.unified.freeze(timeout)  # hybrid without a v1 freezer: cgroup.freeze
            return
        self._set_freezer("FROZEN", timeout)

    def thaw(self, timeout: float = 10.0) -> None:
        """Thaw; a cgroup that is already gone has nothing left to thaw."""
        if "freezer" not in self.dirs and self.unified is not None:
            self.unified.thaw(timeout)
            return
        if "freezer" in self.dirs and not os.path.isdir(self.dirs["freezer"]):
            return
        self._set_freezer("THAWED", timeout)

    # --- reading -------------------------------------------------------------------
    def pids(self) -> list[int]:
        for controller in ("pids", "freezer", "devices", "memory", "cpu"):
            d = self.dirs.get(controller)
            if d:
                try:
                    return [int(x) for x in cgfs.read(d, "cgroup.procs").split()]
                except FileNotFoundError:
                    return []
        d = self._unique_dirs()[0]
        try:
            return [int(x) for x in cgfs.read(d, "cgroup.procs").split()]
        except FileNotFoundError:
            return []

    def stats(self) -> CgroupStats:
        from .stats import read_v1

        return read_v1(self.dirs)

    # --- removal -------------------------------------------------------------------
    def destroy(self, timeout: float = 5.0) -> None:
        """rmdir every leaf (retrying while tasks exit), then the empty parents we made."""
        errors = []
        leaves = self._unique_dirs()
        for d in leaves:
            try:
                remove_dir(d, timeout)
            except Exception as err:  # keep going: remove what can be removed
                errors.append(err)
        if not errors:
            cgfs.remove_empty((set(self.created) | set(self.shared)) - set(leaves))
        self.created = [c for c in self.created if os.path.isdir(c)]
        if self.unified is not None:
            try:
                self.unified.destroy(timeout)
            except Exception as err:
                errors.append(err)
        if errors:
            raise errors[0]


def _fill_cpuset(leaf: str) -> None:
    """Give empty v1 cpuset dirs on the way to ``leaf`` their parent's cpus and mems.

    A new v1 cpuset cgroup starts with empty ``cpuset.cpus``/``cpuset.mems``, and
    joining it then fails with ENOSPC; a parent made by someone else may be empty too.
    """
    chain = []
    d = leaf
    while True:
        try:
            if cgfs.read(d, "cpuset.cpus") and cgfs.read(d, "cpuset.mems"):
                break
        except FileNotFoundError:
            return  # not a cpuset dir with the usual names (noprefix mount): leave it
        chain.append(d)
        parent = posixpath.dirname(d)
        if parent == d or not os.path.exists(os.path.join(parent, "cpuset.cpus")):
            return
        d = parent
    for directory in reversed(chain):
        parent = posixpath.dirname(directory)
        for name in ("cpuset.cpus", "cpuset.mems"):
            if not cgfs.read(directory, name):
                cgfs.write(directory, name, cgfs.read(parent, name),
                           what=f"inheriting {name}")


# --- the devices controller ---------------------------------------------------


def rule_lines(rules: Sequence[DeviceRule]) -> list[tuple[str, str]]:
    """The (file, line) writes for ``rules``, starting with the deny-all.

    The configured rules go right after the deny-all, in the spec's order, with no
    defaults mixed in: the runtime's core passes the full list it wants (the OCI
    validation suite reads devices.list expecting exactly that order).
    """
    writes = [("devices.deny", "a")]
    for rule in rules:
        writes.append(("devices.allow" if rule.allow else "devices.deny", rule.v1_line()))
    return writes


def apply_device_rules(directory: str, rules: Sequence[DeviceRule]) -> None:
    """Write the rules, one write(2) per rule on two open files (start-up-cheap:
    the kernel parses one rule per write; the open/close need not repeat)."""
    fds: dict[str, int] = {}
    try:
        for name, line in rule_lines(rules):
            if name not in fds:
                path = os.path.join(directory, name)
                try:
                    fds[name] = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
                except OSError:
                    # let the common writer produce its error (missing file, ...)
                    cgfs.write(directory, name, line, what=f"linux.resources.devices ({line})")
                    raise
            try:
                os.write(fds[name], line.encode())
            except OSError as err:
                msg = (f"linux.resources.devices ({line}): writing to "
                       f"{os.path.join(directory, name)}: [Errno {err.errno}] {err.strerror}")
                if err.errno in (22, 1):  # EINVAL, EPERM: the rule itself is refused
                    raise InvalidArgument(msg) from err
                raise SystemError_(msg) from err
    finally:
        for fd in fds.values():
            os.close(fd)
