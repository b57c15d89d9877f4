"""AppArmor profiles and SELinux labels (``process.apparmorProfile``,
``process.selinuxLabel``, ``linux.mountLabel``).

Both LSMs take the label for the next program through /proc/self/attr: the
runtime writes it just before execve, and the kernel switches at exec. Asking for
one on a host where that LSM is off is a spec error found at ``create``
(``validate``), like runc; silently running unconfined would be worse.
"""

from __future__ import annotations

import os

from dockyard.errors import InvalidArgument, SystemError_

__all__ = [
    "apparmor_enabled",
    "apply_exec_labels",
    "selinux_enabled",
    "validate",
]

_APPARMOR_ENABLED = "/sys/module/apparmor/parameters/enabled"
_APPARMOR_EXEC = "/proc/self/attr/apparmor/exec"  # Linux >= 5.1, beside other LSMs
_LEGACY_EXEC = "/proc/self/attr/exec"
_SELINUX_FS = ("/sys/fs/selinux", "/selinux")


def apparmor_enabled() -> bool:
    try:
        with open(_APPARMOR_ENABLED) as f:
            if not f.read().startswith("Y"):
                return False
    except OSError:
        return False
    return os.path.exists(_APPARMOR_EXEC) or os.path.exists(_LEGACY_EXEC)


def selinux_enabled() -> bool:
    return any(os.path.exists(os.path.join(mnt, "enforce")) for mnt in _SELINUX_FS)


def _check_label(label: object, where: str) -> str:
    if not isinstance(label, str):
        raise InvalidArgument(f"{where}: must be a string")
    if label.count(":") < 2:
        raise InvalidArgument(f"{where}: {label!r} is not an SELinux label "
                              "(user:role:type[:level])")
    return label


def validate(process: dict | None, linux: dict | None) -> None:
    """Spec errors for labels: asked for where the LSM is absent, or malformed."""
    process = process or {}
    linux = linux or {}
    profile = process.get("apparmorProfile")
    if profile:
        if not isinstance(profile, str) or "\n" in profile:
            raise InvalidArgument("process.apparmorProfile: must be a one-line string")
        if not apparmor_enabled():
            raise InvalidArgument(f"process.apparmorProfile: {profile!r} was asked for but "
                                  "AppArmor is not enabled on this host")
    for where, label in (("process.selinuxLabel", process.get("selinuxLabel")),
                         ("linux.mountLabel", linux.get("mountLabel"))):
        if label:
            _check_label(label, where)
            if not selinux_enabled():
                raise InvalidArgument(f"{where}: {label!r} was asked for but SELinux is not "
                                      "enabled on this host")


def _write(path: str, data: str, what: str) -> None:
    try:
        with open(path, "w") as f:
            f.write(data)
    except OSError as e:
        raise SystemError_(f"setting the {what} for exec ({path}): {e.strerror}") from e


def apply_exec_labels(apparmor_profile: str | None, selinux_label: str | None) -> None:
    """Write the exec-time AppArmor profile and SELinux label (needs /proc mounted)."""
    if apparmor_profile:
        path = _APPARMOR_EXEC if os.path.exists(_APPARMOR_EXEC) else _LEGACY_EXEC
        _write(path, f"exec {apparmor_profile}", f"AppArmor profile {apparmor_profile!r}")
    if selinux_label:
        _write(_LEGACY_EXEC, selinux_label, f"SELinux label {selinux_label!r}")
