"""Hostile input to the volume, archive, export and changes endpoints of a real
dockyardd: never a 500, never a hang, nothing written outside the data root.
Seeded, so a failure reproduces."""

from __future__ import annotations

import json
import os
import random
from urllib.parse import quote

import pytest

from tests.integration.daemon.harness import bootstrap_busybox, running_daemon, short_workdir

pytestmark = pytest.mark.integration

NAMES = ["v1", "x", "..", "../../etc", "%00", "a" * 300, "ünï", "-", "a/b", " ", "_x",
         "0" * 64, "ctr", "nosuch"]
PATHS = ["/", "/etc", "/etc/.", "/etc/passwd/", "../../../../etc/shadow", "", "%00", "/nope",
         "/bin/sh", "/proc/self", "/data", "/data/.", "//", "/a" * 200, "/" + "n" * 300,
         "/ab" * 1500]
VALUES = ["", "1", "0", "true", "{", "[]", "null", '{"dangling":["maybe"]}', '{"label":[1]}',
          '{"name":["("]}', '{"driver":["local"]}', '{"label!":["a"]}', '{"until":["1h"]}',
          "\u2603"]
def _escape_tar() -> bytes:
    """A tar whose one entry climbs out: ``../../../../dyfuzz-escape``."""
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        info = tarfile.TarInfo("../../../../dyfuzz-escape")
        info.size = 1
        t.addfile(info, io.BytesIO(b"x"))
    return buf.getvalue()


BODIES = [_escape_tar(), b"", b"{", b"null", b"[]", b'{"Name": 1}', b'{"Name": "x"}',
          b'{"Name": "okvol", "DriverOpts": {"type": "tmpfs"}}',
          b'{"Name": "okvol2", "Labels": {"a": 1}}', b'{"Driver": "nope"}',
          b'{"Name": "../../dyfuzz-escape"}', b"\x00" * 1024, os.urandom(2048), b"ustar" * 200]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.fail("integration tests need root")
    work = short_workdir(tmp_path_factory, "vfz")
    bootstrap_busybox(work / "root")
    octet = 64 + int.from_bytes(os.urandom(1), "big") % 128   # no bridge needed here
    (work / "daemon.json").write_text(json.dumps(
        {"default-address-pools": [{"base": f"10.{octet}.0.0/16", "size": 24}]}))
    with running_daemon(work) as d:
        body = json.dumps({"Image": "busybox:latest", "Cmd": ["true"],
                           "HostConfig": {"NetworkMode": "none", "Binds": ["fzvol:/data"]}})
        r = d.request("POST", "/containers/create?name=ctr", body.encode(),
                      {"Content-Type": "application/json"})
        assert r.status == 201, r.body
        try:
            yield d
        finally:
            d.request("DELETE", "/containers/ctr?force=1&v=1")


@pytest.mark.parametrize("seed", range(12))
def test_no_500s(daemon, seed: int):
    rng = random.Random(seed)
    for _ in range(25):
        name = quote(rng.choice(NAMES), safe="")
        path = quote(rng.choice(PATHS), safe="/")
        v = quote(rng.choice(VALUES))
        ctr = rng.choice(["ctr", "ctr", "nosuch", name])
        method, url, body = rng.choice([
            ("GET", f"/volumes?filters={v}", None),
            ("POST", "/volumes/create", rng.choice(BODIES)),
            ("GET", f"/volumes/{name}", None),
            ("DELETE", f"/volumes/{name}?force={v}", None),
            ("POST", f"/volumes/prune?filters={v}", None),
            ("HEAD", f"/containers/{ctr}/archive?path={path}", None),
            ("GET", f"/containers/{ctr}/archive?path={path}", None),
            ("PUT", f"/containers/{ctr}/archive?path={path}&noOverwriteDirNonDir={v}"
                    f"&copyUIDGID={v}", rng.choice(BODIES)),
            ("GET", f"/containers/{ctr}/export", None),
            ("GET", f"/containers/{ctr}/changes", None),
        ])
        r = daemon.request(method, url, body, {"Content-Type": "application/json"})
        assert r.status < 500, (method, url, body[:80] if body else body, r.status, r.body,
                                daemon.log_tail())
    assert daemon.request("GET", "/_ping").status == 200
    assert not os.path.exists("/dyfuzz-escape")
