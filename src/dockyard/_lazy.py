"""Lazy public faces for dockyard's packages (PEP 562).

Each room re-exports a short ``__all__`` (style rule 1) without importing its
modules up front: ``import dockyard.image`` must cost nothing on paths that never
touch images, and a name's module loads the first time the name is used.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: keep this module's import cost near zero
    from collections.abc import Callable, Mapping


def lazy_exports(package: str, exports: Mapping[str, str | tuple[str, str]]
                 ) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """Return ``(__getattr__, __dir__)`` for ``package`` serving ``exports``: each
    name maps to a module holding the same name, or to ``(module, attribute)``."""
    names = sorted(exports)

    def __getattr__(name: str) -> object:
        target = exports.get(name)
        if target is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, attr = target if isinstance(target, tuple) else (target, name)
        value = getattr(importlib.import_module(module), attr)
        setattr(sys.modules[package], name, value)  # later lookups skip this hook
        return value

    def __dir__() -> list[str]:
        return names

    return __getattr__, __dir__
