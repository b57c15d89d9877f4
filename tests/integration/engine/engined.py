"""A dockyardd with a busybox image for engine tests, and small API helpers.

Every container a test made is force-removed before the daemon stops (the daemon
leaves containers running on purpose: live restore), so nothing leaks.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.integration.daemon.harness import Daemon, Reply, bootstrap_busybox, running_daemon


class Engine:
    def __init__(self, daemon: Daemon) -> None:
        self.d = daemon

    def req(self, method: str, path: str, body: Any = None, timeout: float = 60.0,
            **query: Any) -> Reply:
        q = {k: (json.dumps(v) if isinstance(v, dict) else
                 ("1" if v is True else "0" if v is False else v))
             for k, v in query.items() if v is not None}
        if q:
            path += "?" + urlencode(q)
        data = body if isinstance(body, bytes) else \
            json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        return self.d.request(method, path, data, headers, timeout=timeout)

    def ok(self, method: str, path: str, body: Any = None, **query: Any) -> Reply:
        r = self.req(method, path, body, **query)
        assert r.status < 300, f"{method} {path}: {r.status} {r.body!r}\n{self.d.log_tail()}"
        return r

    def create(self, cmd: list[str] | None = None, name: str | None = None,
               **config: Any) -> str:
        body: dict[str, Any] = {"Image": "busybox", **config}
        if cmd is not None:
            body["Cmd"] = cmd
        body.setdefault("HostConfig", {}).setdefault("NetworkMode", "none")
        return self.ok("POST", "/containers/create", body, name=name).json()["Id"]

    def run(self, cmd: list[str], **config: Any) -> str:
        cid = self.create(cmd, **config)
        self.ok("POST", f"/containers/{cid}/start")
        return cid

    def inspect(self, ref: str) -> dict[str, Any]:
        return self.ok("GET", f"/containers/{ref}/json").json()

    def wait(self, ref: str, condition: str | None = None) -> dict[str, Any]:
        return self.ok("POST", f"/containers/{ref}/wait", condition=condition).json()

    def logs(self, ref: str, **query: Any) -> list[tuple[int, bytes]]:
        query.setdefault("stdout", True)
        query.setdefault("stderr", True)
        body = self.ok("GET", f"/containers/{ref}/logs", **query).body
        return demux(body)

    def remove_all(self) -> None:
        try:
            items = self.req("GET", "/containers/json", all=True).json()
        except Exception:
            return
        for c in items:
            self.req("DELETE", f"/containers/{c['Id']}", force=True)


def demux(body: bytes) -> list[tuple[int, bytes]]:
    """Docker's multiplexed frames -> [(stream, data)]."""
    out = []
    i = 0
    while i + 8 <= len(body):
        stream, size = body[i], int.from_bytes(body[i + 4:i + 8], "big")
        out.append((stream, body[i + 8:i + 8 + size]))
        i += 8 + size
    assert i == len(body), f"trailing bytes in a multiplexed stream: {body[i:]!r}"
    return out


@contextmanager
def engine_daemon(work: Path, *extra: str) -> Iterator[Engine]:
    """A daemon whose networks use the session's address pool and token-named links;
    after it stopped, the network service is uninstalled (bridges and rules outlive a
    daemon on purpose) and must leave nothing behind."""
    from tests.interop.network.netdaemon import pool_config, purge

    if os.geteuid() != 0:
        pytest.fail("engine integration tests need root (mounts, namespaces, cgroups)")
    if not (work / "root" / "image").exists():
        bootstrap_busybox(work / "root")
    (work / "daemon.json").write_text(json.dumps(pool_config()))
    try:
        with running_daemon(work, *extra) as d:
            eng = Engine(d)
            try:
                yield eng
            finally:
                eng.remove_all()
    finally:
        left = purge(work)
        assert not left, f"network objects left behind: {left}"


__all__ = ["Engine", "demux", "engine_daemon"]
