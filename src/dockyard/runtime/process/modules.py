"""Lazy access to the rootfs, cgroups and security packages.

Imported on first use only: a ``state`` or ``kill`` never pays for them, and the
init imports rootfs/security after the fork (in the child, where the time does
not add to the CLI's critical path twice).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType


def rootfs() -> ModuleType:
    from dockyard.runtime import rootfs as mod

    return mod


def cgroups() -> ModuleType:
    from dockyard.runtime import cgroups as mod

    return mod


def security() -> ModuleType:
    from dockyard.runtime import security as mod

    return mod
