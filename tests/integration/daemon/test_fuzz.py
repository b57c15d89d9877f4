"""Hostile input to every local endpoint: odd names, query values and bodies never
make the daemon answer 500, hang, or stop answering. (Endpoints that reach the
network - pull, push, search, auth - are left out: their inputs are checked in
test_images_api.py.) Seeded, so a failure reproduces."""

from __future__ import annotations

import json
import os
import random
from urllib.parse import quote

import pytest

from tests.integration.daemon.harness import bootstrap_busybox, running_daemon, short_workdir

pytestmark = pytest.mark.integration

NAMES = ["busybox", "busybox:latest", "sha256:", "sha256:" + "0" * 64, "a" * 300, "..",
         "../../etc/passwd", "%00", "ünïcode", "UPPER:case", "x@sha256:zz", "-", ":", "a:b:c",
         "localhost:5000/x/y:z", "busybox@sha256:" + "f" * 64, " ", "a/" * 80 + "b"]
VALUES = ["", "1", "0", "true", "yes", "-1", "99999999999999999999", "{", "[]", "null",
          '{"dangling":["true"]}', '{"label":[1]}', '{"reference":["*"]}', '{"before":["x"]}',
          "\u2603", "%", "a=b", "1.5", "nan"]
BODIES = [b"", b"{", b"null", b"[]", b'{"a":1}', b"\x00" * 1024, os.urandom(4096),
          b"ustar" * 200]


def routes(rng: random.Random) -> list[tuple[str, str, bytes | None]]:
    name = quote(rng.choice(NAMES), safe="/:@")
    v = quote(rng.choice(VALUES))
    return [
        ("GET", f"/images/json?all={v}&filters={v}&digests={v}", None),
        ("GET", f"/images/{name}/json", None),
        ("GET", f"/images/{name}/history", None),
        ("POST", f"/images/{name}/tag?repo={quote(rng.choice(NAMES))}&tag={v}", None),
        ("DELETE", f"/images/{name}?force={v}&noprune={v}", None),
        ("GET", f"/images/{name}/get", None),
        ("GET", f"/images/get?names={name}&names={v}", None),
        ("POST", f"/images/load?quiet={v}", rng.choice(BODIES)),
        ("POST", f"/images/create?fromSrc=-&repo={name}&tag={v}&changes={v}&message={v}",
         rng.choice(BODIES)),
        ("POST", f"/images/prune?filters={v}", None),
        ("GET", f"/events?since={v}&until=1&filters={v}", None),
        ("GET", f"/v{rng.choice(['1.24', '1.41', '1.9', '2.0', '0.1'])}/info", None),
        ("GET", "/system/df", None),
    ]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.fail("integration tests need root")
    work = short_workdir(tmp_path_factory, "fuzz")
    bootstrap_busybox(work / "root")
    with running_daemon(work) as d:
        yield d


@pytest.mark.parametrize("seed", range(24))
def test_no_500_no_hang(daemon, seed):
    rng = random.Random(seed)
    for method, path, body in routes(rng):
        r = daemon.request(method, path, body=body, timeout=30)
        assert r.status < 500, (method, path, r.status, r.body[:300], daemon.log_tail())
        if r.status >= 400:   # every error is Docker's JSON body
            assert json.loads(r.body)["message"], (method, path, r.body[:300])
    assert daemon.request("GET", "/_ping").status == 200
