"""The /networks endpoints over HTTP (aiohttp test client, make_app with ROUTES), backed by
a real NetworkService with token-named kernel objects and a stand-in container table."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from dockyard.api import networks
from dockyard.api.app import make_app
from dockyard.daemon.events import EventBus
from dockyard.errors import NotFound
from dockyard.network.service import ContainerNetRequest, NetworkService
from tests.conftest import require_root
from tests.integration.network.conftest import OCTET


@dataclass
class Record:
    id: str
    name: str


class Containers:
    def __init__(self) -> None:
        self.records: dict[str, Record] = {}

    def get(self, ref: str) -> Record:
        for r in self.records.values():
            by_name = ref.lstrip("/") in (r.id, r.name.lstrip("/"))
            if by_name or (len(ref) >= 4 and r.id.startswith(ref)):
                return r
        raise NotFound(f"No such container: {ref}")


class Backend:
    def __init__(self, tmp: Path, token: str) -> None:
        self.networks = NetworkService(
            tmp / "data" / "network", tmp / "exec",
            {"default-address-pools": [{"base": f"10.{OCTET}.128.0/17", "size": 24}]},
            link_prefix=token, nft_table=f"dockyard-{token}", default_bridge=f"{token}-0")
        self.containers = Containers()
        self.events = EventBus()
        self.pool = ThreadPoolExecutor(4)

    async def run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self.pool, lambda: fn(*args))


async def _scenario(tmp: Path, token: str) -> None:
    backend = Backend(tmp, token)
    client = TestClient(TestServer(make_app(backend, routes=networks.ROUTES)))
    await client.start_server()
    try:
        await _checks(client, backend, tmp, token)
    finally:
        await client.close()
        await backend.networks.uninstall()
        left = {k: v for k, v in backend.networks.kernel_objects().items() if v}
        backend.pool.shutdown()
        assert not left, f"left behind: {left}"


async def _checks(client: TestClient, backend: Backend, tmp: Path, token: str) -> None:
    async def call(method: str, path: str, body=None, status: int = 200):
        r = await client.request(method, path, data=None if body is None else json.dumps(body))
        text = await r.text()
        assert r.status == status, f"{method} {path}: {r.status} {text}"
        return json.loads(text) if text.strip() else None

    names = {n["Name"] for n in await call("GET", "/networks")}
    assert names == {"bridge", "host", "none"}
    name = f"{token}-api"
    created = await call("POST", "/v1.41/networks/create", {
        "Name": name, "CheckDuplicate": True, "Labels": {"team": "a"},
        "IPAM": {"Config": [{"Subnet": f"10.{OCTET}.250.0/24", "IPRange": f"10.{OCTET}.250.128/25",
                             "Gateway": f"10.{OCTET}.250.1"}]},
        "Options": {"com.docker.network.driver.mtu": "1400"}}, status=201)
    assert len(created["Id"]) == 64 and created["Warning"] == ""
    doc = await call("GET", f"/networks/{created['Id'][:12]}")
    assert doc["Name"] == name and doc["Driver"] == "bridge" and doc["Scope"] == "local"
    assert doc["IPAM"]["Config"] == [{"Subnet": f"10.{OCTET}.250.0/24",
                                      "IPRange": f"10.{OCTET}.250.128/25",
                                      "Gateway": f"10.{OCTET}.250.1"}]
    assert doc["Labels"] == {"team": "a"} and doc["Containers"] == {}

    err = await call("POST", "/networks/create", {"Name": name}, status=409)
    assert "already exists" in err["message"]
    err = await call("POST", "/networks/create", {"Name": f"{token}-o", "IPAM": {"Config": [
        {"Subnet": f"10.{OCTET}.250.0/25"}]}}, status=403)
    assert err["message"] == "Pool overlaps with other one on this address space"
    await call("POST", "/networks/create", {"Name": f"{token}-b", "IPAM": {"Config": [
        {"Subnet": "300.1.0.0/16"}]}}, status=400)
    await call("GET", "/networks/nonexistent-net", status=404)
    await call("DELETE", "/networks/bridge", status=403)
    assert [n["Name"] for n in await call(
        "GET", "/networks?filters=" + json.dumps({"label": ["team=a"]}))] == [name]
    assert {n["Name"] for n in await call(
        "GET", "/networks?filters=" + json.dumps({"type": ["builtin"]}))} == \
        {"bridge", "host", "none"}
    await call("GET", "/networks?filters=" + json.dumps({"bogus": ["x"]}), status=400)

    # a running container (set up the way the engine would), connected over the API
    cid = hashlib.sha256(f"{token}-api-c".encode()).hexdigest()
    backend.containers.records[cid] = Record(cid, "/apictr")
    await backend.networks.setup(ContainerNetRequest(
        cid, "/apictr", cid[:12], "", "bridge", {}, {}, False, {}, [], [], [], [],
        str(tmp / "containers" / cid)))
    await call("POST", f"/networks/{name}/connect", {"Container": "apictr", "EndpointConfig": {
        "IPAMConfig": {"IPv4Address": f"10.{OCTET}.250.200"}, "Aliases": ["svc"]}})
    doc = await call("GET", f"/networks/{name}")
    assert doc["Containers"][cid]["IPv4Address"] == f"10.{OCTET}.250.200/24"
    assert doc["Containers"][cid]["Name"] == "apictr"
    settings = backend.networks.container_ip(cid)
    assert settings["Networks"][name]["Aliases"][0] == "svc"
    err = await call("DELETE", f"/networks/{name}", status=403)
    assert "active endpoints" in err["message"]
    await call("POST", f"/networks/{name}/connect", {"Container": "nope"}, status=404)
    await call("POST", f"/networks/{name}/disconnect", {"Container": cid})
    await call("POST", f"/networks/{name}/disconnect", {"Container": cid}, status=403)
    await backend.networks.teardown(cid)

    pruned = await call("POST", "/networks/prune")
    assert pruned["NetworksDeleted"] == [name]
    assert {n["Name"] for n in await call("GET", "/networks")} == {"bridge", "host", "none"}
    actions = [(e.type, e.action) for e in backend.events.history(None, None)]
    assert ("network", "create") in actions and ("network", "connect") in actions
    assert ("network", "disconnect") in actions and ("network", "destroy") in actions


def test_networks_api(tmp_path: Path):
    require_root()
    asyncio.run(_scenario(tmp_path, os.environ["DOCKYARD_TEST_TOKEN"]))


@pytest.mark.parametrize("body", [b"[]", b"{\"Name\": \"\"}", b"not json"])
def test_create_rejects_bad_bodies(tmp_path: Path, body: bytes):
    require_root()

    async def main() -> None:
        backend = Backend(tmp_path, os.environ["DOCKYARD_TEST_TOKEN"])
        client = TestClient(TestServer(make_app(backend, routes=networks.ROUTES)))
        await client.start_server()
        try:
            r = await client.post("/networks/create", data=body)
            assert r.status == 400, await r.text()
            assert "message" in await r.json()
        finally:
            await client.close()
            await backend.networks.uninstall()
            backend.pool.shutdown()
    asyncio.run(main())
