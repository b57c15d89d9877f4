"""The rootfs part of config.json, checked and turned into typed plans.

Everything that can be wrong with the spec is found here, before anything is
mounted, so ``create`` can fail early (the core may call :func:`parse` in the
parent) and the init process never stops half way because of bad input. Messages
name the JSON path (``mounts[3].options[1]``).
"""

from __future__ import annotations

import posixpath

from dockyard.errors import InvalidArgument
from dockyard.runtime import syscalls as sc
from dockyard.runtime.rootfs import sysctl
from dockyard.runtime.rootfs._record import Record

__all__ = ["DeviceSpec", "MountSpec", "RootfsPlan", "parse", "parse_mount_options"]

# option -> (clear?, flag); applied in order, so "ro,rw" ends up rw (as mount(8)).
_FLAG_OPTIONS: dict[str, tuple[bool, int]] = {
    "defaults": (False, 0),
    "ro": (False, sc.MS_RDONLY), "rw": (True, sc.MS_RDONLY),
    "nosuid": (False, sc.MS_NOSUID), "suid": (True, sc.MS_NOSUID),
    "nodev": (False, sc.MS_NODEV), "dev": (True, sc.MS_NODEV),
    "noexec": (False, sc.MS_NOEXEC), "exec": (True, sc.MS_NOEXEC),
    "sync": (False, sc.MS_SYNCHRONOUS), "async": (True, sc.MS_SYNCHRONOUS),
    "dirsync": (False, sc.MS_DIRSYNC),
    "remount": (False, sc.MS_REMOUNT),
    "mand": (False, sc.MS_MANDLOCK), "nomand": (True, sc.MS_MANDLOCK),
    "noatime": (False, sc.MS_NOATIME), "atime": (True, sc.MS_NOATIME),
    "nodiratime": (False, sc.MS_NODIRATIME), "diratime": (True, sc.MS_NODIRATIME),
    "relatime": (False, sc.MS_RELATIME), "norelatime": (True, sc.MS_RELATIME),
    "strictatime": (False, sc.MS_STRICTATIME), "nostrictatime": (True, sc.MS_STRICTATIME),
    "lazytime": (False, sc.MS_LAZYTIME), "nolazytime": (True, sc.MS_LAZYTIME),
    "iversion": (False, sc.MS_I_VERSION), "noiversion": (True, sc.MS_I_VERSION),
    "nosymfollow": (False, sc.MS_NOSYMFOLLOW), "symfollow": (True, sc.MS_NOSYMFOLLOW),
    "silent": (False, sc.MS_SILENT), "loud": (True, sc.MS_SILENT),
}

PROPAGATION: dict[str, int] = {
    "private": sc.MS_PRIVATE, "rprivate": sc.MS_PRIVATE | sc.MS_REC,
    "shared": sc.MS_SHARED, "rshared": sc.MS_SHARED | sc.MS_REC,
    "slave": sc.MS_SLAVE, "rslave": sc.MS_SLAVE | sc.MS_REC,
    "unbindable": sc.MS_UNBINDABLE, "runbindable": sc.MS_UNBINDABLE | sc.MS_REC,
}

# Options we know but refuse: say so instead of passing them to the kernel as data.
_UNSUPPORTED = {
    "idmap": "id-mapped mounts are not supported by dockyard-runtime",
    "ridmap": "id-mapped mounts are not supported by dockyard-runtime",
}
_RECURSIVE_ATTRS = {"rro", "rrw", "rnosuid", "rsuid", "rnodev", "rdev", "rnoexec", "rexec",
                    "rnodiratime", "rdiratime", "rrelatime", "rnorelatime", "rnoatime",
                    "ratime", "rstrictatime", "rnostrictatime", "rnosymfollow",
                    "rsymfollow"}

# Flags that a bind mount only takes through a second, remount call.
BIND_REMOUNT_FLAGS = (sc.MS_RDONLY | sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC |
                      sc.MS_NOATIME | sc.MS_NODIRATIME | sc.MS_RELATIME |
                      sc.MS_STRICTATIME | sc.MS_NOSYMFOLLOW)

# Files under /proc a mount may cover (lxcfs-style), as runc allows; /proc itself
# only takes a proc mount.
_PROC_ALLOWED = {"/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat",
                 "/proc/swaps", "/proc/uptime", "/proc/loadavg", "/proc/slabinfo",
                 "/proc/net/dev", "/proc/sys/kernel/ns_last_pid"}

DEVICE_TYPES = {"c", "b", "u", "p"}


class MountSpec(Record):
    """One ``mounts[]`` entry, ready to perform."""

    __slots__ = (  # noqa: RUF023 (the positional order)
        "index", "destination", "type", "source", "flags", "propagation", "data", "bind",
        "recursive", "copy_up")
    _defaults = {"flags": 0, "propagation": (), "data": "", "bind": False,
                 "recursive": False, "copy_up": False}
    index: int
    destination: str            # absolute, normalised, inside the container
    type: str                   # fs type; "bind" for bind mounts
    source: str
    flags: int                  # MS_* for the mount (or the bind remount)
    propagation: tuple[int, ...]
    data: str                   # filesystem options (mode=755,size=64k)
    bind: bool
    recursive: bool             # rbind
    copy_up: bool               # tmpcopyup: seed a tmpfs with what it covers

    @property
    def label(self) -> str:
        return f"mounts[{self.index}] ({self.type} on {self.destination})"


class DeviceSpec(Record):
    __slots__ = (  # noqa: RUF023 (the positional order)
        "path", "type", "major", "minor", "mode", "uid", "gid")
    _defaults = {"major": 0, "minor": 0, "mode": 0o666, "uid": 0, "gid": 0}
    path: str
    type: str                   # c, b, u (unbuffered char), p (fifo)
    major: int
    minor: int
    mode: int                   # permission bits only
    uid: int
    gid: int


class RootfsPlan(Record):
    """What :func:`dockyard.runtime.rootfs.setup` does, decided from the spec."""

    __slots__ = (  # noqa: RUF023 (the positional order)
        "mounts", "devices", "namespaces", "new_namespaces", "root_propagation",
        "readonly_root", "masked_paths", "readonly_paths", "sysctl", "cwd")

    mounts: tuple[MountSpec, ...]
    devices: tuple[DeviceSpec, ...]          # linux.devices (defaults added later)
    namespaces: frozenset[str]               # types asked for (new or joined)
    new_namespaces: frozenset[str]           # types asked for without a path
    root_propagation: int | None             # None: runc's default (rslave)
    readonly_root: bool
    masked_paths: tuple[str, ...]
    readonly_paths: tuple[str, ...]
    sysctl: dict[str, str]
    cwd: str                                 # process.cwd, made to exist after pivot

    @property
    def dev_is_bound(self) -> bool:
        """/dev is bind-mounted from elsewhere: leave its contents alone (runc)."""
        return any(m.bind and m.destination == "/dev" for m in self.mounts)


def parse_mount_options(options: list[str], where: str) -> tuple[int, tuple[int, ...], str,
                                                                  bool, bool, bool]:
    """(flags, propagation, data, bind, recursive, copy_up) from a mount's options."""
    flags = 0
    prop: list[int] = []
    data: list[str] = []
    bind = recursive = copy_up = False
    for i, opt in enumerate(options):
        if not isinstance(opt, str):
            raise InvalidArgument(f"{where}.options[{i}]: expected a string, got {opt!r}")
        if opt in _FLAG_OPTIONS:
            clear, flag = _FLAG_OPTIONS[opt]
            flags = flags & ~flag if clear else flags | flag
        elif opt in PROPAGATION:
            prop.append(PROPAGATION[opt])
        elif opt in ("bind", "rbind"):
            bind = True
            recursive = recursive or opt == "rbind"
        elif opt == "tmpcopyup":
            copy_up = True
        elif opt in _UNSUPPORTED:
            raise InvalidArgument(f"{where}.options[{i}]: {opt!r}: {_UNSUPPORTED[opt]}")
        elif opt in _RECURSIVE_ATTRS:
            raise InvalidArgument(f"{where}.options[{i}]: recursive mount attribute {opt!r} "
                                  "is not supported by dockyard-runtime")
        elif opt:
            data.append(opt)
    return flags, tuple(prop), ",".join(data), bind, recursive, copy_up


def _check_destination(dest: str, mtype: str, where: str) -> str:
    if not isinstance(dest, str) or not dest:
        raise InvalidArgument(f"{where}.destination: required")
    if not dest.startswith("/"):
        raise InvalidArgument(f"{where}.destination: {dest!r} is not an absolute path")
    norm = posixpath.normpath(dest)
    if norm.startswith("//"):
        norm = "/" + norm.lstrip("/")
    if norm == "/":
        raise InvalidArgument(f"{where}.destination: cannot mount over the root itself")
    if norm == "/proc" and mtype != "proc":
        raise InvalidArgument(f"{where}.destination: only a proc filesystem may be "
                              f"mounted on /proc, not {mtype!r}")
    if norm.startswith("/proc/") and norm not in _PROC_ALLOWED:
        raise InvalidArgument(f"{where}.destination: {dest!r} is inside /proc; "
                              "mounting there is not allowed")
    return norm


# Filesystems that take SELinux's context= option (runc labels all but these).
_NO_LABEL_TYPES = {"bind", "proc", "sysfs", "cgroup", "cgroup2"}


def _parse_mount(index: int, raw: object, mount_label: str = "") -> MountSpec:
    where = f"mounts[{index}]"
    if not isinstance(raw, dict):
        raise InvalidArgument(f"{where}: expected an object")
    options = raw.get("options") or []
    if not isinstance(options, list):
        raise InvalidArgument(f"{where}.options: expected an array of strings")
    flags, prop, data, bind, recursive, copy_up = parse_mount_options(options, where)
    mtype = raw.get("type") or ""
    if not isinstance(mtype, str):
        raise InvalidArgument(f"{where}.type: expected a string")
    if mtype == "bind":
        bind = True
    elif bind and mtype in ("", "none"):
        mtype = "bind"
    elif bind:
        # runc binds whatever the type says when "bind" is in the options.
        mtype = "bind"
    if not mtype:
        raise InvalidArgument(f"{where}.type: required unless the options say bind/rbind")
    if raw.get("uidMappings") or raw.get("gidMappings"):
        raise InvalidArgument(f"{where}: id-mapped mounts (uidMappings/gidMappings) are "
                              "not supported by dockyard-runtime")
    source = raw.get("source") or ""
    if not isinstance(source, str):
        raise InvalidArgument(f"{where}.source: expected a string")
    if bind and not source:
        raise InvalidArgument(f"{where}.source: a bind mount needs a source")
    if bind:
        data = ""  # mount(2) ignores data for MS_BIND; runc passes it and the OCI suite
        #            gives binds mode=/size= options, so accept and drop them
    if copy_up and mtype != "tmpfs":
        raise InvalidArgument(f"{where}.options: tmpcopyup only applies to tmpfs")
    dest = _check_destination(raw.get("destination"), mtype, where)
    if mount_label and not bind and mtype not in _NO_LABEL_TYPES:
        data = ",".join(filter(None, [data, f'context="{mount_label}"']))
    return MountSpec(index=index, destination=dest, type=mtype, source=source or mtype,
                     flags=flags, propagation=prop, data=data, bind=bind,
                     recursive=recursive, copy_up=copy_up)


def _int_field(raw: dict, key: str, where: str, default: int, lo: int = 0,
               hi: int = 2**32 - 1) -> int:
    value = raw.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise InvalidArgument(f"{where}.{key}: expected an integer in [{lo}, {hi}], "
                              f"got {value!r}")
    return value


def _parse_device(index: int, raw: object) -> DeviceSpec:
    where = f"linux.devices[{index}]"
    if not isinstance(raw, dict):
        raise InvalidArgument(f"{where}: expected an object")
    path = raw.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        raise InvalidArgument(f"{where}.path: {path!r} is not an absolute path")
    norm = posixpath.normpath(path)
    if norm in ("/", "/dev") or ".." in path.split("/"):
        raise InvalidArgument(f"{where}.path: {path!r} cannot be a device node")
    dtype = raw.get("type")
    if dtype not in DEVICE_TYPES:
        raise InvalidArgument(f"{where}.type: {dtype!r} is not one of c, b, u, p")
    if dtype != "p" and ("major" not in raw or "minor" not in raw):
        raise InvalidArgument(f"{where}: major and minor are required for type {dtype!r}")
    return DeviceSpec(
        path=norm, type=dtype,
        major=_int_field(raw, "major", where, 0, hi=2**32 - 1),
        minor=_int_field(raw, "minor", where, 0, hi=2**32 - 1),
        mode=_int_field(raw, "fileMode", where, 0o666, hi=0o177777) & 0o7777,
        uid=_int_field(raw, "uid", where, 0),
        gid=_int_field(raw, "gid", where, 0),
    )


def _str_list(raw: object, where: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(p, str) for p in raw):
        raise InvalidArgument(f"{where}: expected an array of strings")
    for i, p in enumerate(raw):
        if not p.startswith("/"):
            raise InvalidArgument(f"{where}[{i}]: {p!r} is not an absolute path")
    return tuple(raw)


def parse(spec: dict) -> RootfsPlan:
    """Check the rootfs-related parts of ``spec``; InvalidArgument names the JSON path."""
    if not isinstance(spec, dict):
        raise InvalidArgument("config: expected an object")
    linux = spec.get("linux") or {}
    if not isinstance(linux, dict):
        raise InvalidArgument("linux: expected an object")
    raw_mounts = spec.get("mounts") or []
    if not isinstance(raw_mounts, list):
        raise InvalidArgument("mounts: expected an array")
    mount_label = linux.get("mountLabel") or ""
    # MCS labels carry commas (s0:c1,c2): fine inside context="...", a quote is not.
    if not isinstance(mount_label, str) or '"' in mount_label:
        raise InvalidArgument(f"linux.mountLabel: {mount_label!r} is not a valid label")
    mounts = tuple(_parse_mount(i, m, mount_label) for i, m in enumerate(raw_mounts))
    raw_devices = linux.get("devices") or []
    if not isinstance(raw_devices, list):
        raise InvalidArgument("linux.devices: expected an array")
    devices = tuple(_parse_device(i, d) for i, d in enumerate(raw_devices))

    namespaces: set[str] = set()
    new_namespaces: set[str] = set()
    for i, ns in enumerate(linux.get("namespaces") or []):
        if not isinstance(ns, dict) or not isinstance(ns.get("type"), str):
            raise InvalidArgument(f"linux.namespaces[{i}]: expected an object with a type")
        namespaces.add(ns["type"])
        if not ns.get("path"):
            new_namespaces.add(ns["type"])

    prop_name = linux.get("rootfsPropagation") or ""
    if prop_name and prop_name not in PROPAGATION:
        raise InvalidArgument(f"linux.rootfsPropagation: {prop_name!r} is not one of "
                              f"{', '.join(sorted(PROPAGATION))}")
    root = spec.get("root") or {}
    if not isinstance(root, dict):
        raise InvalidArgument("root: expected an object")
    sysctls = linux.get("sysctl") or {}
    sysctl.validate(sysctls, frozenset(namespaces))
    return RootfsPlan(
        mounts=mounts,
        devices=devices,
        namespaces=frozenset(namespaces),
        new_namespaces=frozenset(new_namespaces),
        root_propagation=PROPAGATION[prop_name] if prop_name else None,
        readonly_root=bool(root.get("readonly", False)),
        masked_paths=_str_list(linux.get("maskedPaths"), "linux.maskedPaths"),
        readonly_paths=_str_list(linux.get("readonlyPaths"), "linux.readonlyPaths"),
        sysctl=dict(sysctls),
        cwd=_cwd(spec),
    )


def _cwd(spec: dict) -> str:
    process = spec.get("process") or {}
    cwd = process.get("cwd", "/") if isinstance(process, dict) else "/"
    if not isinstance(cwd, str) or not cwd.startswith("/"):
        raise InvalidArgument(f"process.cwd: {cwd!r} is not an absolute path")
    return cwd
