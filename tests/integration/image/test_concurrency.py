"""Several dockyard processes on one data root: loads of the same image race, a prune
runs beside them; every command succeeds and the store ends consistent."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import require_root
from tests.unit.image.archive_helpers import layer_tar, old_docker_archive, write_tar


def _cli(root, *args):
    return [sys.executable, "-m", "dockyard.cli.main", "--data-root", str(root), *args]


def test_parallel_loads_and_a_prune_keep_the_store_consistent(tmp_path):
    require_root()
    layers = [layer_tar({f"l{i}/f": os.urandom(4 << 20), f"l{i}/g": b"g"}) for i in range(3)]
    tar = write_tar(tmp_path / "a.tar", old_docker_archive(layers, ("race:1",)))
    root = tmp_path / "root"
    procs = [subprocess.Popen(_cli(root, "load", "-i", str(tar)), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    procs.append(subprocess.Popen(_cli(root, "image", "prune", "-f"), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True))
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, f"{p.args}: {out}{err}"
    ids = subprocess.run(_cli(root, "images", "-q"), capture_output=True, text=True).stdout
    assert len(ids.split()) == 1
    check = subprocess.run(_cli(root, "system", "check"), capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "unreferenced blobs (prune frees them): 0" in check.stdout
    # One committed snapshot per chain: the racing unpackers did not duplicate layers.
    from dockyard.image.service import ImageService

    svc = ImageService(root)
    try:
        names = [s.name for s in svc.snapshotter.walk()]
        rec = svc.store.resolve("race:1")
        assert sorted(names) == sorted(str(c) for c in rec.chain_ids)
    finally:
        svc.close()
