"""The archive, export and changes endpoints through the aiohttp app, over a fake
container service (the engine's seam: get / fs_view / upper_dir)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from dockyard.api import app as api
from dockyard.api import archive as aapi
from dockyard.daemon.backend import Backend
from dockyard.daemon.config import DaemonConfig
from dockyard.engine.mounts import FsView, MountPlan
from dockyard.errors import NotFound


@dataclass
class FakeRecord:
    id: str
    config: dict = field(default_factory=dict)
    host_config: dict = field(default_factory=dict)


class FakeContainers:
    def __init__(self, root: Path, read_only: bool = False) -> None:
        self.rootfs = root / "rootfs"
        self.vol = root / "vol"
        self.upper = root / "upper"
        for d in (self.rootfs / "etc", self.vol, self.upper / "etc"):
            d.mkdir(parents=True)
        (self.rootfs / "etc" / "passwd").write_text("root:x:0:0::/:/bin/sh\n")
        (self.rootfs / "data").mkdir()
        (self.vol / "inv").write_text("volume file")
        (self.upper / "etc" / "new").write_text("n")
        self.read_only = read_only
        self.views = 0

    def get(self, ref: str) -> FakeRecord:
        if ref != "ctr":
            raise NotFound(f"No such container: {ref}")
        return FakeRecord("f" * 64, host_config={"ReadonlyRootfs": self.read_only})

    @contextlib.contextmanager
    def fs_view(self, ref: str):
        self.get(ref)
        self.views += 1
        try:
            yield FsView(self.rootfs, [MountPlan("volume", str(self.vol), "/data", name="v")])
        finally:
            self.views -= 1

    def upper_dir(self, ref: str) -> Path:
        self.get(ref)
        return self.upper


def run_requests(tmp_path: Path, steps, read_only: bool = False):
    async def go():
        cfg = DaemonConfig(data_root=str(tmp_path / "root"), exec_root=str(tmp_path / "exec"),
                           pidfile=str(tmp_path / "pid"), hosts=["unix:///x"]).finish()
        backend = Backend(cfg)
        fake = FakeContainers(tmp_path, read_only)
        backend.__dict__["containers"] = fake
        out = []
        async with TestClient(TestServer(api.make_app(backend, aapi.ROUTES))) as client:
            for method, path, data in steps:
                resp = await client.request(method, path, data=data)
                out.append((resp.status, dict(resp.headers), await resp.read()))
        del backend.__dict__["containers"]   # the fake has nothing to close
        await backend.close()
        assert fake.views == 0   # every view closed
        return out, fake
    return asyncio.run(go())


def _names(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        return t.getnames()


def _tar(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_head_and_get_archive(tmp_path: Path):
    (head, get, missing, nocontainer), _ = run_requests(tmp_path, [
        ("HEAD", "/v1.41/containers/ctr/archive?path=/data", None),
        ("GET", "/containers/ctr/archive?path=/data/inv", None),
        ("GET", "/containers/ctr/archive?path=/nope", None),
        ("GET", "/containers/zzz/archive?path=/", None),
    ])
    assert head[0] == 200
    stat = json.loads(base64.b64decode(head[1][aapi.STAT_HEADER]))
    assert stat["name"] == "data" and stat["mode"] == (1 << 31) | 0o755
    assert get[0] == 200 and get[1]["Content-Type"] == "application/x-tar"
    assert _names(get[2]) == ["inv"]
    assert json.loads(base64.b64decode(get[1][aapi.STAT_HEADER]))["size"] == 11
    assert missing[0] == 404
    assert json.loads(missing[2]) == {"message": "Could not find the file /nope in container ctr"}
    assert nocontainer[0] == 404


def test_put_archive_lands_in_the_volume(tmp_path: Path):
    (ok, not_dir, hostile), fake = run_requests(tmp_path, [
        ("PUT", "/containers/ctr/archive?path=/data", _tar("sub/put.txt", b"hello")),
        ("PUT", "/containers/ctr/archive?path=/etc/passwd", _tar("x", b"x")),
        ("PUT", "/containers/ctr/archive?path=/data", _tar("../../x", b"x")),
    ])
    assert ok[0] == 200
    assert (fake.vol / "sub" / "put.txt").read_bytes() == b"hello"
    assert not_dir[0] == 400
    assert json.loads(not_dir[2]) == {"message": "extraction point is not a directory"}
    assert hostile[0] == 400 and b"outside of" in hostile[2]
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("read_only,status", [(True, 403), (False, 200)])
def test_put_into_a_read_only_rootfs(tmp_path: Path, read_only: bool, status: int):
    [(got, _, body)], _ = run_requests(tmp_path, [
        ("PUT", "/containers/ctr/archive?path=/etc", _tar("f", b"f"))], read_only=read_only)
    assert got == status, body


def test_export_and_changes(tmp_path: Path):
    (exp, chg), _ = run_requests(tmp_path, [
        ("GET", "/containers/ctr/export", None),
        ("GET", "/containers/ctr/changes", None),
    ])
    assert exp[0] == 200
    names = _names(exp[2])
    assert "etc/passwd" in names and "data/inv" not in names
    # the fake upperdir is no snapshot: without lower layers all of it is new
    assert json.loads(chg[2]) == [{"Path": "/etc", "Kind": 1}, {"Path": "/etc/new", "Kind": 1}]
