"""Property-based fuzzing of every implemented endpoint against Docker's swagger file.

schemathesis generates requests from ``shared/specs/docker-api/v1.41.yaml`` (valid
and edge-case parameters and bodies) for each operation the daemon serves. For every
request: no 5xx, an answer (headers) within the timeout, and every error is Docker's
JSON body. Afterwards every container the fuzzing made is removable and the leak check
finds no kernel object left behind.

Left out, with the reason:
- operations that reach the network (pull via /images/create, push, search, /auth):
  random registry names would only measure DNS timeouts; test_images_api.py covers
  their input checks;
- operations the daemon does not serve (plugins, swarm, ...): they answer 404 and are
  checked once each below.
Streaming operations (events, logs, stats, attach) are read only up to their headers.
"""

from __future__ import annotations

import json
import os
import re
import socket

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.integration.daemon.harness import bootstrap_busybox, running_daemon, short_workdir
from tests.support.shared import SPECS

pytestmark = pytest.mark.integration


SWAGGER = SPECS / "docker-api" / "v1.41.yaml"
NETWORK_BOUND = {("POST", "/images/create"), ("POST", "/images/{name}/push"),
                 ("GET", "/images/search"), ("POST", "/auth")}
STREAMING = {("GET", "/events"), ("GET", "/containers/{id}/logs"),
             ("GET", "/containers/{id}/stats"), ("POST", "/containers/{id}/attach"),
             ("GET", "/containers/{id}/attach/ws"), ("POST", "/exec/{id}/start"),
             ("POST", "/containers/{id}/wait"), ("GET", "/images/{name}/get"),
             ("GET", "/images/get"), ("GET", "/containers/{id}/export"),
             ("GET", "/containers/{id}/archive")}


@schemathesis.serializer("application/x-tar", "application/octet-stream")
def _raw_bytes(ctx, value):
    """Tar and octet-stream bodies are sent as generated: arbitrary bytes (hostile
    archives are exactly what these endpoints must refuse cleanly)."""
    if isinstance(value, bytes):
        return value
    return str(value if value is not None else "").encode()


EXAMPLES = int(os.environ.get("DOCKYARD_FUZZ_EXAMPLES", "30"))
TIMEOUT = 30.0


def _shape(path: str) -> str:
    """A path with its parameters blanked: /images/{name:.+}/json -> /images/{}/json."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def served_operations() -> set[tuple[str, str]]:
    """(METHOD, path shape) of every route the daemon registers."""
    from dockyard.api.app import route_table

    served = set()
    for method, path, _ in route_table():
        served.add((method, _shape(path)))
        if method == "GET":
            served.add(("HEAD", _shape(path)))
    return served


def swagger_operations() -> list[tuple[str, str]]:
    doc_paths = _swagger_paths()
    return sorted((m.upper(), p) for p, item in doc_paths.items() for m in item
                  if m in {"get", "post", "put", "delete", "head"})


def is_served(op: tuple[str, str], served: set[tuple[str, str]]) -> bool:
    return (op[0], _shape(op[1])) in served


def _swagger_paths() -> dict:
    import yaml

    return yaml.safe_load(SWAGGER.read_text())["paths"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def fuzz_daemon(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.fail("integration tests need root")
    work = short_workdir(tmp_path_factory, "schema")
    bootstrap_busybox(work / "root")
    port = _free_port()
    with running_daemon(work, "-H", f"tcp://127.0.0.1:{port}") as d:
        d.base_url = f"http://127.0.0.1:{port}"
        yield d
        _remove_all_containers(d)


def _remove_all_containers(d) -> None:
    reply = d.request("GET", "/containers/json?all=1")
    if reply.status == 404:        # no container engine on this daemon
        return
    assert reply.status == 200, reply.body
    for c in reply.json():
        r = d.request("DELETE", f"/containers/{c['Id']}?force=1&v=1", timeout=60)
        assert r.status in (204, 404), (c["Id"], r.status, r.body)


@pytest.fixture(scope="module")
def schema():
    return schemathesis.openapi.from_path(str(SWAGGER))


def _fuzzed() -> list[tuple[str, str]]:
    served = served_operations()
    return [op for op in swagger_operations()
            if is_served(op, served) and op not in NETWORK_BOUND]


@pytest.mark.timeout(900)
@pytest.mark.parametrize("method,path", _fuzzed(), ids=lambda v: v)
def test_fuzz_operation(schema, fuzz_daemon, method, path):
    operation = schema[path][method]
    streaming = (method, path) in STREAMING

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def check(case):
        kwargs = case.as_transport_kwargs(base_url=fuzz_daemon.base_url)
        with requests.Session() as session:
            response = session.request(**kwargs, timeout=TIMEOUT, stream=streaming)
        try:
            assert response.status_code < 500, (
                method, case.formatted_path, case.query, response.status_code,
                response.content[:300] if not streaming else b"", fuzz_daemon.log_tail())
            if response.status_code >= 400 and method != "HEAD":   # HEAD has no body
                body = response.content if not streaming else response.raw.read(4096)
                assert json.loads(body)["message"], (method, case.formatted_path, body)
        finally:
            response.close()

    check()
    assert fuzz_daemon.request("GET", "/_ping").status == 200


def test_unserved_operations_answer_docker_404(fuzz_daemon):
    """Everything in the swagger file the daemon does not serve answers dockerd's 404
    (never a 500 or a hang), so clients see "page not found" rather than a crash."""
    served = served_operations()
    for method, path in swagger_operations():
        if is_served((method, path), served):
            continue
        concrete = path.replace("{id}", "x").replace("{name}", "x")
        reply = fuzz_daemon.request(method, concrete, timeout=TIMEOUT)
        assert reply.status in (404, 405), (method, path, reply.status, reply.body[:200])
