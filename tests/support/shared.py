"""Find the steering repo's ``shared/`` folder (official specs and profiles).

It sits beside the project's clone (``../shared``) for developers and in CI alike;
``DOCKYARD_SHARED`` overrides. Tests that need a spec file fail loudly when it is
missing rather than skipping: CI always has it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parents[2]


def locate_shared() -> Path:
    """Where shared/ is (or, when it is nowhere, where it should be: reads then fail)."""
    candidates = [os.environ.get("DOCKYARD_SHARED", ""), str(_REPO.parent / "shared"),
                  "/work/shared"]
    for c in candidates:
        if c and (Path(c) / "specs").is_dir():
            return Path(c)
    return _REPO.parent / "shared"


SPECS = locate_shared() / "specs"


def shared_dir() -> Path:
    found = locate_shared()
    if (found / "specs").is_dir():
        return found
    pytest.fail("the shared/ folder with the official specs was not found beside the "
                f"repository ({_REPO.parent / 'shared'}); set DOCKYARD_SHARED", pytrace=False)


def shared_json(relative: str) -> dict:
    with open(shared_dir() / relative) as f:
        return json.load(f)


def docker_default_seccomp_profile() -> dict:
    """Docker's default seccomp profile (moby/profiles seccomp/default.json)."""
    override = os.environ.get("DOCKYARD_SECCOMP_DEFAULT")
    if override:
        with open(override) as f:
            return json.load(f)
    return shared_json("specs/seccomp/default.json")
