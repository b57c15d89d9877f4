"""A ``dockyard load``/``import`` SIGKILLed half-way leaves a consistent store.

We kill the CLI at several points of a multi-layer load (reading the file and
from stdin, which spools into ingest/), then ``dockyard system check`` must
report no damage, and a new load must succeed and unpack completely.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import require_root
from tests.unit.image.archive_helpers import layer_tar, old_docker_archive, write_tar


def _cli(root, *args, **kw):
    return [sys.executable, "-m", "dockyard.cli.main", "--data-root", str(root), *args]


@pytest.fixture(scope="module")
def big_archive(tmp_path_factory):
    d = tmp_path_factory.mktemp("big")
    layers = []
    for i in range(4):
        files = {f"l{i}/big": os.urandom(24 << 20)}
        files.update({f"l{i}/small/{n}": os.urandom(64) for n in range(400)})
        layers.append(layer_tar(files))
    return write_tar(d / "big.tar", old_docker_archive(layers, ("big:1",)))


def _kill_after(cmd, delay, stdin_path=None):
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL  # noqa: SIM115
    try:
        proc = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        return proc.returncode
    finally:
        if stdin_path:
            stdin.close()


def _check_ok(root):
    out = subprocess.run(_cli(root, "system", "check"), capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no damage found" in out.stdout
    return out.stdout


def test_sigkill_mid_load_leaves_store_consistent(tmp_path, big_archive):
    require_root()
    # Time one whole load on this machine now, then kill at fractions of it, so the
    # kills land mid-way however busy the machine is.
    t0 = time.monotonic()
    subprocess.run(_cli(tmp_path / "timing-root", "load", "-i", str(big_archive)),
                   capture_output=True, check=True, timeout=600)
    whole = time.monotonic() - t0
    delays = [whole * f for f in (0.15, 0.35, 0.55, 0.75, 0.9)]
    root = tmp_path / "root"
    killed = 0
    for n, delay in enumerate(delays):
        from_stdin = n % 2 == 1
        cmd = _cli(root, "load") if from_stdin else _cli(root, "load", "-i", str(big_archive))
        rc = _kill_after(cmd, delay, big_archive if from_stdin else None)
        killed += rc == -signal.SIGKILL
        _check_ok(root)
        # Nothing half-recorded: either no image, or a complete one.
        ls = subprocess.run(_cli(root, "images", "-q"), capture_output=True, text=True)
        assert ls.returncode == 0
    assert killed >= 2, "the loads finished before the kill: make the archive bigger"
    done = subprocess.run(_cli(root, "load", "-i", str(big_archive)), capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "Loaded image: big:1" in done.stdout
    report = _check_ok(root)
    assert "unreferenced blobs (prune frees them): 0" in report
    assert not any((root / "content" / "ingest").iterdir())


def test_sigkill_mid_import_leaves_store_consistent(tmp_path, big_archive):
    require_root()
    root = tmp_path / "root"
    rc = _kill_after(_cli(root, "import", str(big_archive), "imp:1"), 0.8)
    _check_ok(root)
    if rc == -signal.SIGKILL:
        out = subprocess.run(_cli(root, "images", "-q"), capture_output=True, text=True)
        assert out.stdout.strip() == ""


def test_sigkill_while_spooling_stdin_leaves_only_ingest_leftovers(tmp_path, big_archive):
    """Deterministic: feed half the archive through a pipe, kill, check cleans it."""
    require_root()
    root = tmp_path / "root"
    proc = subprocess.Popen(_cli(root, "load"), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        with open(big_archive, "rb") as f:
            proc.stdin.write(f.read(big_archive.stat().st_size // 2))
            proc.stdin.flush()
        ingest = root / "content" / "ingest"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            entries = list(ingest.iterdir()) if ingest.exists() else []
            if entries and any(p.stat().st_size for e in entries for p in e.iterdir()):
                break
            time.sleep(0.05)
        else:
            pytest.fail("the load never started spooling")
    finally:
        proc.kill()
        proc.communicate(timeout=30)
    report = subprocess.run(_cli(root, "system", "check", "--no-clean"), capture_output=True,
                            text=True, timeout=120)
    assert "to clean: 1 ingest entries" in report.stdout, report.stdout
    assert "no damage found" in report.stdout
    out = _check_ok(root)
    assert "cleaned: 1 ingest entries" in out
    assert not any((root / "content" / "ingest").iterdir())
