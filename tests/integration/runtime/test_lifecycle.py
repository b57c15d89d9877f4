"""create / start / state / kill / delete / run through the real CLI and kernel."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from tests.conftest import require_root
from tests.integration.runtime.core_support import Runtime, make_config, write_bundle
from tests.support.shared import SPECS

SCHEMAS = SPECS / "oci-runtime"


@pytest.fixture
def rt(runtime_cmd, tmp_path) -> Runtime:
    require_root()
    return Runtime(runtime_cmd, tmp_path / "state")


def _cgroup_dirs(cid: str) -> list[str]:
    found = []
    for top, dirs, _ in os.walk("/sys/fs/cgroup"):
        if top.count("/") > 6:
            dirs.clear()
        found += [os.path.join(top, d) for d in dirs if cid in d]
    return found


def _wait_status(rt: Runtime, cid: str, want: str, timeout: float = 5) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        st = rt.state(cid)
        if st["status"] == want or time.monotonic() > deadline:
            return st
        time.sleep(0.02)


def test_create_start_kill_delete(rt, busybox_rootfs, container_id):
    bundle = write_bundle(busybox_rootfs, make_config(["sleep", "60"]))
    pid_file = bundle / "pid"
    rt("create", "--bundle", str(bundle), "--pid-file", str(pid_file), container_id)
    try:
        st = rt.state(container_id)
        assert st["status"] == "created"
        assert st["id"] == container_id and st["bundle"] == str(bundle)
        assert int(pid_file.read_text()) == st["pid"] > 0
        _check_schema(st)
        # The program must not have run yet: init waits on exec.fifo.
        with open(f"/proc/{st['pid']}/comm") as f:
            assert "sleep" not in f.read()
        assert _cgroup_dirs(container_id), "create made no cgroup"
        rt("start", container_id)
        st = rt.state(container_id)
        assert st["status"] == "running"
        with open(f"/proc/{st['pid']}/comm") as f:
            assert f.read().strip() == "sleep"
        started_again = rt("start", container_id, check=False)
        assert started_again.returncode != 0
        rt("kill", container_id, "KILL")
        assert _wait_status(rt, container_id, "stopped")["status"] == "stopped"
        rt("delete", container_id)
    finally:
        rt.cleanup(container_id)
    gone = rt("state", container_id, check=False)
    assert gone.returncode != 0 and "does not exist" in gone.stderr
    assert not (rt.root / container_id).exists()
    assert _cgroup_dirs(container_id) == []


def _check_schema(state: dict) -> None:
    import jsonschema

    schema = json.loads((SCHEMAS / "state-schema.json").read_text())
    schema["properties"]["ociVersion"] = {"type": "string"}
    schema["properties"]["annotations"] = {"type": "object"}
    jsonschema.validate(state, schema)


def test_delete_of_created_container_needs_force(rt, busybox_rootfs, container_id):
    bundle = write_bundle(busybox_rootfs, make_config(["true"]))
    rt("create", "--bundle", str(bundle), container_id)
    try:
        refused = rt("delete", container_id, check=False)
        assert refused.returncode != 0
        assert "not stopped" in refused.stderr
        assert rt.state(container_id)["status"] == "created"
        rt("delete", "--force", container_id)
        assert not (rt.root / container_id).exists()
    finally:
        rt.cleanup(container_id)


@pytest.mark.parametrize(("script", "code"), [("exit 7", 7), ("kill -9 $$", 137),
                                              ("true", 0)])
def test_run_exits_with_the_container_code(rt, busybox_rootfs, container_id, script, code):
    spec = make_config(["sh", "-c", script])
    if "kill" in script:
        # pid 1 of a pid namespace cannot SIGKILL itself: share the host's pid ns.
        spec["linux"]["namespaces"] = [ns for ns in spec["linux"]["namespaces"]
                                       if ns["type"] != "pid"]
    bundle = write_bundle(busybox_rootfs, spec)
    proc = rt("run", "--bundle", str(bundle), container_id, check=False)
    assert proc.returncode == code, proc.stderr
    assert not (rt.root / container_id).exists(), "run left its container behind"


def test_run_passes_stdio_env_cwd_and_hostname(rt, busybox_rootfs, container_id):
    spec = make_config(["sh", "-c", 'echo "$FOO $(pwd) $(hostname)"; cat'],
                       hostname="box-" + container_id[-4:])
    spec["process"]["env"].append("FOO=bar")
    spec["process"]["cwd"] = "/tmp"
    bundle = write_bundle(busybox_rootfs, spec)
    proc = rt("run", "--bundle", str(bundle), container_id, input="from-stdin\n")
    assert proc.stdout == f"bar /tmp box-{container_id[-4:]}\nfrom-stdin\n"


def test_run_forwards_signals(rt, busybox_rootfs, container_id):
    script = 'trap "exit 42" TERM; echo ready; while true; do sleep 0.05; done'
    bundle = write_bundle(busybox_rootfs, make_config(["sh", "-c", script]))
    proc = subprocess.Popen(rt.argv("run", "--bundle", str(bundle), container_id),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "ready\n"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 42
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        rt.cleanup(container_id)


def test_run_detach_then_kill_by_number_and_all(rt, busybox_rootfs, container_id):
    bundle = write_bundle(busybox_rootfs, make_config(
        ["sh", "-c", "sleep 60 & sleep 60 & wait"]))
    rt("run", "--detach", "--bundle", str(bundle), container_id)
    try:
        assert rt.state(container_id)["status"] == "running"
        pids = json.loads(rt("ps", "--format", "json", container_id).stdout)
        assert len(pids) == 3
        rt("kill", "--all", container_id, "9")
        assert _wait_status(rt, container_id, "stopped")["status"] == "stopped"
        for pid in pids:
            deadline = time.monotonic() + 5
            while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
                with open(f"/proc/{pid}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                        break
                time.sleep(0.02)
        stopped = rt("kill", container_id, "TERM", check=False)
        assert stopped.returncode != 0 and "not running" in stopped.stderr
    finally:
        rt.cleanup(container_id)


def test_config_without_process_creates_and_stops_at_start(rt, busybox_rootfs,
                                                           container_id):
    """The OCI suite's start test: create succeeds, start returns 0 (with a warning
    here), the container is then stopped and deletable."""
    spec = make_config(["true"])
    del spec["process"]
    bundle = write_bundle(busybox_rootfs, spec)
    rt("create", "--bundle", str(bundle), container_id)
    try:
        assert rt.state(container_id)["status"] == "created"
        started = rt("start", container_id)
        assert "no process" in started.stderr
        assert _wait_status(rt, container_id, "stopped")["status"] == "stopped"
        rt("delete", container_id)
    finally:
        rt.cleanup(container_id)


def test_missing_program_is_found_at_start_not_create(rt, busybox_rootfs, container_id):
    """args[0] is looked up when the process is started: create succeeds; start
    releases the init, which cannot exec and exits 127; start warns (the suite's
    misc_props expects create+start+delete to succeed)."""
    bundle = write_bundle(busybox_rootfs, make_config(["/no/such/program"]))
    rt("create", "--bundle", str(bundle), container_id)
    try:
        started = rt("start", container_id)
        assert '"/no/such/program"' in started.stderr
        assert _wait_status(rt, container_id, "stopped")["status"] == "stopped"
        rt("delete", container_id)
    finally:
        rt.cleanup(container_id)
    ran = rt("run", "--bundle", str(bundle), container_id, check=False)
    assert ran.returncode == 127 and "/no/such/program" in ran.stderr


def test_pause_and_resume(rt, busybox_rootfs, container_id):
    bundle = write_bundle(busybox_rootfs, make_config(["sleep", "60"]))
    rt("run", "-d", "--bundle", str(bundle), container_id)
    try:
        rt("pause", container_id)
        st = rt.state(container_id)
        assert st["status"] == "paused"
        freezer = [d for d in _cgroup_dirs(container_id) if "/freezer/" in d]
        if freezer:
            with open(os.path.join(freezer[0], "freezer.state")) as f:
                assert f.read().strip() == "FROZEN"
        assert rt("pause", container_id, check=False).returncode != 0
        rt("resume", container_id)
        assert rt.state(container_id)["status"] == "running"
        # delete --force works on a paused container too
        rt("pause", container_id)
        rt("delete", "--force", container_id)
        assert not (rt.root / container_id).exists()
    finally:
        rt.cleanup(container_id)


def test_list_formats(rt, busybox_rootfs, container_id):
    bundle = write_bundle(busybox_rootfs, make_config(["sleep", "60"]))
    rt("create", "--bundle", str(bundle), container_id)
    try:
        assert rt("list", "-q").stdout.split() == [container_id]
        listed = json.loads(rt("list", "--format", "json").stdout)
        assert [(c["id"], c["status"]) for c in listed] == [(container_id, "created")]
        table = rt("list").stdout.splitlines()
        assert table[0].split()[:3] == ["ID", "PID", "STATUS"]
        assert table[1].split()[0] == container_id
    finally:
        rt.cleanup(container_id)


def test_concurrent_starts_release_the_container_once(rt, busybox_rootfs, container_id):
    bundle = write_bundle(busybox_rootfs, make_config(["sleep", "60"]))
    rt("create", "--bundle", str(bundle), container_id)
    try:
        procs = [subprocess.Popen(rt.argv("start", container_id), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE) for _ in range(4)]
        codes = [p.wait(timeout=30) for p in procs]
        for p in procs:
            p.stdout.close()
            p.stderr.close()
        assert sorted(codes).count(0) == 1, codes
        assert rt.state(container_id)["status"] == "running"
    finally:
        rt.cleanup(container_id)


def test_bundle_that_is_its_own_rootfs(rt, busybox_rootfs, container_id):
    """The OCI validation suite's bundles: config.json inside the rootfs, root.path "."."""
    spec = make_config(["sh", "-c", "test -f /config.json && echo inside"])
    spec["root"]["path"] = "."
    (busybox_rootfs / "config.json").write_text(json.dumps(spec))
    ran = rt("run", "--bundle", str(busybox_rootfs), container_id)
    assert ran.stdout == "inside\n"
