"""Live restore across daemon restarts: restart policies applied to containers that
died while no daemon ran, dockerd's start-up rule for stopped ``always`` /
``unless-stopped`` containers, and a clean stop (SIGTERM) of the daemon leaving
containers running."""

from __future__ import annotations

import time

import pytest

from tests.integration.daemon.harness import short_workdir
from tests.integration.engine.engined import engine_daemon

pytestmark = pytest.mark.integration


def until(fn, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    value = fn()
    while not value and time.monotonic() < deadline:
        time.sleep(0.1)
        value = fn()
    return value


def test_policies_after_daemon_restart(tmp_path_factory):
    with engine_daemon(short_workdir(tmp_path_factory, "rec")) as eng:
        dies = eng.create(["sh", "-c", "sleep 1; exit 3"], name="dies", HostConfig={
            "NetworkMode": "none", "RestartPolicy": {"Name": "always"}})
        eng.ok("POST", f"/containers/{dies}/start")
        stopped_always = eng.run(["sleep", "1000"], name="sa", HostConfig={
            "NetworkMode": "none", "RestartPolicy": {"Name": "always"}})
        stopped_unless = eng.run(["sleep", "1000"], name="su", HostConfig={
            "NetworkMode": "none", "RestartPolicy": {"Name": "unless-stopped"}})
        plain = eng.run(["sleep", "1000"], name="plain")
        plain_pid = eng.inspect(plain)["State"]["Pid"]
        eng.ok("POST", "/containers/sa/stop", t=0)
        eng.ok("POST", "/containers/su/stop", t=0)
        eng.d.kill()
        time.sleep(2.0)                       # "dies" exits while no daemon runs
        eng.d.start()
        assert eng.inspect(plain)["State"]["Pid"] == plain_pid   # reconnected, untouched
        assert until(lambda: eng.inspect(dies)["RestartCount"] >= 1), eng.inspect(dies)
        assert until(lambda: eng.inspect(stopped_always)["State"]["Running"])
        time.sleep(0.5)
        assert eng.inspect(stopped_unless)["State"]["Status"] == "exited"
        eng.ok("POST", "/containers/dies/update", {"RestartPolicy": {"Name": "no"}})
        # a clean daemon stop leaves running containers running (live restore)
        eng.d.stop()
        import os

        assert os.path.exists(f"/proc/{plain_pid}")
        eng.d.start()
        assert eng.inspect(plain)["State"]["Running"]
        eng.ok("POST", f"/containers/{plain}/stop", t=0)
        assert eng.inspect(plain)["State"]["ExitCode"] == 137
