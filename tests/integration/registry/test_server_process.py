"""The server as a process: a kill mid-upload leaves nothing visible, and
``dockyard registry gc`` runs safely beside a live server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.interop.registry.peers import dockyard_cmd, dockyard_env, dockyard_registry, run
from tests.unit.registry.images import OCI_MANIFEST, make_image, sha, tar_of


def req(method: str, url: str, data: bytes | None = None,
        headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    r = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def push(host: str, name: str, img) -> None:
    for blob in [*img.layers, img.config]:
        status, _, body = req("POST", f"http://{host}/v2/{name}/blobs/uploads/?digest={sha(blob)}",
                              blob)
        assert status == 201, body
    status, _, body = req("PUT", f"http://{host}/v2/{name}/manifests/v1", img.manifest,
                          {"Content-Type": OCI_MANIFEST})
    assert status == 201, body


def test_killed_server_mid_upload_leaves_nothing_visible(tmp_path: Path):
    blob = b"half of a blob " * 10000
    with dockyard_registry(tmp_path) as reg:
        status, headers, _ = req("POST", f"http://{reg.host}/v2/k/blobs/uploads/")
        loc = headers["Location"]
        req("PATCH", f"http://{reg.host}{loc}", blob[:50000])
        reg.process.send_signal(signal.SIGKILL)
        reg.process.wait(timeout=10)
    with dockyard_registry(tmp_path) as reg:
        status, _, body = req("HEAD", f"http://{reg.host}/v2/k/blobs/{sha(blob)}")
        assert status == 404
        status, _, body = req("GET", f"http://{reg.host}/v2/_catalog")
        assert json.loads(body)["repositories"] == []
        # The abandoned upload is still resumable until gc's grace runs out ...
        status, headers, _ = req("GET", f"http://{reg.host}{loc}")
        assert status == 204 and headers["Range"] == "0-49999"
    # ... and gc removes it (and nothing else) once it is stale.
    out = run(dockyard_cmd("registry", "gc", "--storage", str(reg.storage), "--grace", "0"),
              env=dockyard_env(tmp_path)).stdout
    assert "1 stale uploads" in out
    assert list((reg.storage / "uploads").iterdir()) == []


def test_gc_beside_a_running_server(tmp_path: Path):
    keep = make_image([tar_of({"k": b"keep"})])
    drop = make_image([tar_of({"d": b"drop"})])
    with dockyard_registry(tmp_path, "--delete-enabled") as reg:
        push(reg.host, "keep", keep)
        push(reg.host, "drop", drop)
        status, _, _ = req("DELETE", f"http://{reg.host}/v2/drop/manifests/{drop.digest}")
        assert status == 202
        # Everything so far is an hour old; what is pushed during gc is fresh and
        # protected by the grace period until its manifest arrives.
        old = time.time() - 3600
        for p in (reg.storage / "content" / "blobs").rglob("*"):
            if p.is_file():
                os.utime(p, (old, old))
        gc = subprocess.Popen(dockyard_cmd("registry", "gc", "--storage", str(reg.storage),
                                           "--grace", "600"), env=dockyard_env(tmp_path),
                              stdout=subprocess.PIPE, text=True)
        # Pushes keep working while gc runs.
        push(reg.host, "more", make_image([tar_of({"m": b"more"})]))
        out, _ = gc.communicate(timeout=60)
        assert gc.returncode == 0, out
        status, _, body = req("GET", f"http://{reg.host}/v2/keep/manifests/v1")
        assert status == 200 and body == keep.manifest
        for blob in (*keep.layers, keep.config):
            assert req("GET", f"http://{reg.host}/v2/keep/blobs/{sha(blob)}")[0] == 200
        for blob in (*drop.layers, drop.config):
            assert req("GET", f"http://{reg.host}/v2/drop/blobs/{sha(blob)}")[0] == 404
        assert req("GET", f"http://{reg.host}/v2/more/manifests/v1")[0] == 200
