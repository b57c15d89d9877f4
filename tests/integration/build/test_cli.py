"""``dockyard build`` end to end (a subprocess, as a user runs it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

from tests.integration.build.conftest import write


def dockyard(build_root: Path, *args: str, input: bytes | None = None):
    return subprocess.run([sys.executable, "-m", "dockyard.cli.main", "--data-root",
                           str(build_root / "data"), *args], capture_output=True,
                          timeout=180, input=input,
                          env={**os.environ, "DOCKYARD_EXEC_ROOT": str(build_root / "exec")})


def test_cli_flags_and_outputs(build_root: Path, image_config, tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("hunter2")
    ctx = write(tmp_path / "ctx", {"app.txt": "app\n", "sub/Custom.df": (
        "FROM busybox:latest AS base\nARG GREETING\nCOPY app.txt /app/\n"
        "RUN --mount=type=secret,id=pw wc -c < /run/secrets/pw > /app/pwlen && "
        "echo \"$GREETING\" > /app/greeting\n"
        "FROM base AS extra\nRUN echo extra > /extra\n"
        "FROM base\nCMD [\"cat\", \"/app/greeting\"]\n")})
    iid = tmp_path / "iid"
    out_dir, out_tar = tmp_path / "out-local", tmp_path / "out.tar"
    oci, dock = tmp_path / "oci.tar", tmp_path / "docker.tar"
    r = dockyard(build_root, "build", "-f", str(ctx / "sub" / "Custom.df"), "-t", "cli:a",
                 "-t", "cli:b", "--label", "k=v", "--build-arg", "GREETING=hi",
                 "--secret", f"id=pw,src={secret}", "--iidfile", str(iid),
                 "--progress", "plain", "-o", f"type=local,dest={out_dir}",
                 "-o", f"type=tar,dest={out_tar}", "-o", f"type=oci,dest={oci}",
                 "-o", f"type=docker,dest={dock}", str(ctx))
    assert r.returncode == 0, r.stderr.decode()
    text = r.stdout.decode()
    assert "Step 1/" in text and "Successfully tagged cli:b" in text
    assert "extra" not in text.split("Step")[-1]          # stage 'extra' not needed
    image_id = iid.read_text()
    cfg = image_config("cli:a")
    assert cfg["config"]["Labels"] == {"k": "v"}
    assert image_config("cli:b") == cfg
    assert (out_dir / "app" / "greeting").read_text() == "hi\n"
    assert (out_dir / "app" / "pwlen").read_text().strip() == "7"
    assert not (out_dir / "run" / "secrets" / "pw").exists()
    with tarfile.open(out_tar) as t:
        assert "app/app.txt" in t.getnames()
    with tarfile.open(oci) as t:
        names = t.getnames()
        assert "oci-layout" in names or "./oci-layout" in names
    with tarfile.open(dock) as t:
        manifest = json.load(t.extractfile("manifest.json"))  # type: ignore[arg-type]
        assert manifest[0]["Config"].endswith(image_id.split(":")[1] + ".json") or \
            image_id.split(":")[1] in manifest[0]["Config"]
    # -q: only the id
    q = dockyard(build_root, "build", "-q", "-f", str(ctx / "sub" / "Custom.df"),
                 "--label", "k=v", "--build-arg", "GREETING=hi", "--secret",
                 f"id=pw,src={secret}", str(ctx))
    assert q.returncode == 0, q.stderr.decode()
    assert q.stdout.decode().strip() == image_id


def test_cli_stdin_dockerfile_and_errors(build_root: Path, tmp_path: Path) -> None:
    r = dockyard(build_root, "build", "-q", "-", input=b"FROM busybox:latest\nENV S=1\n")
    assert r.returncode == 0 and r.stdout.decode().startswith("sha256:"), r.stderr
    bad = dockyard(build_root, "build", "-", input=b"FROM busybox:latest\nFROB x\n")
    assert bad.returncode == 1
    assert b"Dockerfile:2: unknown instruction: FROB" in bad.stderr
    fail = dockyard(build_root, "build", "--progress", "plain", "-",
                    input=b"FROM busybox:latest\nRUN echo visible-output; exit 9\n")
    assert fail.returncode == 1
    assert b"returned a non-zero code: 9" in fail.stderr
    assert b"visible-output" in fail.stdout


def test_killed_build_leaves_nothing_after_the_next(build_root: Path, tmp_path: Path) -> None:
    """kill -9 of the CLI mid-RUN: the next build unmounts and removes what it left."""
    import signal
    import time

    from dockyard.image.mount import is_mountpoint_under

    ctx = write(tmp_path / "ctx", {"Dockerfile": (
        f"FROM busybox:latest\nRUN echo {tmp_path.name} ran-$((40 + 2)); sleep 1\n")})
    proc = subprocess.Popen([sys.executable, "-m", "dockyard.cli.main", "--data-root",
                             str(build_root / "data"), "build", "--progress", "plain",
                             str(ctx)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ,
                                 "DOCKYARD_EXEC_ROOT": str(build_root / "exec")})
    assert proc.stdout is not None
    for line in proc.stdout:
        if b"ran-42" in line:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    build_dir = build_root / "exec" / "build"
    left = [p for p in build_dir.glob(f"b-{proc.pid}-*")]
    assert left and is_mountpoint_under(left[0])
    time.sleep(2)    # the RUN's container ends and its runtime removes it
    r = dockyard(build_root, "build", "-q", "-", input=b"FROM busybox:latest\nENV N=1\n")
    assert r.returncode == 0, r.stderr
    assert not list(build_dir.glob(f"b-{proc.pid}-*"))
    assert not is_mountpoint_under(build_dir)
