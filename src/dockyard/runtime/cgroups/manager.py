"""The :class:`CgroupManager` seam: what the runtime and the daemon may call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from .stats import CgroupStats

__all__ = ["CgroupManager"]


class CgroupManager(Protocol):
    """One container's cgroup, wherever the host's hierarchies put it.

    Lifecycle: ``create_manager`` only computes paths; ``apply(pid)`` makes the
    directories (recording which parents it made) and moves ``pid`` in; ``set``
    writes ``linux.resources`` (again for ``update``); ``freeze``/``thaw`` wait
    until the kernel reports the new state; ``destroy`` kills nothing, it removes
    the leaf directories (retrying while exiting tasks leave) and the parents it
    made that are empty. ``paths`` maps controller -> directory ("" = unified).
    """

    version: int

    @property
    def paths(self) -> dict[str, str]: ...
    def apply(self, pid: int | None) -> None: ...
    def set(self, resources: Mapping[str, Any] | None) -> None: ...
    def freeze(self, timeout: float = 10.0) -> None: ...
    def thaw(self, timeout: float = 10.0) -> None: ...
    def pids(self) -> list[int]: ...
    def stats(self) -> CgroupStats: ...
    def destroy(self, timeout: float = 5.0) -> None: ...
    def to_state(self) -> dict[str, Any]: ...


