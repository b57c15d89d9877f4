"""``linux.sysctl``: only namespaced keys, written under the container's /proc/sys.

A sysctl outside a namespace the container owns would change the host, so keys
are checked against the namespaces asked for, as runc does: ``net.*`` needs a
network namespace; the IPC keys (``kernel.msg*``, ``kernel.sem``, ``kernel.shm*``,
``fs.mqueue.*``) an IPC namespace; ``kernel.hostname``/``kernel.domainname`` a UTS
namespace. Anything else is refused.
"""

from __future__ import annotations

import os

from dockyard.errors import InvalidArgument

__all__ = ["apply", "key_path", "validate"]

_IPC_KEYS = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
             "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"}
_UTS_KEYS = {"kernel.hostname", "kernel.domainname"}
_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-/:+@")


def key_path(key: str) -> str:
    """``/proc/sys`` path of a key, in either ``a.b.c`` or ``a/b/c`` form.

    With slashes, dots are literal (interface names such as ``eth0.100``).
    """
    parts = key.split("/") if "/" in key else key.split(".")
    if not key or not _KEY_CHARS.issuperset(key) or any(p in ("", ".", "..") for p in parts):
        raise InvalidArgument(f"linux.sysctl: {key!r} is not a valid sysctl name")
    return "/proc/sys/" + "/".join(parts)


def _dotted(key: str) -> str:
    return key.replace("/", ".") if "/" in key else key


def validate(sysctl: object, namespaces: frozenset[str]) -> None:
    """InvalidArgument for a key the container's namespaces do not isolate."""
    if not isinstance(sysctl, dict):
        raise InvalidArgument("linux.sysctl: expected an object of strings")
    for key, value in sysctl.items():
        if not isinstance(value, str):
            raise InvalidArgument(f"linux.sysctl.{key}: value must be a string")
        key_path(key)
        dotted = _dotted(key)
        if dotted in _IPC_KEYS or dotted.startswith("fs.mqueue."):
            need = "ipc"
        elif dotted.startswith("net."):
            need = "network"
        elif dotted in _UTS_KEYS:
            need = "uts"
        else:
            raise InvalidArgument(f"linux.sysctl.{key}: not in a separate kernel "
                                  "namespace, so it cannot be set for a container")
        if need not in namespaces:
            raise InvalidArgument(f"linux.sysctl.{key}: needs a {need} namespace, and "
                                  "the container shares the host's")


def apply(sysctl: dict[str, str], proc_sys: str = "/proc/sys") -> None:
    """Write each value; run after pivot_root, with the container's /proc mounted."""
    for key, value in sysctl.items():
        path = proc_sys + key_path(key)[len("/proc/sys"):]
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            raise OSError(exc.errno, f"sysctl {key}: open {path}: {exc.strerror}") from None
        try:
            os.write(fd, value.encode())
        except OSError as exc:
            raise OSError(exc.errno, f"sysctl {key}={value!r}: {exc.strerror}") from None
        finally:
            os.close(fd)
