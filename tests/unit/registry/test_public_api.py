"""The registry room's public face is deliberate, and cheap to import."""

from __future__ import annotations

import subprocess
import sys

import dockyard.registry as registry

EXPECTED = ["Credential", "CredentialStore", "JsonMessages", "ProgressEvent", "PullResult",
            "PushResult", "RegistryClient", "RegistryConfig", "TerminalProgress", "collect",
            "login", "pull", "push"]


def test_exported_names_are_pinned_and_resolve():
    assert registry.__all__ == EXPECTED
    for name in EXPECTED:
        assert getattr(registry, name) is not None


def test_importing_the_room_does_not_load_aiohttp_or_rich():
    code = ("import sys, dockyard.registry, dockyard.cli.commands.registry; "
            "print(sorted(m for m in ('aiohttp', 'rich') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
