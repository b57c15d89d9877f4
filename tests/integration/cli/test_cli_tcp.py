"""The CLI reaches a daemon over tcp:// (``-H`` and ``$DOCKYARD_HOST``)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

from tests.integration.cli.clid import POOL
from tests.integration.daemon.harness import running_daemon, short_workdir


def test_tcp_host(tmp_path_factory):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    work = short_workdir(tmp_path_factory, "tcp")
    (work / "daemon.json").write_text(json.dumps(POOL))
    host = f"tcp://127.0.0.1:{port}"
    with running_daemon(work, "-H", host):
        env = {k: v for k, v in os.environ.items() if k != "DOCKYARD_HOST"}
        out = subprocess.run([sys.executable, "-m", "dockyard.cli.main", "-H", host,
                              "version", "-f", "{{.Server.ApiVersion}}"],
                             capture_output=True, text=True, env=env, timeout=60)
        assert (out.returncode, out.stdout) == (0, "1.41\n"), out.stderr
        out = subprocess.run([sys.executable, "-m", "dockyard.cli.main", "volume", "ls"],
                             capture_output=True, text=True,
                             env={**env, "DOCKYARD_HOST": host}, timeout=60)
        assert out.returncode == 0 and out.stdout.split() == ["DRIVER", "VOLUME", "NAME"]
