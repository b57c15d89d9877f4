"""Reading the three ways a Docker create body asks for mounts, with dockerd's errors.

* ``HostConfig.Binds``: ``src:dst[:mode]`` (``-v``). An absolute ``src`` is a bind,
  anything else a named volume, a lone ``dst`` an anonymous volume. ``mode`` is a
  comma list of at most one of each: ``rw|ro``, ``z|Z``, a propagation, ``nocopy``,
  a consistency (``consistent|cached|delegated``, accepted and ignored on Linux).
* ``HostConfig.Mounts``: ``{Type, Source, Target, ReadOnly, BindOptions,
  VolumeOptions, TmpfsOptions}`` (``--mount``).
* ``HostConfig.Tmpfs``: ``{"/dst": "size=1m,mode=1777"}`` (``--tmpfs``).

Nothing here touches the disk except the existence check of a ``Mounts`` bind
source (dockerd refuses a missing one there, while ``Binds`` creates it).
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field
from typing import Any

from dockyard.errors import InvalidArgument

PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")
_MODE_GROUPS = (("rw", "ro"), ("z", "Z"), PROPAGATIONS, ("nocopy",),
                ("consistent", "cached", "delegated"))
DEFAULT_BIND_PROPAGATION = "rprivate"


@dataclass(frozen=True)
class MountRequest:
    """One asked-for mount, validated, before any volume exists."""

    type: str                      # bind | volume | tmpfs
    source: str                    # host path, volume name ("" anonymous), "" tmpfs
    target: str                    # clean absolute container path
    origin: str                    # binds | mounts | tmpfs | volumes
    read_only: bool = False
    mode: str = ""                 # the Binds mode text (inspect shows it)
    propagation: str = ""
    nocopy: bool = False
    recursive: bool = True
    labels: dict[str, str] | None = None
    driver: str = ""
    driver_opts: dict[str, str] | None = None
    tmpfs_options: tuple[str, ...] = field(default=())


def invalid_spec(raw: str) -> str:
    return f"invalid volume specification: '{raw}'"


def _mount_config_error(kind: str, why: str) -> InvalidArgument:
    return InvalidArgument(f'invalid mount config for type "{kind}": {why}')


def valid_mode(mode: str) -> bool:
    if mode == "":
        return True
    seen: set[int] = set()
    for item in mode.split(","):
        for i, group in enumerate(_MODE_GROUPS):
            if item in group:
                if i in seen:
                    return False
                seen.add(i)
                break
        else:
            return False
    return True


def _check_target(kind: str, target: str) -> str:
    if not target:
        raise _mount_config_error(kind, "field Target must not be empty")
    if not target.startswith("/"):
        raise _mount_config_error(kind, f"invalid mount path: '{target}' mount path must be "
                                        "absolute")
    clean = posixpath.normpath(target)
    if clean.startswith("//"):
        clean = "/" + clean.lstrip("/")
    if clean == "/":
        raise _mount_config_error(kind, "invalid specification: destination can't be '/'")
    return clean


def parse_bind(raw: str) -> MountRequest:
    """One ``HostConfig.Binds`` entry."""
    if not isinstance(raw, str):
        raise InvalidArgument("Binds entries must be strings")
    arr = raw.split(":", 3)
    if not arr[0] or len(arr) > 3:
        raise InvalidArgument(invalid_spec(raw))
    mode = ""
    if len(arr) == 1:
        source, target = "", arr[0]
    elif len(arr) == 2:
        if valid_mode(arr[1]):
            raise InvalidArgument(invalid_spec(raw))   # "/foo:rw" names no volume
        source, target = arr
    else:
        source, target, mode = arr
    if not valid_mode(mode):
        raise InvalidArgument(f"invalid mode: {mode}")
    items = mode.split(",") if mode else []
    kind = "bind" if source.startswith("/") else "volume"
    try:
        clean = _check_target(kind, target)
    except InvalidArgument as e:
        raise InvalidArgument(f"{invalid_spec(raw)}: {e.message}") from None
    propagation = next((m for m in items if m in PROPAGATIONS), "")
    if kind == "volume" and propagation:
        why = _mount_config_error(kind, "field BindOptions must not be specified").message
        raise InvalidArgument(f"{invalid_spec(raw)}: {why}")
    if kind == "bind":
        source = posixpath.normpath(source)
        propagation = propagation or DEFAULT_BIND_PROPAGATION
    return MountRequest(type=kind, source=source, target=clean, origin="binds",
                        read_only="ro" in items, mode=mode, propagation=propagation,
                        nocopy="nocopy" in items)


def _obj(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgument(f"{what} must be a JSON object")
    return value


def _str_map(value: Any, what: str) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise InvalidArgument(f"{what} must be an object of strings")
    return dict(value)


def tmpfs_size_option(size: int) -> str:
    """dockerd's rendering: the largest of g/m/k that divides the byte count."""
    for suffix, div in (("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)):
        if size % div == 0:
            return f"size={size // div}{suffix}"
    return f"size={size}"


def parse_mount(m: Any) -> MountRequest:
    """One ``HostConfig.Mounts`` entry."""
    if not isinstance(m, dict):
        raise InvalidArgument("Mounts entries must be JSON objects")
    kind = m.get("Type") or ""
    source = m.get("Source") or ""
    target = m.get("Target") or ""
    if not all(isinstance(v, str) for v in (kind, source, target)):
        raise InvalidArgument("mount Type, Source and Target must be strings")
    read_only = bool(m.get("ReadOnly"))
    bind_opts, vol_opts, tmpfs_opts = (m.get("BindOptions"), m.get("VolumeOptions"),
                                       m.get("TmpfsOptions"))
    clean = _check_target(kind, target)
    if kind == "bind":
        if not source:
            raise _mount_config_error(kind, "field Source must not be empty")
        if vol_opts is not None:
            raise _mount_config_error(kind, "field VolumeOptions must not be specified")
        if tmpfs_opts is not None:
            raise _mount_config_error(kind, "field TmpfsOptions must not be specified")
        if not source.startswith("/"):
            raise _mount_config_error(kind, f"invalid mount path: '{source}' mount path "
                                            "must be absolute")
        b = _obj(bind_opts, "BindOptions")
        propagation = b.get("Propagation") or DEFAULT_BIND_PROPAGATION
        if propagation not in PROPAGATIONS:
            raise _mount_config_error(kind, f"invalid propagation mode: {propagation}")
        source = posixpath.normpath(source)
        if not os.path.exists(source):
            raise _mount_config_error(kind, f"bind source path does not exist: {source}")
        return MountRequest(type="bind", source=source, target=clean, origin="mounts",
                            read_only=read_only, propagation=propagation,
                            recursive=not b.get("NonRecursive"))
    if kind == "volume":
        if bind_opts is not None:
            raise _mount_config_error(kind, "field BindOptions must not be specified")
        if tmpfs_opts is not None:
            raise _mount_config_error(kind, "field TmpfsOptions must not be specified")
        if not source and read_only:
            raise _mount_config_error(
                kind, "must not set ReadOnly mode when using anonymous volumes")
        v = _obj(vol_opts, "VolumeOptions")
        driver = _obj(v.get("DriverConfig"), "VolumeOptions.DriverConfig")
        name = driver.get("Name") or ""
        if not isinstance(name, str):
            raise InvalidArgument("VolumeOptions.DriverConfig.Name must be a string")
        return MountRequest(type="volume", source=source, target=clean, origin="mounts",
                            read_only=read_only, mode="z", nocopy=bool(v.get("NoCopy")),
                            labels=_str_map(v.get("Labels"), "VolumeOptions.Labels"),
                            driver=name,
                            driver_opts=_str_map(driver.get("Options"),
                                                 "VolumeOptions.DriverConfig.Options"))
    if kind == "tmpfs":
        if bind_opts is not None:
            raise _mount_config_error(kind, "field BindOptions must not be specified")
        if vol_opts is not None:
            raise _mount_config_error(kind, "field VolumeOptions must not be specified")
        if source:
            raise _mount_config_error(kind, "field Source must not be specified")
        t = _obj(tmpfs_opts, "TmpfsOptions")
        opts: list[str] = []
        size = t.get("SizeBytes") or 0
        mode = t.get("Mode") or 0
        if not isinstance(size, int) or size < 0:
            raise _mount_config_error(kind, f"invalid tmpfs size: {size!r}")
        if not isinstance(mode, int) or mode < 0:
            raise _mount_config_error(kind, f"invalid tmpfs mode: {mode!r}")
        if size:
            opts.append(tmpfs_size_option(size))
        if mode:
            opts.append(f"mode={mode & 0o7777:o}")
        return MountRequest(type="tmpfs", source="", target=clean, origin="mounts",
                            read_only=read_only, tmpfs_options=tuple(opts))
    raise _mount_config_error(kind, "mount type unknown")


def parse_tmpfs(target: str, options: Any) -> MountRequest:
    """One ``HostConfig.Tmpfs`` entry."""
    if not isinstance(options, str):
        raise InvalidArgument(f"Tmpfs options for {target} must be a string")
    clean = _check_target("tmpfs", target)
    opts = tuple(o for o in options.split(",") if o)
    return MountRequest(type="tmpfs", source="", target=clean, origin="tmpfs",
                        read_only="ro" in opts,
                        tmpfs_options=tuple(o for o in opts if o not in ("ro", "rw")))


def merge_tmpfs_options(user: tuple[str, ...]) -> tuple[str, ...]:
    """dockerd's tmpfs defaults (``noexec,nosuid,nodev,mode=755``) overridden by the
    user's options: ``exec`` drops ``noexec``, ``mode=1777`` replaces ``mode=755``."""
    opposite = {"exec": "noexec", "noexec": "exec", "suid": "nosuid", "nosuid": "suid",
                "dev": "nodev", "nodev": "dev"}
    out = ["noexec", "nosuid", "nodev", "mode=755"]
    for opt in user:
        key = opt.split("=", 1)[0]
        out = [o for o in out if o != opposite.get(opt) and o != opt
               and not ("=" in opt and o.split("=", 1)[0] == key)]
        out.append(opt)
    return tuple(out)


__all__ = [
    "DEFAULT_BIND_PROPAGATION",
    "PROPAGATIONS",
    "MountRequest",
    "invalid_spec",
    "merge_tmpfs_options",
    "parse_bind",
    "parse_mount",
    "parse_tmpfs",
    "valid_mode",
]
