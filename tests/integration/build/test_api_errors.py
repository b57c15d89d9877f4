"""``POST /build`` with bad bodies and parameters: docker's statuses, never a 500."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest

from tests.integration.build.daemon import build_daemon
from tests.integration.daemon.harness import short_workdir


def tar_of(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    from tests.conftest import require_root

    require_root()
    with build_daemon(short_workdir(tmp_path_factory, "be")) as d:
        yield d


SCRATCH = tar_of({"Dockerfile": b"FROM scratch\n"})


@pytest.mark.parametrize(("body", "query", "status", "needle"), [
    (b"", "", 404, "Cannot locate specified Dockerfile"),
    (b"garbage" * 100, "", 400, "bad checksum"),
    (gzip.compress(b"x" * 1000), "", 400, ""),
    (tar_of({"x": b"y"}), "", 404, "Cannot locate specified Dockerfile"),
    (tar_of({"Dockerfile": b""}), "", 400, "no instructions"),
    (tar_of({"Dockerfile": b"\xff\xfebad"}), "", 400, "not UTF-8"),
    (tar_of({"../evil": b"x", "Dockerfile": b"FROM scratch\n"}), "", 400, "climbs above"),
    (tar_of({"Dockerfile": b"FROM scratch\nFROB x\n"}), "", 400, "unknown instruction"),
    (SCRATCH, "?t=%25%25%25", 400, "invalid tag"),
    (SCRATCH, "?buildargs=%7B", 400, "buildargs"),
    (SCRATCH, "?dockerfile=../../etc/passwd", 400, "within the build context"),
    (SCRATCH, "?networkmode=container:x", 400, "networkmode"),
    (SCRATCH, "?platform=windows/amd64", 400, "cannot be built here"),
    (SCRATCH, "?target=nope", 400, "could not be found"),
    (SCRATCH, "?version=2", 400, "DOCKER_BUILDKIT=0"),
    (SCRATCH, "?remote=https://example.com/x.git", 400, "remote"),
])
def test_bad_requests(daemon, body: bytes, query: str, status: int, needle: str) -> None:
    r = daemon.request("POST", "/build" + query, body=body,
                       headers={"Content-Type": "application/x-tar"})
    assert r.status == status, r.body
    assert needle in r.json()["message"]


def test_error_after_progress_is_in_band(daemon) -> None:
    r = daemon.request("POST", "/build", body=tar_of({"Dockerfile": b"FROM scratch\n"
                                                      b"COPY missing /\n"}))
    assert r.status == 200
    msgs = r.messages()
    assert msgs[0]["stream"].startswith("Step 1/2")
    assert "Dockerfile:2" in msgs[-1]["error"] and "errorDetail" in msgs[-1]


def test_prune_answers_docker_shape(daemon, tmp_path: Path) -> None:
    r = daemon.request("POST", "/build/prune")
    assert r.status == 200
    assert set(r.json()) == {"CachesDeleted", "SpaceReclaimed"}
