"""The exec and stats/top routes' own checks, with the service faked (no kernel)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from dockyard.api import exec as exec_api
from dockyard.api import stats as stats_api
from dockyard.api.app import make_app
from dockyard.engine.exec import ExecService, ExecTarget
from dockyard.errors import NotFound


def _service(status: str = "running") -> ExecService:
    async def lookup(ref: str) -> ExecTarget:
        if ref != "c1":
            raise NotFound(f"No such container: {ref}")
        return ExecTarget("c1", "web", status, 0 if status != "running" else 1, Path("/"))

    return ExecService(lookup, "/nonexistent")


def _call(status: str, *requests: tuple[str, str, object]) -> list[tuple[int, object]]:
    async def main():
        app = make_app(None, routes=[*exec_api.ROUTES, *stats_api.ROUTES])  # type: ignore[arg-type]
        app[exec_api.EXEC_SERVICE] = _service(status)
        out = []
        async with TestClient(TestServer(app)) as client:
            for method, path, body in requests:
                kw = {"json": body} if body is not None else {}
                resp = await client.request(method, path, **kw)
                text = await resp.text()
                out.append((resp.status, text))
        return out

    return asyncio.run(main())


def test_create_inspect_and_refusals():
    got = _call("running",
                ("POST", "/v1.41/containers/c1/exec", {"Cmd": ["true"]}),
                ("POST", "/containers/c1/exec", {"Cmd": []}),
                ("POST", "/containers/c1/exec", {"Cmd": ["x"], "User": 5}),
                ("POST", "/containers/nope/exec", {"Cmd": ["true"]}),
                ("GET", "/exec/nope/json", None),
                ("POST", "/exec/nope/start", {}),
                ("POST", "/exec/nope/resize?h=1&w=1", None),
                ("POST", "/exec/nope/resize?h=x&w=1", None),
                ("POST", "/exec/nope/resize?h=-1&w=1", None))
    assert got[0][0] == 201 and '"Id"' in got[0][1]
    assert got[1] == (400, '{"message": "No exec command specified"}\n')
    assert got[2][0] == 400
    assert got[3] == (404, '{"message": "No such container: nope"}\n')
    assert [g[0] for g in got[4:]] == [404, 404, 404, 400, 400]


def test_start_body_types_and_stopped_containers():
    got = _call("exited",
                ("POST", "/containers/c1/exec", {"Cmd": ["true"]}),
                ("GET", "/containers/c1/top", None),
                ("GET", "/containers/c1/stats?stream=0", None),
                ("GET", "/containers/c1/stats?stream=1&one-shot=1", None))
    assert got[0][0] == 409 and "is not running" in got[0][1]
    assert got[1][0] == 409 and "is not running" in got[1][1]
    assert got[2][0] == 200 and '"read": "0001-01-01T00:00:00Z"' in got[2][1]
    assert got[3][0] == 400


def test_start_refuses_non_boolean_flags():
    async def main():
        app = make_app(None, routes=exec_api.ROUTES)  # type: ignore[arg-type]
        svc = _service()
        app[exec_api.EXEC_SERVICE] = svc
        async with TestClient(TestServer(app)) as client:
            resp = await client.post("/containers/c1/exec", json={"Cmd": ["true"]})
            exec_id = (await resp.json())["Id"]
            resp = await client.post(f"/exec/{exec_id}/start", json={"Detach": "false"})
            assert resp.status == 400
            resp = await client.post(f"/exec/{exec_id}/start", data=b"[1]",
                                     headers={"Content-Type": "application/json"})
            assert resp.status == 400
            resp = await client.get(f"/exec/{exec_id}/json")
            doc = await resp.json()
            assert doc["Running"] is False and doc["ExitCode"] is None

    asyncio.run(main())
