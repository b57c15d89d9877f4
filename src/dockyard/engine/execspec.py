"""The OCI process of an exec: the container's own process with docker's overrides.

From the bundle's ``config.json`` ``process``: env (TERM=xterm only for a tty
exec; the exec's ``Env`` overrides, a bare ``NAME`` unsets), cwd (``WorkingDir``
wins), user (``User`` resolved in the container's /etc/passwd and /etc/group,
else the container's; HOME from passwd when the env has none, runc's rule),
rlimits, no_new_privileges, LSM labels and capabilities (``Privileged``: every
capability the daemon holds).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from dockyard.errors import Conflict, DockyardError

if TYPE_CHECKING:
    from dockyard.engine.exec import ExecConfig, ExecTarget


def _all_capabilities() -> list[str]:
    """Every capability in this daemon's bounding set (what --privileged can give)."""
    from dockyard.runtime.security.capabilities import last_cap, name_of

    bounding = (1 << (last_cap() + 1)) - 1
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapBnd:"):
                bounding = int(line.split()[1], 16)
    return [name_of(n) for n in range(last_cap() + 1) if bounding >> n & 1]


def _env_dict(env: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in env:
        key = item.split("=", 1)[0]
        out[key] = item
    return out


def build_process(config: ExecConfig, target: ExecTarget,
                  console_size: tuple[int, int] | None = None) -> dict:
    """The exec's OCI process: the container's with docker's exec overrides."""
    try:
        spec = json.loads((target.bundle / "config.json").read_text())
    except (OSError, ValueError) as e:
        raise Conflict(f"Container {target.id} has no readable bundle config: {e}") from None
    base = spec.get("process") or {}
    env = _env_dict(base.get("env") or [])
    if base.get("terminal") and env.get("TERM") == "TERM=xterm":
        env.pop("TERM")        # the daemon's TERM for a tty container, not the image's
    if config.tty:
        env.setdefault("TERM", "TERM=xterm")
    for item in config.env:
        key = item.split("=", 1)[0]
        if "=" in item:
            env[key] = item
        else:
            env.pop(key, None)  # docker: a bare NAME unsets it
    process: dict[str, Any] = {
        "terminal": config.tty,
        "args": list(config.cmd),
        "cwd": config.working_dir or base.get("cwd") or "/",
    }
    if config.user:
        from dockyard.engine.execuser import resolve_in_container

        user = resolve_in_container(config.user, target.pid)
        process["user"] = user.to_oci()
        env.setdefault("HOME", f"HOME={user.home}")
    else:
        process["user"] = base.get("user") or {"uid": 0, "gid": 0}
        if "HOME" not in env:
            # runc's rule: HOME from the user's passwd entry when the env has none
            from dockyard.engine.execuser import resolve_in_container

            with contextlib.suppress(DockyardError, OSError):
                home = resolve_in_container(str(process["user"].get("uid", 0)), target.pid)
                env["HOME"] = f"HOME={home.home}"
    process["env"] = list(env.values())
    size = console_size or config.console_size
    if config.tty and size:
        process["consoleSize"] = {"height": size[0], "width": size[1]}
    for key in ("rlimits", "noNewPrivileges", "apparmorProfile", "selinuxLabel",
                "oomScoreAdj"):
        if key in base:
            process[key] = base[key]
    if config.privileged:
        caps = _all_capabilities()
        process["capabilities"] = {k: list(caps) for k in ("bounding", "effective",
                                                           "permitted")}
    elif "capabilities" in base:
        process["capabilities"] = base["capabilities"]
    return process


__all__ = ["build_process"]
