"""The shim's records, its bundle files and the small helpers of the shim process."""

from __future__ import annotations

import json
import os

import pytest

from dockyard.errors import Conflict, InvalidArgument
from dockyard.shim import ExitStatus, LogConfig, ShimRequest, files, read_exit, shim_alive
from dockyard.shim.client import raise_for
from dockyard.shim.wire import error_reply
from dockyard.shim.wire import fds_from as _fds


def test_request_roundtrip_and_validation():
    req = ShimRequest("c1", "/b", tty=True, log=LogConfig(path="/l", max_size=10,
                                                           max_file=3))
    again = ShimRequest.from_json(json.loads(json.dumps(req.to_json())))
    assert again == req
    for bad in ([], {"bundle": "/b"}, {"container_id": "c", "bundle": "rel"},
                {"container_id": "c", "bundle": "/b", "bogus": 1},
                {"container_id": "c", "bundle": "/b", "log": {"colour": "red"}}):
        with pytest.raises(InvalidArgument):
            ShimRequest.from_json(bad)


def test_exit_status_file(tmp_path):
    assert read_exit(tmp_path) is None
    st = ExitStatus(137, "2026-01-01T00:00:00Z", oom_killed=True)
    files.write_atomic(str(tmp_path / files.EXIT_JSON), json.dumps(st.to_json()).encode())
    assert read_exit(tmp_path) == st
    assert not [n for n in os.listdir(tmp_path) if ".tmp" in n]
    (tmp_path / files.EXIT_JSON).write_text("{not json")
    assert read_exit(tmp_path) is None


def test_shim_alive(tmp_path):
    assert not shim_alive(tmp_path)
    (tmp_path / files.SHIM_PID).write_text(f"{os.getpid()}\n")
    assert not shim_alive(tmp_path)  # alive, but not a shim (its name says so)
    (tmp_path / files.SHIM_PID).write_text("999999999\n")
    assert not shim_alive(tmp_path)
    (tmp_path / files.SHIM_PID).write_text("garbage")
    assert not shim_alive(tmp_path)


def test_short_path_reaches_the_directory(tmp_path):
    deep = tmp_path / ("d" * 100) / ("e" * 100)
    deep.mkdir(parents=True)
    with files.ShortPath(str(deep)) as short:
        p = short("x")
        assert len(p) < 40
        with open(p, "w") as f:
            f.write("hi")
    assert (deep / "x").read_text() == "hi"


def test_error_replies_map_back_to_kinds():
    assert error_reply(Conflict("busy")) == {"error": "busy", "kind": "Conflict"}
    assert error_reply(OSError(2, "gone"))["kind"] == "SystemError_"
    with pytest.raises(Conflict, match="busy"):
        raise_for({"error": "busy", "kind": "Conflict"})
    with pytest.raises(Exception, match="odd"):
        raise_for({"error": "odd", "kind": "NoSuchKind"})
    assert raise_for({"pid": 3}) == {"pid": 3}


def test_fds_from_ancillary_data():
    import socket

    data = b"".join(n.to_bytes(4, "little") for n in (5, 7, 9))
    assert _fds([(socket.SOL_SOCKET, socket.SCM_RIGHTS, data)]) == [5, 7, 9]
    assert _fds([]) == []
