"""Helpers for the runtime-core integration tests: bundles and a CLI driver."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from dockyard.runtime.default_spec import default_spec


def make_config(args: list[str], **changes) -> dict:
    """A busybox-friendly config: no terminal, writable root, the given command."""
    spec = default_spec()
    spec["process"]["terminal"] = False
    spec["process"]["args"] = args
    spec["root"]["readonly"] = False
    for key, value in changes.items():
        spec[key] = value
    return spec


def write_bundle(rootfs: Path, spec: dict) -> Path:
    bundle = rootfs.parent
    (bundle / "config.json").write_text(json.dumps(spec))
    return bundle


class Runtime:
    """``dockyard-runtime --root <tmp>`` as a test calls it."""

    def __init__(self, cmd: list[str], root: Path) -> None:
        self.cmd = cmd
        self.root = root

    def argv(self, *args: str) -> list[str]:
        return [*self.cmd, "--root", str(self.root), *args]

    def __call__(self, *args: str, check: bool = True, timeout: float = 30,
                 input: str | None = None) -> subprocess.CompletedProcess:
        """Run a command; its output goes through files, not pipes, because a
        created container inherits the runtime's stdio (as with runc) and would
        keep a pipe open long after the command returned."""
        import tempfile

        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            proc = subprocess.run(self.argv(*args), timeout=timeout, stdout=out, stderr=err,
                                  input=input, text=True,
                                  stdin=None if input is not None else subprocess.DEVNULL)
            out.seek(0)
            err.seek(0)
            proc.stdout, proc.stderr = out.read(), err.read()
        if check and proc.returncode != 0:
            raise AssertionError(f"{args} failed ({proc.returncode}): {proc.stderr}")
        return proc

    def state(self, cid: str) -> dict:
        return json.loads(self("state", cid).stdout)

    def cleanup(self, cid: str) -> None:
        self("delete", "--force", cid, check=False)
