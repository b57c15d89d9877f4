"""The json-file log a shim writes is byte for byte dockerd's, apart from the times.

The same busybox command runs in the session's private dockerd (tests/support/
dockerd.py) and through a shim; both logs are compared line by line with the
``time`` values taken out (their format is checked on its own).
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from tests.conftest import require_root
from tests.integration.shim.support import harness

pytestmark = pytest.mark.timeout(300)

SCRIPT = (
    r"printf 'plain\n<html>&amp;\n\ttab\001ctl\033[0m\r\n';"
    r"printf '\377\376 bad utf8 \342\202 cut\n\342\200\250 sep \303\251t\303\251\n' >&2;"
    r"head -c 20000 /dev/zero | tr '\000' a; echo;"
    r"printf 'no newline at end'"
)
TIME = re.compile(rb',"time":"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z)"\}$')


def _strip_times(lines: list[bytes]) -> list[bytes]:
    out = []
    for line in lines:
        m = TIME.search(line)
        assert m, f"no RFC3339Nano time at the end of {line[-60:]!r}"
        assert not m.group(2) or not m.group(2).endswith(b"0"), "trailing zero kept"
        out.append(line[:m.start()] + b"}")
    return out


def _by_stream(lines: list[bytes]) -> dict[str, list[bytes]]:
    # the two streams are copied concurrently: only the order within one is defined
    out: dict[str, list[bytes]] = {}
    for line in lines:
        out.setdefault(json.loads(line)["stream"], []).append(line)
    return out


def test_json_log_matches_dockerd(dockerd, docker_busybox_image, tmp_path, busybox_rootfs,
                                  container_id):
    require_root()
    cid = dockerd.cli("run", "-d", docker_busybox_image, "sh", "-c", SCRIPT).stdout.strip()
    try:
        assert dockerd.cli("wait", cid).stdout.strip() == "0"
        theirs_path = Path(dockerd.data_root) / "containers" / cid / f"{cid}-json.log"
        theirs = theirs_path.read_bytes().splitlines()
    finally:
        dockerd.cli("rm", "-f", cid, check=False)

    async def scenario():
        async with harness(tmp_path, busybox_rootfs, container_id) as h:
            req, shim, _ = await h.start(["sh", "-c", SCRIPT])
            assert (await shim.wait()).exit_code == 0
            return Path(req.log.path).read_bytes().splitlines()

    ours = asyncio.run(scenario())
    assert _by_stream(_strip_times(ours)) == _by_stream(_strip_times(theirs))
