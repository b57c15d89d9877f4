"""The application without a daemon process: route table, version negotiation,
headers, error mapping and the 404 for unknown routes (aiohttp's test server)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from dockyard.api import app as api
from dockyard.daemon.backend import Backend
from dockyard.daemon.config import DaemonConfig
from dockyard.daemon.hostinfo import HostInfo
from dockyard.errors import Conflict, InvalidArgument, NotFound, NotModified

HOST = HostInfo(hostname="h", kernel="6.1.0-test", os_name="Debian GNU/Linux 12",
                os_version="12", machine="x86_64", goarch="amd64", ncpu=3,
                mem_total=3 << 30, cgroup_version="1", cgroup_mode="hybrid",
                driver="overlay2", python="3.11.7")


def make_backend(tmp_path: Path) -> Backend:
    cfg = DaemonConfig(data_root=str(tmp_path / "root"), exec_root=str(tmp_path / "exec"),
                       pidfile=str(tmp_path / "pid"), hosts=["unix:///x"]).finish()
    backend = Backend(cfg)
    backend.host = HOST
    return backend


def call(tmp_path: Path, method: str, path: str, routes=None, **kw):
    """(status, headers, body bytes) of one request to a fresh app."""
    async def go():
        backend = make_backend(tmp_path)
        async with TestClient(TestServer(api.make_app(backend, routes))) as client:
            resp = await client.request(method, path, **kw)
            body = await resp.read()
            out = resp.status, dict(resp.headers), body
        await backend.close()
        return out
    return asyncio.run(go())


def test_version_check_bounds():
    assert api.check_version("1.41") == (1, 41)
    assert api.check_version("1.24") == (1, 24)
    with pytest.raises(InvalidArgument, match="too new"):
        api.check_version("1.42")
    with pytest.raises(InvalidArgument, match="too old"):
        api.check_version("1.23")
    with pytest.raises(InvalidArgument):
        api.parse_version("1")
    assert api.parse_version("1.9") < api.parse_version("1.10")   # numbers, not strings


def test_route_table_serves_images_system_and_containers():
    table = {(m, p) for m, p, _ in api.route_table()}
    for needed in [("GET", "/_ping"), ("GET", "/version"), ("GET", "/info"),
                   ("GET", "/system/df"), ("GET", "/events"), ("POST", "/auth"),
                   ("GET", "/images/json"), ("POST", "/images/create"),
                   ("GET", "/images/{name:.+}/json"), ("GET", "/images/{name:.+}/history"),
                   ("POST", "/images/{name:.+}/tag"), ("DELETE", "/images/{name:.+}"),
                   ("POST", "/images/prune"), ("GET", "/images/{name:.+}/get"),
                   ("GET", "/images/get"), ("POST", "/images/load"),
                   ("POST", "/images/{name:.+}/push"), ("GET", "/images/search")]:
        assert needed in table, needed
    for needed in [("POST", "/containers/create"), ("GET", "/containers/json"),
                   ("GET", "/containers/{id}/json"), ("POST", "/containers/{id}/attach"),
                   ("POST", "/containers/{id}/wait"), ("DELETE", "/containers/{id}")]:
        assert needed in table, needed
    assert len(table) == len(api.route_table()), "a route is listed twice"


def test_literal_image_paths_come_before_name_patterns():
    paths = [p for _, p, _ in api.route_table()]
    first_pattern = min(i for i, p in enumerate(paths) if "{name" in p)
    for literal in ("/images/json", "/images/create", "/images/load", "/images/get",
                    "/images/prune", "/images/search"):
        assert paths.index(literal) < first_pattern, literal


def test_ping_has_dockers_headers_on_both_paths(tmp_path):
    for path in ("/_ping", "/v1.41/_ping", "/v1.24/_ping"):
        status, headers, body = call(tmp_path, "GET", path)
        assert (status, body) == (200, b"OK")
        assert headers["Api-Version"] == "1.41" and headers["Ostype"] == "linux"
        assert headers["Server"].startswith("Dockyard/")


def test_version_document(tmp_path):
    import json

    status, _, body = call(tmp_path, "GET", "/version")
    doc = json.loads(body)
    assert status == 200
    assert doc["KernelVersion"] == "6.1.0-test" and doc["Arch"] == "amd64"
    assert doc["Components"][0]["Details"]["MinAPIVersion"] == "1.24"


def test_too_new_version_is_400_json(tmp_path):
    status, headers, body = call(tmp_path, "GET", "/v1.50/version")
    assert status == 400 and headers["Content-Type"].startswith("application/json")
    assert b"client version 1.50 is too new" in body
    assert headers["Api-Version"] == "1.41"


@pytest.mark.parametrize(("method", "path"), [("GET", "/nope"), ("GET", "/v1.41/nope"),
                                              ("PUT", "/_ping"), ("GET", "/swarm")])
def test_unknown_route_or_method_is_page_not_found(tmp_path, method, path):
    status, _, body = call(tmp_path, method, path)
    assert status == 404 and body == b'{"message": "page not found"}\n'


def _raiser(exc: Exception):
    async def handler(request: web.Request) -> web.Response:
        raise exc
    return handler


@pytest.mark.parametrize(("exc", "status"), [
    (NotFound("No such image: x"), 404), (Conflict("in use"), 409),
    (InvalidArgument("bad"), 400), (RuntimeError("bug"), 500)])
def test_errors_are_mapped_once_to_dockers_body(tmp_path, exc, status):
    routes = [("GET", "/boom", _raiser(exc))]
    got, headers, body = call(tmp_path, "GET", "/v1.30/boom", routes=routes)
    assert got == status
    import json

    assert json.loads(body) == {"message": str(exc)}
    assert headers["Api-Version"] == "1.41"


def test_not_modified_has_no_body(tmp_path):
    status, _, body = call(tmp_path, "GET", "/boom",
                           routes=[("GET", "/boom", _raiser(NotModified("same")))])
    assert status == 304 and body == b""


def test_an_oversized_json_body_is_a_client_error(tmp_path):
    status, _, _ = call(tmp_path, "POST", "/auth", data=b"x" * (17 << 20))
    assert status == 413


def test_auth_needs_credentials(tmp_path):
    status, _, body = call(tmp_path, "POST", "/auth", data=b'{"serveraddress": "h:1"}')
    assert status == 400 and b"username and password are required" in body
    status, _, _ = call(tmp_path, "POST", "/auth", data=b"not json")
    assert status == 400
