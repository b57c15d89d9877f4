"""Record <-> row round trips, Docker's State shape, timestamps, restart rules,
list filters and the summary/inspect shapes."""

from __future__ import annotations

import pytest

from dockyard.engine import inspect, listing, restart
from dockyard.engine.lifecycle import parse_signal, parse_size
from dockyard.engine.model import (
    ContainerRecord,
    ContainerState,
    new_id,
    parse_rfc3339,
    rfc3339_nano,
)
from dockyard.errors import InvalidArgument


def rec(name="c", status="running", **kw) -> ContainerRecord:
    cfg = {"Image": "busybox", "Cmd": ["sh", "-c", "echo hi"], "Labels": kw.pop("labels", {})}
    return ContainerRecord(id=kw.pop("cid", new_id()), name=name,
                           created=kw.pop("created", "2026-01-01T00:00:00.000000001Z"),
                           image_id=kw.pop("image_id", "sha256:" + "a" * 64),
                           image_ref="busybox", config=cfg,
                           host_config={"NetworkMode": "none"},
                           state=ContainerState(status=status, **kw),
                           data_root="/d", exec_root="/e")


def test_row_round_trip():
    r = rec(pid=7, exit_code=3)
    r.restart_count = 4
    back = ContainerRecord.from_row(r.to_row(), "/d", "/e")
    assert back == r


def test_state_to_docker():
    doc = ContainerState(status="paused", pid=9).to_docker()
    assert doc["Running"] is True and doc["Paused"] is True and doc["Pid"] == 9
    assert set(doc) >= {"Status", "Restarting", "OOMKilled", "Dead", "ExitCode", "Error",
                        "StartedAt", "FinishedAt"}
    assert "Health" not in doc


def test_timestamps():
    text = rfc3339_nano(1_700_000_000_123_456_789)
    assert text == "2023-11-14T22:13:20.123456789Z"
    assert abs(parse_rfc3339(text) - 1_700_000_000.123456789) < 1e-6
    assert parse_rfc3339("0001-01-01T00:00:00Z") == 0.0


def test_restart_rules():
    always = {"Name": "always"}
    on_fail = {"Name": "on-failure", "MaximumRetryCount": 2}
    assert restart.should_restart(always, 0, 5, False)
    assert not restart.should_restart(always, 0, 0, True)
    assert restart.should_restart(on_fail, 1, 1, False)
    assert not restart.should_restart(on_fail, 1, 2, False)
    assert not restart.should_restart(on_fail, 0, 0, False)
    assert not restart.should_restart({"Name": "no"}, 1, 0, False)
    assert restart.restart_at_daemon_start(always, 0, 0, True)
    assert not restart.restart_at_daemon_start({"Name": "unless-stopped"}, 0, 0, True)
    with pytest.raises(InvalidArgument):
        restart.check_policy({"Name": "sometimes"})
    with pytest.raises(InvalidArgument):
        restart.check_policy({"Name": "always", "MaximumRetryCount": 3})


def test_backoff_doubles_and_resets():
    b = restart.Backoff()
    assert [b.next(0.5), b.next(0.5), b.next(0.5)] == [0.1, 0.2, 0.4]
    assert b.next(11.0) == 0.1


def test_filters():
    a = rec("web", labels={"tier": "front"})
    b = rec("db", status="exited", exit_code=3)
    c = rec("old", status="created")
    records = [a, b, c]   # newest first
    q = listing.Query
    assert listing.select(records, q()) == [a]
    assert listing.select(records, q(all=True)) == records
    assert listing.select(records, q(filters={"status": ["exited"]})) == [b]
    assert listing.select(records, q(filters={"exited": ["3"]})) == [b]
    assert listing.select(records, q(all=True, filters={"label": ["tier=front"]})) == [a]
    assert listing.select(records, q(all=True, filters={"name": ["^/d"]})) == [b]
    assert listing.select(records, q(filters={"before": ["db"]})) == [c]
    assert listing.select(records, q(filters={"since": ["db"]})) == [a]
    assert listing.select(records, q(all=True, limit=1)) == [a]
    with pytest.raises(InvalidArgument, match="invalid filter 'colour'"):
        listing.select(records, q(filters={"colour": ["red"]}))
    with pytest.raises(InvalidArgument):
        listing.select(records, q(filters={"status": ["sleeping"]}))


def test_summary_and_inspect_shapes():
    r = rec("web", status="exited", exit_code=2, finished_at="2026-01-01T00:00:10Z")
    s = inspect.summary(r, now=parse_rfc3339("2026-01-01T00:01:10Z"))
    assert s["Names"] == ["/web"] and s["Command"] == "sh -c echo hi"
    assert s["Status"] == "Exited (2) About a minute ago" and s["State"] == "exited"
    doc = inspect.inspect(r)
    assert doc["Path"] == "sh" and doc["Args"] == ["-c", "echo hi"]
    assert doc["Name"] == "/web" and doc["State"]["ExitCode"] == 2
    assert doc["LogPath"].endswith(f"{r.id}-json.log") and doc["ExecIDs"] is None
    assert inspect.status_text(rec(status="created")) == "Created"


def test_signals_and_sizes():
    assert parse_signal("KILL") == 9 and parse_signal("SIGTERM") == 15
    assert parse_signal("9") == 9 and parse_signal(None, 15) == 15
    for bad in ("NOPE", "0", "99"):
        with pytest.raises(InvalidArgument, match="Invalid signal"):
            parse_signal(bad)
    assert parse_size("10m") == 10 * 1024 * 1024 and parse_size("1k") == 1024
    assert parse_size(None) is None


def test_stopped_network_settings_keep_networks_drop_addresses():
    from dockyard.engine.netglue import stopped_settings

    running = {"IPAddress": "10.0.0.2", "Ports": {"80/tcp": [{"HostPort": "8080"}]},
               "SandboxKey": "/run/x", "Networks": {"bridge": {
                   "IPAddress": "10.0.0.2", "EndpointID": "e1", "NetworkID": "n1"}}}
    out = stopped_settings(running)
    assert out["IPAddress"] == "" and out["Ports"] == {} and out["SandboxKey"] == ""
    assert out["Networks"] == {"bridge": {"IPAddress": "", "EndpointID": "",
                                          "NetworkID": "n1"}}
    assert running["Networks"]["bridge"]["IPAddress"] == "10.0.0.2"   # input untouched
