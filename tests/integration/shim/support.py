"""A zygote under tmp_path and containers from the busybox rootfs, for the shim tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from pathlib import Path

from dockyard.runtime.default_spec import default_spec
from dockyard.shim import LogConfig, ShimClient, ShimRequest, Zygote, read_exit, shim_alive


def make_spec(rootfs: Path, args: list[str], *, tty: bool = False) -> dict:
    spec = default_spec()
    spec["process"]["terminal"] = tty
    spec["process"]["args"] = args
    spec["root"] = {"path": str(rootfs), "readonly": False}
    return spec


class Harness:
    """Starts containers through a real zygote; ``close`` kills what is left."""

    def __init__(self, base: Path, rootfs: Path, token_id: str) -> None:
        self.base = base
        self.rootfs = rootfs
        self.token_id = token_id
        self.exec_root = base / "exec"
        self.runtime_root = str(base / "exec" / "runtime")
        self.zygote: Zygote | None = None
        self.bundles: list[Path] = []
        self.n = 0

    async def open(self) -> Harness:
        self.zygote = await Zygote.spawn(self.exec_root)
        return self

    def request(self, args: list[str], *, tty: bool = False, open_stdin: bool = False,
                stdin_once: bool = False, log: dict | None = None,
                spec_changes=None) -> ShimRequest:
        self.n += 1
        cid = f"{self.token_id}-{self.n}"
        bundle = self.exec_root / "containers" / cid
        bundle.mkdir(parents=True)
        spec = make_spec(self.rootfs, args, tty=tty)
        if spec_changes:
            spec_changes(spec)
        (bundle / "config.json").write_text(json.dumps(spec))
        self.bundles.append(bundle)
        data = self.base / "data" / cid
        data.mkdir(parents=True)
        log_cfg = LogConfig(**({"path": str(data / f"{cid}-json.log")} | (log or {})))
        return ShimRequest(cid, str(bundle), runtime_root=self.runtime_root, tty=tty,
                           open_stdin=open_stdin, stdin_once=stdin_once, log=log_cfg)

    async def start(self, args: list[str], **kw) -> tuple[ShimRequest, ShimClient, int]:
        req = self.request(args, **kw)
        pid = await self.zygote.start(req)
        return req, ShimClient(req.bundle), pid

    async def close(self) -> None:
        for bundle in self.bundles:
            if shim_alive(bundle) and read_exit(bundle) is None:
                with contextlib.suppress(Exception):
                    await ShimClient(bundle).kill(9, all=True)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(ShimClient(bundle).wait(), 20)
        if self.zygote is not None:
            await self.zygote.close()
        for bundle in self.bundles:  # the shims exit right after exit.json: wait for that
            for _ in range(200):
                if not shim_alive(bundle):
                    break
                await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def harness(tmp_path: Path, rootfs: Path, token_id: str):
    h = Harness(tmp_path, rootfs, token_id)
    try:
        await h.open()
        yield h
    finally:
        await h.close()


def log_lines(path: str) -> list[dict]:
    out = []
    for name in (f"{path}.{n}" for n in range(9, 0, -1)):
        if os.path.exists(name):
            out += [json.loads(line) for line in Path(name).read_text().splitlines()]
    if os.path.exists(path):
        out += [json.loads(line) for line in Path(path).read_text().splitlines()]
    return out


async def read_frames(reader: asyncio.StreamReader) -> dict[int, bytes]:
    """Read docker multiplexed frames until EOF; bytes per stream number."""
    out: dict[int, bytes] = {}
    while True:
        try:
            head = await reader.readexactly(8)
        except asyncio.IncompleteReadError as e:
            assert not e.partial, f"truncated frame header {e.partial!r}"
            return out
        size = int.from_bytes(head[4:], "big")
        out[head[0]] = out.get(head[0], b"") + await reader.readexactly(size)
