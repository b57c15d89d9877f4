"""A ``dockyardd`` subprocess that serves the builder's routes.

The engine branch registers ``api/build.py``'s ROUTES in ``route_table``; until
that is merged, the test daemon adds them itself (same daemon otherwise).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.integration.daemon.harness import Daemon

_LAUNCH = (
    "import sys\n"
    "import dockyard.api.app as app\n"
    "import dockyard.api.build as build\n"
    "_orig = app.route_table\n"
    "def _table():\n"
    "    routes = _orig()\n"
    "    if not any(p == '/build' for _, p, _ in routes):\n"
    "        routes = [*routes, *build.ROUTES]\n"
    "    return routes\n"
    "app.route_table = _table\n"
    "from dockyard.daemon.main import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


class BuildDaemon(Daemon):
    def argv(self, *extra: str) -> list[str]:
        base = super().argv(*extra)
        assert base[1:3] == ["-m", "dockyard.daemon.main"]
        return [sys.executable, "-c", _LAUNCH, *base[3:]]


@contextmanager
def build_daemon(workdir: Path, data_root: Path | None = None) -> Iterator[BuildDaemon]:
    d = BuildDaemon(workdir, data_root or workdir / "root", workdir / "dockyard.sock")
    d.start()
    try:
        yield d
    finally:
        try:
            d.stop()
        finally:
            d.kill()
