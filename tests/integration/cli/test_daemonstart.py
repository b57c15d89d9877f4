"""Starting dockyardd on first use: detached, waits for /_ping, clear errors."""

from __future__ import annotations

import json
import os
import signal

import pytest

from dockyard.cli import daemonstart
from dockyard.cli.client import Client, DaemonUnreachable
from dockyard.errors import Unavailable
from tests.integration.cli.clid import POOL
from tests.integration.daemon.harness import short_workdir


def test_autostart_only_for_the_default_host():
    assert daemonstart.autostart_hook(Client("unix:///tmp/x.sock"), explicit=False) is None
    assert daemonstart.autostart_hook(Client(), explicit=True) is None
    assert daemonstart.autostart_hook(Client(), explicit=False) is not None


def test_start_daemon_detached_then_answers(tmp_path_factory):
    work = short_workdir(tmp_path_factory, "as")
    (work / "daemon.json").write_text(json.dumps(POOL))
    client = Client(f"unix://{work}/dockyard.sock")
    with pytest.raises(DaemonUnreachable):
        client.get("/info")
    log = work / "dockyardd.log"
    extra = ("--data-root", str(work / "root"), "--exec-root", str(work / "exec"),
             "--pidfile", str(work / "exec" / "d.pid"),
             "--config-file", str(work / "daemon.json"))
    proc = daemonstart.start_daemon(client, extra_args=extra, log_path=str(log))
    try:
        assert proc is not None
        assert os.getsid(proc.pid) == proc.pid   # its own session
        client.version = None
        assert client.get("/version")["ApiVersion"] == "1.41"
        # a second start finds it running and starts nothing
        assert daemonstart.start_daemon(client, extra_args=extra, log_path=str(log)) is None
        assert "started by the dockyard CLI" in log.read_text()
    finally:
        client.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def test_start_failure_is_reported_with_the_log(tmp_path_factory):
    work = short_workdir(tmp_path_factory, "asf")
    client = Client(f"unix://{work}/dockyard.sock")
    log = work / "dockyardd.log"
    with pytest.raises(Unavailable) as e:
        daemonstart.start_daemon(client, extra_args=("--config-file", str(work / "nope.json"),
                                                     "--no-such-flag"),
                                 log_path=str(log), timeout=20)
    assert "could not start dockyardd" in e.value.message
    assert "no-such-flag" in e.value.message   # the end of the log explains why
