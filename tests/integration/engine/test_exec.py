"""exec against real containers (started with dockyard-runtime): output, exit codes,
tty, env, user, workdir, stdin, events; then the HTTP endpoints through docker-py
and a raw hijacked connection (upgrade, frames, half-close)."""

from __future__ import annotations

import asyncio
import json
import struct
import time

import pytest

from dockyard.daemon.events import EventBus
from dockyard.errors import Conflict, NotFound
from tests.conftest import require_root
from tests.integration.engine.test_exec_harness import (
    ApiServer,
    Output,
    runtime_container,
    service_for,
)


@pytest.fixture
def container(runtime_cmd, busybox_rootfs, container_id, tmp_path):
    require_root()
    with runtime_container(runtime_cmd, busybox_rootfs, container_id,
                           tmp_path / "runtime") as c:
        yield c


async def _run(svc, cid, body, stdin: bytes | None = None):
    exec_id = await svc.create(cid, body)
    out = Output()
    reader = None
    if stdin is not None:
        reader = asyncio.StreamReader()
        reader.feed_data(stdin)
        reader.feed_eof()
    code = await svc.start(exec_id, sink=out, stdin=reader)
    return exec_id, code, out


def test_output_exit_code_env_workdir_and_events(container):
    events = EventBus()
    svc = service_for(container, events=events)

    async def main():
        exec_id, code, out = await _run(svc, container.id, {
            "Cmd": ["sh", "-c", "echo out; echo err >&2; pwd; echo $X $FROMIMAGE $HOME; "
                                "hostname; exit 3"],
            "Env": ["X=1"], "WorkingDir": "/tmp", "AttachStdout": True, "AttachStderr": True})
        assert code == 3
        assert out.stdout == "out\n/tmp\n1 yes /root\nexechost\n"
        assert out.stderr == "err\n"
        doc = svc.inspect(exec_id)
        assert doc["ExitCode"] == 3 and doc["Running"] is False and doc["Pid"] > 0
        assert svc.ids_for(container.id) == [exec_id]
        # only stdout attached: stderr is dropped
        _, code, out = await _run(svc, container.id, {
            "Cmd": ["sh", "-c", "echo a; echo b >&2"], "AttachStdout": True})
        assert (code, out.stdout, out.stderr) == (0, "a\n", "")
        return exec_id

    exec_id = asyncio.run(main())
    actions = [(e.action, dict(e.attributes)) for e in events.history(None, None)]
    assert actions[0] == ("exec_create: sh -c echo out; echo err >&2; pwd; echo $X "
                          "$FROMIMAGE $HOME; hostname; exit 3",
                          {"execID": exec_id, "image": "busybox:dytest", "name": container.id})
    assert actions[1][0].startswith("exec_start: sh -c echo out")
    assert actions[2] == ("exec_die", {"execID": exec_id, "exitCode": "3",
                                       "image": "busybox:dytest", "name": container.id})


def test_user_stdin_tty_and_missing_command(container):
    svc = service_for(container)

    async def main():
        _, code, out = await _run(svc, container.id, {"Cmd": ["id"], "User": "alice",
                                                      "AttachStdout": True})
        assert (code, out.stdout) == (0, "uid=1000(alice) gid=1000(alice) groups=50(staff)\n")
        _, code, out = await _run(svc, container.id, {"Cmd": ["sh", "-c", "id -u; id -g"],
                                                      "User": "4242:7", "AttachStdout": True})
        assert out.stdout == "4242\n7\n"
        _, code, out = await _run(svc, container.id, {"Cmd": ["id"], "User": "nobody",
                                                      "AttachStdout": True})
        assert code == 126 and "unable to find user nobody" in out.stdout
        _, code, out = await _run(svc, container.id, {
            "Cmd": ["sh", "-c", "cat; echo done"], "AttachStdin": True,
            "AttachStdout": True}, stdin=b"line1\nline2\n")
        assert (code, out.stdout) == (0, "line1\nline2\ndone\n")
        _, code, out = await _run(svc, container.id, {
            "Cmd": ["sh", "-c", "tty; stty size; echo $TERM; exit 4"], "Tty": True,
            "AttachStdout": True, "ConsoleSize": [30, 100]})
        assert code == 4
        assert out.stdout == "/dev/pts/0\r\n30 100\r\nxterm\r\n"
        _, code, out = await _run(svc, container.id, {"Cmd": ["/no/such"],
                                                      "AttachStdout": True,
                                                      "AttachStderr": True})
        assert code == 126 and "/no/such" in out.stderr

    asyncio.run(main())


def test_detached_exec_privileged_and_refusals(container):
    svc = service_for(container)

    async def main():
        exec_id = await svc.create(container.id, {"Cmd": ["sh", "-c", "sleep 0.3; exit 7"]})
        assert await svc.start(exec_id, detach=True) is None
        doc = svc.inspect(exec_id)
        assert doc["Running"] is True and doc["ExitCode"] is None
        with pytest.raises(Conflict, match="is already running"):
            await svc.start(exec_id)
        assert await asyncio.wait_for(svc.wait(exec_id), 10) == 7
        with pytest.raises(Conflict, match="has already run"):
            await svc.start(exec_id)
        with pytest.raises(NotFound, match="No such exec instance"):
            svc.inspect("nope")
        _, _, out = await _run(svc, container.id, {
            "Cmd": ["sh", "-c", "grep CapEff /proc/self/status"], "Privileged": True,
            "AttachStdout": True})
        full = int(out.stdout.split()[1], 16)
        _, _, out = await _run(svc, container.id, {
            "Cmd": ["sh", "-c", "grep CapEff /proc/self/status"], "AttachStdout": True})
        assert full > int(out.stdout.split()[1], 16)
        # a stopped or paused container refuses, in dockerd's words
        for status, words in (("exited", "is not running"), ("paused", "is paused")):
            other = service_for(container, status=status)
            with pytest.raises(Conflict, match=words):
                await other.create(container.id, {"Cmd": ["true"]})

    asyncio.run(main())


def test_probe_collects_output_and_times_out(container):
    svc = service_for(container)

    async def main():
        target = container.target()
        assert await svc.probe(target, ["sh", "-c", "echo hi; exit 2"], 10) == (2, "hi\n")
        t0 = time.monotonic()
        code, text = await svc.probe(target, ["sleep", "30"], 0.5)
        assert (code, text) == (-1, "Health check exceeded timeout (500ms)")
        assert time.monotonic() - t0 < 5
        code, text = await svc.probe(target, ["sh", "-c", "head -c 5000 /dev/zero | tr "
                                                           "'\\0' x"], 10, limit=4096)
        assert code == 0 and text == "x" * 4096 + "..."
        assert svc.ids_for(container.id) == []      # probes are forgotten

    asyncio.run(main())
    # the killed probe is reaped: only the container's sleep is left in its cgroup
    from dockyard.engine.top import container_top

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        procs = container_top(container.pid, "")["Processes"]
        if len(procs) == 1:
            break
        time.sleep(0.1)
    assert [p[-1] for p in procs] == ["sleep 300"]


# --- HTTP ---------------------------------------------------------------------------

def _read_frames(data: bytes) -> dict[int, bytes]:
    out = {1: b"", 2: b""}
    while data:
        stream, size = struct.unpack(">BxxxL", data[:8])
        out[stream] += data[8:8 + size]
        data = data[8 + size:]
    return out


def _http(sock, method: str, path: str, body: dict | None = None,
          headers: str = "") -> tuple[str, bytes]:
    raw = json.dumps(body).encode() if body is not None else b""
    sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: docker\r\nContent-Type: "
                 f"application/json\r\nContent-Length: {len(raw)}\r\n{headers}\r\n"
                 .encode() + raw)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            break
        head += chunk
    return head.decode(), b""


def _read_all(sock) -> bytes:
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def test_docker_py_exec_api(container, tmp_path):
    import docker

    svc = service_for(container)
    with ApiServer(svc, tmp_path / "api.sock") as server:
        client = docker.APIClient(base_url=server.base_url, version="1.41", timeout=30)
        try:
            ex = client.exec_create(container.id, ["sh", "-c", "echo hi; echo oops >&2; "
                                                   "exit 5"])
            out = client.exec_start(ex["Id"], demux=True)
            assert out == (b"hi\n", b"oops\n")
            info = client.exec_inspect(ex["Id"])
            assert info["ExitCode"] == 5 and info["Running"] is False
            assert info["ProcessConfig"]["entrypoint"] == "sh"
            ex = client.exec_create(container.id, "sh -c 'echo $T'", environment=["T=ok"],
                                    tty=True)
            assert client.exec_start(ex["Id"], tty=True) == b"ok\r\n"
            ex = client.exec_create(container.id, ["true"])
            assert client.exec_start(ex["Id"], detach=True) in ("", b"")
            with pytest.raises(docker.errors.APIError) as err:
                client.exec_create(container.id, [])
            assert err.value.status_code == 400
            with pytest.raises(docker.errors.NotFound):
                client.exec_inspect("f" * 64)
            with pytest.raises(docker.errors.NotFound):
                client.exec_create("nosuchcontainer", ["true"])
        finally:
            client.close()


def test_raw_hijack_upgrade_half_close_and_resize(container, tmp_path):
    svc = service_for(container)
    with ApiServer(svc, tmp_path / "api.sock") as server:
        # create
        s = server.raw()
        s.sendall(b"")
        body = {"Cmd": ["sh", "-c", "cat; echo end >&2"], "AttachStdin": True,
                "AttachStdout": True, "AttachStderr": True}
        import http.client

        conn = http.client.HTTPConnection("docker")
        conn.sock = s
        conn.request("POST", f"/v1.41/containers/{container.id}/exec", json.dumps(body),
                     {"Content-Type": "application/json"})
        resp = conn.getresponse()
        assert resp.status == 201
        exec_id = json.loads(resp.read())["Id"]
        conn.close()
        # start with Upgrade: tcp -> 101, stdin, half-close, output still arrives
        s = server.raw()
        head, _ = _http(s, "POST", f"/v1.41/exec/{exec_id}/start", {"Detach": False,
                                                                  "Tty": False},
                        "Connection: Upgrade\r\nUpgrade: tcp\r\n")
        assert head.startswith("HTTP/1.1 101 UPGRADED"), head
        assert "application/vnd.docker.raw-stream" in head
        s.sendall(b"piped input\n")
        import socket as _socket

        s.shutdown(_socket.SHUT_WR)
        frames = _read_frames(_read_all(s))
        s.close()
        assert frames == {1: b"piped input\n", 2: b"end\n"}
        assert svc.inspect(exec_id)["ExitCode"] == 0
        # a start without Upgrade gets 200 and the same raw stream (tty: no frames)
        exec_id = server.call(svc.create(container.id, {"Cmd": ["sh", "-c",
                                                                "sleep 2; stty size"],
                                                        "Tty": True, "AttachStdout": True}))
        s = server.raw()
        head, _ = _http(s, "POST", f"/exec/{exec_id}/start", {"Tty": True})
        assert head.startswith("HTTP/1.1 200"), head
        assert "Transfer-Encoding" not in head and "Content-Length" not in head
        deadline = time.monotonic() + 5
        while not svc.inspect(exec_id)["Running"] and time.monotonic() < deadline:
            time.sleep(0.02)
        r = server.raw()
        conn = http.client.HTTPConnection("docker")
        conn.sock = r
        conn.request("POST", f"/exec/{exec_id}/resize?h=33&w=120")
        assert conn.getresponse().status == 200
        conn.close()
        assert _read_all(s) == b"33 120\r\n"
        s.close()
        # starting it again: 409 before any stream
        s = server.raw()
        head, _ = _http(s, "POST", f"/exec/{exec_id}/start", {})
        assert head.startswith("HTTP/1.1 409"), head
        s.close()


def test_detach_keys_leave_the_process_running(container):
    events = EventBus()
    svc = service_for(container, events=events)

    async def main():
        exec_id = await svc.create(container.id, {
            "Cmd": ["sh", "-c", "read x; echo got $x; sleep 1; exit 9"], "Tty": True,
            "AttachStdin": True, "AttachStdout": True, "DetachKeys": "ctrl-x,y"})
        reader = asyncio.StreamReader()
        out = Output()
        task = asyncio.ensure_future(svc.start(exec_id, stdin=reader, sink=out))
        reader.feed_data(b"abc\r")
        for _ in range(100):
            if "got abc" in out.stdout:
                break
            await asyncio.sleep(0.02)
        reader.feed_data(b"\x18y")
        assert await asyncio.wait_for(task, 10) is None      # detached
        assert svc.inspect(exec_id)["Running"] is True
        assert await asyncio.wait_for(svc.wait(exec_id), 10) == 9
        assert "got abc" in out.stdout

    asyncio.run(main())
    assert "exec_detach" in [e.action for e in events.history(None, None)]


def test_private_files_live_under_the_work_root_and_go(container):
    import shutil
    import tempfile
    from pathlib import Path

    root = Path(tempfile.mkdtemp(prefix="w"))    # short: a unix socket path lives there
    svc = service_for(container)
    svc.work_root = str(root / "execs")
    seen: list[list[str]] = []

    async def main():
        exec_id = await svc.create(container.id, {"Cmd": ["sh", "-c", "sleep 0.3"],
                                                  "Tty": True})
        task = asyncio.ensure_future(svc.start(exec_id, sink=Output()))
        for _ in range(300):
            dirs = list((root / "execs").glob("x*")) if (root / "execs").exists() else []
            names = sorted(p.name for d in dirs for p in d.iterdir())
            if "c.sock" in names:
                seen.append(names)
                break
            await asyncio.sleep(0.01)
        assert await task == 0

    try:
        asyncio.run(main())
        assert seen and "process.json" in seen[0]
        assert list((root / "execs").iterdir()) == []
    finally:
        shutil.rmtree(root)
