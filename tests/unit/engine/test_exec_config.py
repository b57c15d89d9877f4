"""Exec create bodies, the OCI process built from them, users, detach keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockyard.engine import detachkeys
from dockyard.engine.exec import ExecConfig, ExecRecord, ExecTarget, go_duration
from dockyard.engine.execspec import build_process
from dockyard.engine.execuser import resolve
from dockyard.errors import Conflict, InvalidArgument

PASSWD = "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n" \
         "# comment\nbroken\n"
GROUP = "root:x:0:\nalice:x:1000:\nstaff:x:50:alice,bob\nwheel:x:10:bob\n"


def test_create_body_checks():
    with pytest.raises(InvalidArgument, match="No exec command specified"):
        ExecConfig.from_body({"Cmd": []})
    with pytest.raises(InvalidArgument, match="No exec command specified"):
        ExecConfig.from_body({})
    with pytest.raises(InvalidArgument, match="array of strings"):
        ExecConfig.from_body({"Cmd": ["ls", 3]})
    with pytest.raises(InvalidArgument, match="absolute path"):
        ExecConfig.from_body({"Cmd": ["ls"], "WorkingDir": "tmp"})
    with pytest.raises(InvalidArgument, match="Invalid escape keys"):
        ExecConfig.from_body({"Cmd": ["ls"], "DetachKeys": "ctrl-1"})
    with pytest.raises(InvalidArgument):
        ExecConfig.from_body(["ls"])
    cfg = ExecConfig.from_body({"Cmd": ["sh", "-c", "exit 3"], "Tty": True, "User": "1:2",
                                "AttachStdout": True, "ConsoleSize": [24, 80]})
    assert cfg.command_line == "sh -c exit 3"
    assert cfg.console_size == (24, 80)
    assert ExecConfig.from_body({"Cmd": "date"}).command_line == "date "


def test_inspect_shape_matches_dockerd():
    rec = ExecRecord("e" * 64, "c" * 64, ExecConfig(("sh", "-c", "exit 3"),
                                                  attach_stdout=True))
    doc = rec.inspect()
    assert doc == {"CanRemove": False, "ContainerID": "c" * 64, "DetachKeys": "",
                   "ExitCode": None, "ID": "e" * 64, "OpenStderr": False,
                   "OpenStdin": False, "OpenStdout": True,
                   "ProcessConfig": {"tty": False, "entrypoint": "sh",
                                     "arguments": ["-c", "exit 3"], "privileged": False},
                   "Running": False, "Pid": 0}


def _target(tmp_path: Path, process: dict, status: str = "running") -> ExecTarget:
    (tmp_path / "config.json").write_text(json.dumps({"process": process}))
    return ExecTarget("c1", "web", status, 1234, tmp_path)


def test_process_inherits_the_containers_and_overrides(tmp_path):
    base = {"terminal": True, "user": {"uid": 5, "gid": 6}, "cwd": "/app",
            "env": ["PATH=/bin", "TERM=xterm", "A=1", "HOME=/h"],
            "capabilities": {"bounding": ["CAP_KILL"]}, "noNewPrivileges": True,
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 10, "soft": 10}]}
    p = build_process(ExecConfig(("ls",), env=("A=2", "B=3", "PATH")), _target(tmp_path, base))
    assert p["args"] == ["ls"] and p["terminal"] is False
    assert p["cwd"] == "/app"
    assert p["user"] == {"uid": 5, "gid": 6}
    env = dict(e.split("=", 1) for e in p["env"])
    assert env == {"A": "2", "HOME": "/h", "B": "3"}     # PATH unset, TERM was the tty's
    assert p["capabilities"] == base["capabilities"]
    assert p["noNewPrivileges"] is True and p["rlimits"] == base["rlimits"]
    tty = build_process(ExecConfig(("sh",), tty=True, working_dir="/tmp"),
                        _target(tmp_path, base), console_size=(30, 100))
    assert "TERM=xterm" in tty["env"] and tty["terminal"] is True
    assert tty["cwd"] == "/tmp"
    assert tty["consoleSize"] == {"height": 30, "width": 100}


def test_privileged_exec_gets_every_capability_we_hold(tmp_path):
    p = build_process(ExecConfig(("ls",), privileged=True),
                      _target(tmp_path, {"env": ["HOME=/"]}))
    caps = p["capabilities"]["bounding"]
    assert "CAP_SYS_ADMIN" in caps and "CAP_KILL" in caps
    assert p["capabilities"]["effective"] == caps


def test_no_bundle_config_is_a_conflict(tmp_path):
    with pytest.raises(Conflict):
        build_process(ExecConfig(("ls",)), ExecTarget("c1", "w", "running", 1,
                                                     tmp_path / "none"))


def test_target_refusals_are_dockerds():
    t = ExecTarget("c" * 64, "web", "paused", 10, Path("/"))
    with pytest.raises(Conflict, match="Container web is paused, unpause the container"):
        t.check_running()
    with pytest.raises(Conflict, match=f"Container {'c' * 64} is not running"):
        ExecTarget("c" * 64, "web", "exited", 0, Path("/")).check_running()
    with pytest.raises(Conflict, match="is restarting"):
        ExecTarget("c" * 64, "web", "restarting", 0, Path("/")).check_running()


@pytest.mark.parametrize(("spec", "uid", "gid", "extra", "home"), [
    ("", 0, 0, (), "/root"),
    ("alice", 1000, 1000, (50,), "/home/alice"),
    ("1000", 1000, 1000, (50,), "/home/alice"),
    ("4242", 4242, 0, (), "/"),
    ("alice:wheel", 1000, 10, (), "/home/alice"),
    ("alice:77", 1000, 77, (), "/home/alice"),
    ("7:8", 7, 8, (), "/"),
])
def test_users_resolve_like_libcontainer(spec, uid, gid, extra, home):
    u = resolve(spec, PASSWD, GROUP)
    assert (u.uid, u.gid, u.additional_gids, u.home) == (uid, gid, extra, home)


def test_unknown_names_are_clear_errors():
    with pytest.raises(InvalidArgument, match="unable to find user bob: no matching entries "
                                              "in passwd file"):
        resolve("bob", PASSWD, GROUP)
    with pytest.raises(InvalidArgument, match="unable to find group nope"):
        resolve("alice:nope", PASSWD, GROUP)
    assert resolve("alice", PASSWD, GROUP).to_oci() == {"uid": 1000, "gid": 1000,
                                                        "additionalGids": [50]}


def test_detach_keys():
    assert detachkeys.to_bytes("ctrl-p,ctrl-q") == b"\x10\x11"
    assert detachkeys.to_bytes("a,ctrl-@,ctrl-[") == b"a\x00\x1b"
    for bad in ("", "ctrl-", "ab", "ctrl-1"):
        with pytest.raises(InvalidArgument):
            detachkeys.to_bytes(bad)
    s = detachkeys.DetachScanner(b"\x10\x11")
    assert s.feed(b"ab\x10") == b"ab" and not s.detached
    assert s.feed(b"x") == b"\x10x"          # not the sequence after all: passed on
    assert s.feed(b"\x10\x10") == b"\x10"
    assert s.feed(b"\x11tail") == b"" and s.detached


def test_go_durations():
    assert go_duration(30) == "30s"
    assert go_duration(90) == "1m30s"
    assert go_duration(0.5) == "500ms"
    assert go_duration(1.5) == "1.5s"
    assert go_duration(3600) == "1h0m0s"
