"""The builder room's front end: Dockerfiles to a typed, expanded :class:`BuildPlan`.

``parse_dockerfile(text, filename=, build_args=, target=)`` is the entry point the
executor and the CLI call. Names load lazily (PEP 562) so importing the package
costs nothing; ``tests/unit/build/test_public_api.py`` pins the list.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "parse_dockerfile": "dockyard.build.stages",
    "BuildPlan": "dockyard.build.stages",
    "Stage": "dockyard.build.stages",
    "Step": "dockyard.build.stages",
    "DockerfileError": "dockyard.build.errors",
    "DockerIgnore": "dockyard.build.dockerignore",
    "read_dockerignore": "dockyard.build.dockerignore",
    "walk_context": "dockyard.build.dockerignore",
    "BuildContext": "dockyard.build.context",
    "instructions": "dockyard.build.instructions",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dockyard.build' has no attribute {name!r}")
    mod = importlib.import_module(module)
    value = mod if module.endswith("." + name) else getattr(mod, name)
    globals()[name] = value
    return value
