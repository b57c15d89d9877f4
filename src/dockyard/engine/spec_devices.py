"""Devices of a container: docker's default cgroup rules, ``--device``,
``--device-cgroup-rule`` and ``--privileged`` (every host device, all access).

A host device is described by ``lstat``: its type (c, b), major:minor, permission bits,
owner. A ``--device`` path that is a symlink is resolved first; a directory adds every
device below it (the container path keeps the relative part). ``--privileged`` walks
/dev the way runc's HostDevices does: sub-directories except pts, shm, fd, mqueue and
the LXC/udev private ones, no /dev/console, no fifos, no symlinks.
"""

from __future__ import annotations

import os
import re
import stat

from dockyard.errors import InvalidArgument

__all__ = ["DEFAULT_DEVICE_RULES", "device_rules", "host_device", "host_devices",
           "parse_cgroup_rule"]

#: docker's default device cgroup: deny all, then null, zero, full, urandom, tty,
#: console, random... as docker lists them; /dev/net/tun (10:229) explicitly denied.
DEFAULT_DEVICE_RULES: tuple[tuple[bool, str | None, int | None, int | None], ...] = (
    (False, None, None, None),
    (True, "c", 1, 5), (True, "c", 1, 3), (True, "c", 1, 9), (True, "c", 1, 8),
    (True, "c", 5, 0), (True, "c", 5, 1),
    (False, "c", 10, 229),
)

_SKIP_DIRS = frozenset({"pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"})
_RULE = re.compile(r"^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$")


def _rule(allow: bool, kind: str | None, major: int | None, minor: int | None,
          access: str = "rwm") -> dict:
    rule: dict = {"allow": allow}
    if kind is not None:
        rule["type"] = kind
    if major is not None:
        rule["major"] = major
    if minor is not None:
        rule["minor"] = minor
    rule["access"] = access
    return rule


def default_rules() -> list[dict]:
    return [_rule(*r) for r in DEFAULT_DEVICE_RULES]


def host_device(path: str, container_path: str | None = None) -> dict | None:
    """The spec ``linux.devices`` entry for a host device node; None if not one."""
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if stat.S_ISCHR(st.st_mode):
        kind = "c"
    elif stat.S_ISBLK(st.st_mode):
        kind = "b"
    else:
        return None
    return {"path": container_path or path, "type": kind,
            "major": os.major(st.st_rdev), "minor": os.minor(st.st_rdev),
            "fileMode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid}


def host_devices(root: str = "/dev") -> list[dict]:
    """Every device under ``root`` that ``--privileged`` gives a container."""
    out: list[dict] = []
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return out
    for name in names:
        path = os.path.join(root, name)
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode):
            if name not in _SKIP_DIRS:
                out.extend(host_devices(path))
            continue
        if name == "console":
            continue
        dev = host_device(path)
        if dev is not None:
            out.append(dev)
    return out


def _devices_from_path(on_host: str, in_container: str, permissions: str
                       ) -> tuple[list[dict], list[dict]]:
    resolved = os.path.realpath(on_host) if os.path.islink(on_host) else on_host
    dev = host_device(resolved, in_container)
    if dev is not None:
        return [dev], [_rule(True, dev["type"], dev["major"], dev["minor"], permissions)]
    devs: list[dict] = []
    if os.path.isdir(resolved):
        for dirpath, _dirs, files in os.walk(resolved):
            for name in sorted(files):
                child = os.path.join(dirpath, name)
                rel = os.path.relpath(child, resolved)
                d = host_device(child, os.path.join(in_container, rel))
                if d is not None:
                    devs.append(d)
    if not devs:
        reason = "not a device node" if os.path.exists(resolved) else \
            "no such file or directory"
        raise InvalidArgument(f"error gathering device information while adding custom "
                              f'device "{on_host}": {reason}')
    return devs, [_rule(True, d["type"], d["major"], d["minor"], permissions) for d in devs]


def parse_cgroup_rule(text: str) -> dict:
    """``c 1:3 rwm`` / ``b *:* m`` -> a spec device cgroup rule (``*`` = -1)."""
    m = _RULE.match(text)
    if not m:
        raise InvalidArgument(f"invalid device cgroup rule format: '{text}'")
    kind, major, minor, access = m.groups()
    return _rule(True, kind, -1 if major == "*" else int(major),
                 -1 if minor == "*" else int(minor), access)


def device_rules(host_config: dict, *, dev_root: str = "/dev"
                 ) -> tuple[list[dict], list[dict]]:
    """(``linux.devices``, ``linux.resources.devices``) for a HostConfig."""
    devices: list[dict] = []
    mappings = host_config.get("Devices") or []
    if host_config.get("Privileged"):
        devices.extend(host_devices(dev_root))
        for m in mappings:
            on_host, in_ctr = m.get("PathOnHost", ""), m.get("PathInContainer", "")
            if on_host == in_ctr:
                continue  # already there: privileged sees all of /dev
            devs, _ = _devices_from_path(on_host, in_ctr or on_host, "rwm")
            devices.extend(devs)
        return devices, [_rule(True, None, None, None)]
    rules = default_rules()
    for m in mappings:
        on_host = m.get("PathOnHost", "")
        devs, perms = _devices_from_path(on_host, m.get("PathInContainer") or on_host,
                                         m.get("CgroupPermissions") or "rwm")
        devices.extend(devs)
        rules.extend(perms)
    for text in host_config.get("DeviceCgroupRules") or ():
        rules.append(parse_cgroup_rule(text))
    return devices, rules
