"""The builder room's public face is pinned; it loads lazily."""

from __future__ import annotations

import subprocess
import sys

import dockyard.build as build


def test_public_names() -> None:
    assert build.__all__ == sorted([
        "BuildContext", "BuildOptions", "BuildPlan", "BuildResult", "Builder",
        "DockerIgnore", "DockerfileError", "Stage", "Step", "StepFailed", "instructions",
        "parse_dockerfile", "read_dockerignore", "walk_context"])
    for name in build.__all__:
        assert getattr(build, name) is not None


def test_dockerfile_error_is_invalid_argument() -> None:
    from dockyard.errors import InvalidArgument

    assert issubclass(build.DockerfileError, InvalidArgument)
    assert build.DockerfileError("x").status == 400


def test_import_is_lazy() -> None:
    code = ("import sys, dockyard.build; "
            "print(any(m.startswith('dockyard.build.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"


def test_runtime_and_cli_main_do_not_import_build() -> None:
    code = ("import sys, dockyard.runtime, dockyard.cli.main; "
            "print(any(m.startswith('dockyard.build') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
