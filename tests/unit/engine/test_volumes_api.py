"""The volume endpoints through the aiohttp app (no daemon process, no containers)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from dockyard.api import app as api
from dockyard.api import volumes as vapi
from dockyard.daemon.backend import Backend
from dockyard.daemon.config import DaemonConfig


def _backend(tmp_path: Path) -> Backend:
    cfg = DaemonConfig(data_root=str(tmp_path / "root"), exec_root=str(tmp_path / "exec"),
                       pidfile=str(tmp_path / "pid"), hosts=["unix:///x"]).finish()
    return Backend(cfg)


def run_requests(tmp_path: Path, steps):
    """Send ``steps`` [(method, path, json body | None)] in order; [(status, body)]."""
    async def go():
        backend = _backend(tmp_path)
        out = []
        async with TestClient(TestServer(api.make_app(backend, vapi.ROUTES))) as client:
            for method, path, body in steps:
                kw = {"json": body} if body is not None else {}
                resp = await client.request(method, path, **kw)
                raw = await resp.read()
                out.append((resp.status, json.loads(raw) if raw.strip() else None))
            events = [(e.type, e.action, e.actor_id) for e in backend.events.history(None, None)]
        await backend.close()
        return out, events
    return asyncio.run(go())


def test_volume_lifecycle_over_http(tmp_path: Path):
    (c1, c2, ls, insp, ls_f, rm, insp2, rm2, rmf), events = run_requests(tmp_path, [
        ("POST", "/v1.41/volumes/create", {"Name": "apivol", "Labels": {"k": "v"}}),
        ("POST", "/volumes/create", {"Name": "apivol"}),
        ("GET", "/volumes", None),
        ("GET", "/v1.41/volumes/apivol", None),
        ("GET", '/volumes?filters={"label":["k=nope"]}', None),
        ("DELETE", "/volumes/apivol", None),
        ("GET", "/volumes/apivol", None),
        ("DELETE", "/volumes/apivol", None),
        ("DELETE", "/volumes/apivol?force=1", None),
    ])
    assert c1[0] == 201 and c1[1]["Name"] == "apivol" and c1[1]["Labels"] == {"k": "v"}
    assert c2 == c1
    assert ls[0] == 200 and [v["Name"] for v in ls[1]["Volumes"]] == ["apivol"]
    assert ls[1]["Warnings"] is None
    assert insp == (200, c1[1])
    assert ls_f[1]["Volumes"] == []
    assert rm == (204, None)
    assert insp2 == (404, {"message": "get apivol: no such volume"})
    assert rm2[0] == 404 and rmf == (204, None)
    assert events == [("volume", "create", "apivol"), ("volume", "destroy", "apivol")]


def test_volume_errors_are_client_errors(tmp_path: Path):
    (bad_name, bad_opt, bad_driver, bad_filter, prune), _ = run_requests(tmp_path, [
        ("POST", "/volumes/create", {"Name": "a/b"}),
        ("POST", "/volumes/create", {"Name": "ab", "DriverOpts": {"foo": "1"}}),
        ("POST", "/volumes/create", {"Name": "ab", "Driver": "nfsx"}),
        ("GET", '/volumes?filters={"bogus":["1"]}', None),
        ("POST", "/volumes/prune", None),
    ])
    [(not_obj, _)], _ = run_requests(tmp_path / "b", [("POST", "/volumes/create", [1])])
    assert not_obj == 400
    assert bad_name[0] == 400 and "invalid characters" in bad_name[1]["message"]
    assert bad_opt == (400, {"message": 'create ab: invalid option: "foo"'})
    assert bad_driver[0] == 404
    assert bad_filter == (400, {"message": "Invalid filter 'bogus'"})
    assert prune == (200, {"VolumesDeleted": None, "SpaceReclaimed": 0})


def test_anonymous_create_and_prune(tmp_path: Path):
    (anon, prune, ls), events = run_requests(tmp_path, [
        ("POST", "/volumes/create", {}),
        ("POST", "/volumes/prune", None),
        ("GET", "/volumes", None),
    ])
    name = anon[1]["Name"]
    assert anon[0] == 201 and len(name) == 64
    assert prune[1]["VolumesDeleted"] == [name]
    assert ls[1]["Volumes"] == []
    assert ("volume", "destroy", name) in events
