"""A light value-object base for this package's typed records.

Why not dataclasses: ``dataclasses`` pulls in ``inspect`` (and, with it,
``typing`` costs) about 13 ms of imports on every container start, a real share
of the runtime's budget. These records are few and small; a __slots__ class with
an explicit, typed __init__ gives the same safety for none of that.
"""

from __future__ import annotations

__all__ = ["Record"]


class Record:
    __slots__ = ()

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, *self._values()))

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"{type(self).__name__}({fields})"
