"""The hand-written HTTP client: framing, streams, hijack, errors, negotiation."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from dockyard.cli import client as cl
from dockyard.cli import jsonfast
from dockyard.errors import Conflict, InvalidArgument, NotFound

from .fakedaemon import FakeDaemon, http_response


@pytest.fixture
def fake(tmp_path):
    routes = {}

    def handler(method, path, headers, body, conn):
        if path == "/_ping":
            return http_response(200, "OK", {"Api-Version": routes.get("api", "1.41")})
        for key, fn in list(routes.items()):
            if isinstance(key, tuple) and key[0] == method and path.startswith(key[1]):
                return fn(path, headers, body, conn)
        return http_response(404, {"message": "page not found"})

    d = FakeDaemon(tmp_path / "d.sock", handler)
    d.routes = routes
    yield d
    d.close()


def test_parse_host():
    assert cl.parse_host("unix:///run/x.sock") == ("unix", "/run/x.sock")
    assert cl.parse_host("tcp://127.0.0.1:2375") == ("tcp", ("127.0.0.1", 2375))
    assert cl.parse_host("tcp://[::1]:2375") == ("tcp", ("::1", 2375))
    for bad in ("unix://rel", "tcp://nohost", "ftp://x"):
        with pytest.raises(InvalidArgument):
            cl.parse_host(bad)


def test_default_host_from_env(monkeypatch):
    monkeypatch.setenv("DOCKYARD_HOST", "tcp://h:1")
    assert cl.Client().host == "tcp://h:1"
    monkeypatch.delenv("DOCKYARD_HOST")
    assert cl.Client().host == cl.DEFAULT_HOST


def test_query_encoding():
    q = cl.encode_query({"all": True, "name": "a b/é", "x": None,
                         "filters": {"label": ["a=b"]}})
    assert q == "?all=1&name=a%20b%2F%C3%A9&filters=%7B%22label%22%3A%5B%22a%3Db%22%5D%7D"
    assert cl.encode_query({}) == ""


def test_json_roundtrip_matches_json_module():
    doc = {"a": [1, 2.5, None, True, "é\n\"x\""], "b": {"c": {}}, "d": []}
    assert jsonfast.dumps(doc) == json.dumps(doc, separators=(",", ":"))
    assert jsonfast.loads(json.dumps(doc, indent=2)) == doc
    with pytest.raises(ValueError):
        jsonfast.loads('{"a": 1} x')
    with pytest.raises(ValueError):
        jsonfast.loads('{"a": ')


def test_get_json_negotiates_and_keeps_alive(fake):
    fake.routes[("GET", "/v1.40/info")] = lambda *a: http_response(200, {"ID": "x"})
    fake.routes["api"] = "1.40"
    c = cl.Client(fake.host)
    assert c.get("/info") == {"ID": "x"}
    assert c.get("/info") == {"ID": "x"}
    assert c.version == "1.40"
    assert [r[1] for r in fake.requests] == ["/_ping", "/v1.40/info", "/v1.40/info"]
    assert fake.connections == 1   # one kept-alive connection for all three
    c.close()


def test_chunked_body_and_json_stream(fake):
    msgs = [{"status": "Pulling"}, {"status": "Done", "id": "é" * 5}, 42]
    body = "".join(json.dumps(m) + "\r\n" for m in msgs)
    fake.routes[("POST", "/v1.41/images/create")] = \
        lambda *a: http_response(200, body, chunked=True)
    c = cl.Client(fake.host)
    resp = c.stream("POST", "/images/create", {"fromImage": "busybox"})
    assert list(resp.iter_json()) == msgs
    assert fake.requests[-1][1] == "/v1.41/images/create?fromImage=busybox"


def test_json_stream_without_newlines(fake):
    fake.routes[("GET", "/v1.41/events")] = \
        lambda *a: http_response(200, '{"a":1}{"b":[2]}', chunked=True)
    resp = cl.Client(fake.host).stream("GET", "/events")
    assert list(resp.iter_json()) == [{"a": 1}, {"b": [2]}]


def test_read_to_close_body(fake):
    def handler(path, headers, body, conn):
        conn.sendall(b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\n\r\nhello ")
        conn.sendall(b"world")
        return None   # closes
    fake.routes[("GET", "/v1.41/containers/x/logs")] = handler
    assert cl.Client(fake.host).stream("GET", "/containers/x/logs").read() == b"hello world"


@pytest.mark.parametrize(("status", "kind"), [(404, NotFound), (409, Conflict),
                                              (400, InvalidArgument)])
def test_errors_carry_the_daemon_message(fake, status, kind):
    fake.routes[("DELETE", "/v1.41/containers/")] = \
        lambda *a: http_response(status, {"message": "No such container: nope"})
    c = cl.Client(fake.host)
    with pytest.raises(kind) as e:
        c.delete("/containers/nope")
    assert e.value.message == "No such container: nope"
    assert isinstance(e.value, cl.APIError) and e.value.status == status


def test_server_error_without_json(fake):
    fake.routes[("GET", "/v1.41/x")] = lambda *a: http_response(500, "boom")
    with pytest.raises(cl.APIError) as e:
        cl.Client(fake.host).get("/x")
    assert e.value.message == "boom" and e.value.status == 500


def test_unreachable(tmp_path):
    c = cl.Client(f"unix://{tmp_path}/none.sock")
    with pytest.raises(cl.DaemonUnreachable) as e:
        c.get("/info")
    assert "Cannot connect to the dockyard daemon at unix://" in e.value.message


def test_post_body_is_json(fake):
    fake.routes[("POST", "/v1.41/containers/create")] = \
        lambda p, h, b, c: http_response(201, {"Id": "abc", "echo": json.loads(b)})
    out = cl.Client(fake.host).post("/containers/create", {"name": "n"}, {"Image": "busybox"})
    assert out == {"Id": "abc", "echo": {"Image": "busybox"}}
    headers = fake.requests[-1][2]
    assert headers["content-type"] == "application/json"


def test_hijack_is_a_raw_duplex_stream(fake):
    def handler(path, headers, body, conn):
        assert headers["upgrade"] == "tcp"
        conn.sendall(b"HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
                     b"early")
        data = b""
        while True:
            chunk = conn.recv(100)
            if not chunk:
                break
            data += chunk
        conn.sendall(b"echo:" + data)
        return None
    fake.routes[("POST", "/v1.41/containers/x/attach")] = handler
    h = cl.Client(fake.host).hijack("/containers/x/attach", {"stream": True})
    assert h.status == 101
    assert h.recv() == b"early"   # bytes that came with the head are not lost
    h.sendall(b"in")
    h.close_write()
    got = b""
    while chunk := h.recv():
        got += chunk
    assert got == b"echo:in"
    h.close()


def test_send_only_then_finish(fake):
    fake.routes[("POST", "/v1.41/containers/x/wait")] = \
        lambda *a: http_response(200, {"StatusCode": 3, "Error": None})
    c = cl.Client(fake.host)
    conn = c.send_only("POST", "/containers/x/wait", {"condition": "removed"})
    assert c.finish(conn).json()["StatusCode"] == 3


def test_client_import_stays_light():
    code = ("import sys; import dockyard.cli.client; "
            "print([m for m in ('re', 'enum', 'json', 'socket', 'http.client', "
            "'dataclasses', 'argparse') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr


def test_fresh_streams_keep_the_idle_connection(fake):
    fake.routes[("GET", "/v1.41/info")] = lambda *a: http_response(200, {"ID": "x"})
    fake.routes[("GET", "/v1.41/events")] = \
        lambda *a: http_response(200, "{}", chunked=True)
    c = cl.Client(fake.host)
    c.get("/info")
    assert list(c.stream("GET", "/events").iter_json()) == [{}]
    c.get("/info")
    assert fake.connections == 2   # the stream had its own; /info reused the first
    c.close()
