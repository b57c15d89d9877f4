"""Pure helpers of the runtime core: device rules, namespace plans, exec processes,
the stage channel."""

from __future__ import annotations

import json
import os

import pytest

from dockyard.errors import InvalidArgument
from dockyard.runtime import namespaces
from dockyard.runtime.container.exec import build_process
from dockyard.runtime.device_rules import with_defaults
from dockyard.runtime.process.channel import Channel, Msg, StageError


def test_device_defaults_follow_the_spec_rules():
    spec_rules = [{"allow": False, "access": "rwm"},
                  {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rwm"},
                  {"allow": False, "type": "c", "major": 5, "minor": 0, "access": "rwm"}]
    rules = with_defaults(spec_rules)
    assert rules[:3] == spec_rules
    defaults = rules[3:]
    assert {"allow": True, "type": "c", "access": "m"} in defaults
    assert {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"} in defaults
    # /dev/tty (5:0) was denied by the spec: its default allow is left out
    assert not any(r.get("major") == 5 and r.get("minor") == 0 for r in defaults)


def test_device_rules_always_start_with_deny_all():
    rules = with_defaults(None)
    assert rules[0] == {"allow": False, "access": "rwm"}
    rules = with_defaults([{"allow": True, "type": "c", "major": 1, "minor": 3,
                            "access": "r"}])
    assert rules[0] == {"allow": False, "access": "rwm"}


def test_namespace_plan():
    spec = {"linux": {"namespaces": [{"type": "pid"}, {"type": "network", "path": "/n"},
                                     {"type": "user"}, {"type": "mount"},
                                     {"type": "ipc", "path": "/i"}],
                      "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 10}]}}
    plan = namespaces.plan(spec)
    assert plan.new_user
    assert plan.join == [("ipc", "/i"), ("network", "/n")]
    assert plan.new_flags == namespaces.CLONE_FLAGS["pid"] | namespaces.CLONE_FLAGS["mount"]
    assert plan.is_new("pid") and not plan.is_new("network") and not plan.is_new("uts")
    assert namespaces.format_id_map(plan.uid_maps) == "0 1000 10\n"


def test_open_join_fds_names_the_bad_path():
    with pytest.raises(InvalidArgument, match="/no/such/ns"):
        namespaces.open_join_fds([("network", "/no/such/ns")])


def test_build_process_from_flags():
    base = {"args": ["sh"], "cwd": "/", "env": ["PATH=/bin", "A=1"], "terminal": True,
            "consoleSize": {"height": 1, "width": 1}, "user": {"uid": 0, "gid": 0}}
    p = build_process(base, args=["ls", "-l"], env=["A=2", "B=3"], cwd="/tmp",
                      user="1000:100", caps=["CAP_KILL"], additional_gids=[5])
    assert p["args"] == ["ls", "-l"] and p["cwd"] == "/tmp" and not p["terminal"]
    assert p["env"] == ["PATH=/bin", "A=2", "B=3"]
    assert p["user"] == {"uid": 1000, "gid": 100, "additionalGids": [5]}
    assert p["capabilities"]["bounding"] == ["CAP_KILL"]
    assert "consoleSize" not in p
    assert base["args"] == ["sh"], "the container's own process was modified"


def test_build_process_errors(tmp_path):
    with pytest.raises(InvalidArgument, match="needs a command"):
        build_process({"args": ["sh"], "cwd": "/"})
    with pytest.raises(InvalidArgument, match="--user"):
        build_process({}, args=["x"], user="root")
    f = tmp_path / "p.json"
    f.write_text(json.dumps({"args": [], "cwd": "/"}))
    with pytest.raises(InvalidArgument, match=r"exec: process\.args"):
        build_process({}, process_file=str(f))
    f.write_text("{")
    with pytest.raises(InvalidArgument, match="not valid JSON"):
        build_process({}, process_file=str(f))


def test_channel_messages_errors_and_order():
    a, b = Channel.pair()
    try:
        b.send(Msg.READY, pty=-1)
        b.send(Msg.INIT_PID, pid=42)
        assert a.wait_for(Msg.INIT_PID, "x")["pid"] == 42  # READY kept for later
        assert a.wait_for(Msg.READY, "x")["pty"] == -1
        b.error("boom")
        with pytest.raises(StageError, match="boom"):
            a.wait_for(Msg.CONTINUE, "x")
        b.close()
        with pytest.raises(StageError, match="exited before"):
            a.wait_for(Msg.CONTINUE, "stage")
    finally:
        a.close()
        b.close()
    assert a.rfd == -1 and not os.path.exists("/proc/self/fd/-1")


@pytest.mark.parametrize("doc", ['{"a": [1, 2.5, "x\\u00e9", null, true]}', " [ ] ", '"s"',
                                 '{"nested": {"k": {}}}', "-0.5e3"])
def test_fastjson_round_trips_like_json(doc):
    from dockyard.runtime import fastjson

    assert fastjson.loads(doc) == json.loads(doc)
    assert json.loads(fastjson.dumps(json.loads(doc))) == json.loads(doc)
    assert fastjson.loads(doc.encode()) == json.loads(doc)


@pytest.mark.parametrize("bad", ["", "{", '{"a" 1}', "[1,]", "1 2", "nul"])
def test_fastjson_errors_are_value_errors(bad):
    from dockyard.runtime import fastjson

    with pytest.raises(ValueError):
        fastjson.loads(bad)


def test_fastjson_indented_matches_json():
    from dockyard.runtime import fastjson

    doc = {"ociVersion": "1.2.0", "id": "x", "pid": 3, "annotations": {"a": "é"},
           "list": [1, {"k": []}, {}], "none": None, "ok": True}
    assert fastjson.dumps_indented(doc) == json.dumps(doc, indent=2)
