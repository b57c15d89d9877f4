"""The api and daemon packages' public faces, and the api's import boundaries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dockyard.api
import dockyard.daemon

API_DIR = Path(dockyard.api.__file__).parent


def test_api_public_names():
    assert dockyard.api.__all__ == ["API_VERSION", "MIN_API_VERSION", "STATUS_BY_KIND",
                                    "make_app", "route_table", "status_for"]
    for name in dockyard.api.__all__:
        assert getattr(dockyard.api, name) is not None


def test_daemon_public_names():
    assert dockyard.daemon.__all__ == ["Backend", "DaemonConfig", "Event", "EventBus", "main",
                                       "serve"]
    for name in dockyard.daemon.__all__:
        assert getattr(dockyard.daemon, name) is not None


def test_importing_the_packages_does_not_import_aiohttp():
    code = ("import sys, dockyard.api, dockyard.daemon, dockyard.daemon.main; "
            "print('aiohttp' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_api_modules_do_not_reach_into_runtime_internals():
    for path in API_DIR.glob("*.py"):
        text = path.read_text()
        assert "dockyard.runtime" not in text, path.name
        assert "os.fork" not in text, path.name
