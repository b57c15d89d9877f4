"""Hooks (state on stdin, timing, failures) and bad input that must leave nothing."""

from __future__ import annotations

import json
import os

import pytest

from tests.conftest import require_root
from tests.integration.runtime.core_support import Runtime, make_config, write_bundle


@pytest.fixture
def rt(runtime_cmd, tmp_path) -> Runtime:
    require_root()
    return Runtime(runtime_cmd, tmp_path / "state")


def _hook(out: str, *, exit_code: int = 0, env: list[str] | None = None) -> dict:
    script = f'cat > {out}; echo "$HOOKENV" >> {out}.env; exit {exit_code}'
    hook = {"path": "/bin/sh", "args": ["sh", "-c", script], "timeout": 10}
    if env:
        hook["env"] = env
    return hook


def _no_cgroup(cid: str) -> bool:
    for top, dirs, _ in os.walk("/sys/fs/cgroup"):
        if top.count("/") > 6:
            dirs.clear()
        if any(cid in d for d in dirs):
            return False
    return True


def test_hooks_get_state_on_stdin_at_the_right_time(rt, busybox_rootfs, container_id,
                                                    tmp_path):
    marker = busybox_rootfs / "ran"
    spec = make_config(["sh", "-c", "echo process >> /ran"],
                       annotations={"org.test": "yes"})
    spec["hooks"] = {phase: [_hook(str(tmp_path / phase), env=[f"HOOKENV={phase}"])]
                     for phase in ("createRuntime", "prestart", "poststart", "poststop")}
    bundle = write_bundle(busybox_rootfs, spec)
    rt("create", "--bundle", str(bundle), container_id)
    try:
        pid = rt.state(container_id)["pid"]
        created = json.loads((tmp_path / "createRuntime").read_text())
        assert created["status"] == "creating" and created["pid"] == pid
        assert created["annotations"] == {"org.test": "yes"}
        assert (tmp_path / "createRuntime.env").read_text() == "createRuntime\n"
        assert not (tmp_path / "prestart").exists(), "prestart ran during create"
        assert not marker.exists()
        rt("start", container_id)
        prestart = json.loads((tmp_path / "prestart").read_text())
        assert prestart["status"] == "created" and prestart["pid"] == pid
        poststart = json.loads((tmp_path / "poststart").read_text())
        assert poststart["status"] == "running" and poststart["id"] == container_id
        assert poststart["bundle"] == str(bundle)
        assert not (tmp_path / "poststop").exists()
    finally:
        rt.cleanup(container_id)
    poststop = json.loads((tmp_path / "poststop").read_text())
    assert poststop["status"] == "stopped"


def test_failing_poststart_and_poststop_hooks_warn_and_continue(rt, busybox_rootfs,
                                                                container_id, tmp_path):
    spec = make_config(["true"])
    spec["hooks"] = {
        "poststart": [_hook(str(tmp_path / "ps1"), exit_code=3), _hook(str(tmp_path / "ps2"))],
        "poststop": [_hook(str(tmp_path / "pt1"), exit_code=4), _hook(str(tmp_path / "pt2"))],
    }
    bundle = write_bundle(busybox_rootfs, spec)
    rt("create", "--bundle", str(bundle), container_id)
    try:
        started = rt("start", container_id)
        assert "poststart hook" in started.stderr
        assert (tmp_path / "ps2").exists(), "second poststart hook did not run"
    finally:
        deleted = rt("delete", "--force", container_id)
    assert "poststop hook" in deleted.stderr
    assert (tmp_path / "pt2").exists(), "second poststop hook did not run"


def test_failing_prestart_hook_stops_and_removes_the_container(rt, busybox_rootfs,
                                                              container_id):
    spec = make_config(["touch", "/output"])
    spec["hooks"] = {"prestart": [{"path": "/bin/false", "args": ["false"]}]}
    bundle = write_bundle(busybox_rootfs, spec)
    rt("create", "--bundle", str(bundle), container_id)
    try:
        failed = rt("start", container_id, check=False)
        assert failed.returncode != 0 and "prestart hook" in failed.stderr
        assert not (busybox_rootfs / "output").exists()
        assert rt("state", container_id, check=False).returncode != 0
        assert _no_cgroup(container_id)
    finally:
        rt.cleanup(container_id)


def test_hook_timeout(rt, busybox_rootfs, container_id):
    spec = make_config(["true"])
    spec["hooks"] = {"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "5"],
                                        "timeout": 1}]}
    bundle = write_bundle(busybox_rootfs, spec)
    failed = rt("create", "--bundle", str(bundle), container_id, check=False)
    assert failed.returncode != 0 and "timed out" in failed.stderr
    assert not (rt.root / container_id).exists()
    assert _no_cgroup(container_id)


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda s: s["linux"]["namespaces"].append({"type": "foo"}),
     'config.json: linux.namespaces[6].type: unknown namespace "foo"'),
    (lambda s: s["process"].__setitem__("args", "sh"),
     "config.json: process.args: must be an array of strings"),
    (lambda s: s["mounts"][0].pop("destination"),
     "config.json: mounts[0].destination: missing required field"),
    (lambda s: s["root"].__setitem__("path", "nope"), "does not exist"),
    (lambda s: s.__setitem__("hooks", {"prestart": [{"path": "rel"}]}),
     "config.json: hooks.prestart[0].path: must be an absolute path"),
])
def test_bad_config_leaves_nothing(rt, busybox_rootfs, container_id, mutate, message):
    spec = make_config(["true"])
    mutate(spec)
    bundle = write_bundle(busybox_rootfs, spec)
    failed = rt("create", "--bundle", str(bundle), container_id, check=False)
    assert failed.returncode != 0
    assert message in failed.stderr
    assert not (rt.root / container_id).exists()
    assert _no_cgroup(container_id)


def test_invalid_json_and_missing_bundle(rt, busybox_rootfs, container_id, tmp_path):
    bundle = busybox_rootfs.parent
    (bundle / "config.json").write_text("{not json")
    failed = rt("create", "--bundle", str(bundle), container_id, check=False)
    assert failed.returncode != 0 and "not valid JSON" in failed.stderr
    failed = rt("create", "--bundle", str(tmp_path / "nowhere"), container_id, check=False)
    assert failed.returncode != 0 and "config.json" in failed.stderr
    assert not (rt.root / container_id).exists()


def test_id_in_use_and_invalid_id(rt, busybox_rootfs, container_id):
    bundle = write_bundle(busybox_rootfs, make_config(["sleep", "60"]))
    rt("create", "--bundle", str(bundle), container_id)
    try:
        again = rt("create", "--bundle", str(bundle), container_id, check=False)
        assert again.returncode != 0 and "already exists" in again.stderr
        assert rt.state(container_id)["status"] == "created"
        bad = rt("create", "--bundle", str(bundle), "../escape", check=False)
        assert bad.returncode != 0 and "invalid container id" in bad.stderr
    finally:
        rt.cleanup(container_id)
    assert not (rt.root.parent / "escape").exists()


def test_errors_go_to_the_log_in_json(rt, tmp_path):
    log = tmp_path / "log.json"
    failed = rt("--log", str(log), "--log-format", "json", "state", "nope", check=False)
    assert failed.returncode != 0
    record = json.loads(log.read_text().splitlines()[-1])
    assert record["level"] == "error" and "does not exist" in record["msg"]
    assert record["time"]
