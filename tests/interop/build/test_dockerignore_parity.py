"""``.dockerignore`` against docker: ``COPY . /ctx/`` by the legacy builder, then
the files in the image compared with :func:`walk_context`'s answer."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from dockyard.build.dockerignore import read_dockerignore, walk_context

FILES = ["a.txt", "b.md", "README.md", "README-secret.md", "CHANGES.md",
         "src/main.go", "src/lib/util.go", "src/lib/util_test.go", "src/notes.txt",
         "docs/keep.md", "docs/drop.md", "docs/deep/x.md", "temp", "tempa", "tempab",
         "sub/temporary.txt", "sub/dir/temp1", "node_modules/p/index.js", "logs/1.log",
         "logs/keep/2.log", "weird[1].txt", "sp ace/f"]

CASES = {
    "docs-example": "# comment\n*/temp*\n*/*/temp*\ntemp?\n",
    "exceptions": "*.md\n!README*.md\nREADME-secret.md\n",
    "exceptions-reversed": "*.md\nREADME-secret.md\n!README*.md\n",
    "double-star": "**/*.go\n!src/lib/util.go\n",
    "dir-reinclude": "docs\n!docs/keep.md\nnode_modules\n",
    "leading-slash-and-clean": "/logs/\n!logs/keep\n./sub//dir\n",
    "star-star-suffix": "src/**\n!src/lib/*_test.go\nsp ace\n",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_context_files_match_docker(dockerd, docker_busybox_image: str, tmp_path: Path,
                                    name: str) -> None:
    ctx = tmp_path / "ctx"
    for f in FILES:
        (ctx / f).parent.mkdir(parents=True, exist_ok=True)
        (ctx / f).write_text(f)
    (ctx / ".dockerignore").write_text(CASES[name])
    (ctx / "Dockerfile").write_text(f"FROM {docker_busybox_image}\nCOPY . /ctx/\n")

    ours = {p for p in walk_context(str(ctx), read_dockerignore(str(ctx)))
            if os.path.isfile(ctx / p)}

    tag = f"dytest-ignore-{name}:1"
    cname = f"{os.environ['DOCKYARD_TEST_TOKEN']}-ignore-{name}"
    dockerd.cli("build", "-q", "-t", tag, str(ctx))
    try:
        dockerd.cli("create", "--name", cname, tag)
        out = dockerd.cli("cp", f"{cname}:/ctx", "-", text=False).stdout
    finally:
        dockerd.cli("rm", "-f", cname, check=False)
        dockerd.cli("rmi", "-f", tag, check=False)
    with tarfile.open(fileobj=io.BytesIO(out)) as tar:
        theirs = {m.name.split("/", 1)[1] for m in tar.getmembers()
                  if m.isfile() and "/" in m.name}
    assert ours == theirs, (sorted(ours - theirs), sorted(theirs - ours))
