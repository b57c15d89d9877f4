"""Pin the modules each hot command loads (issue 2, "What must be shown" item 3).

Interpreter start-up and imports are most of a ``dockyard-runtime run``'s cost next to
runc's, so the set of modules a plain container's commands load is pinned here: a new
dockyard module on the path, or a stdlib module with a heavy import chain (re, enum,
typing, dataclasses, collections, ...), fails this test. If you add a module on
purpose, make sure it is needed for *this* plain spec (import per-feature code only
when the spec uses the feature), then update the set below.

The commands run as the installed console script does (``python -c`` imports nothing
but ``sys``; ``-m`` would add runpy's imports), with ``-X importtime``, which also
reports imports made in the forked stages.
"""

from __future__ import annotations

import sys

import pytest

from tests.conftest import require_root
from tests.integration.runtime.core_support import Runtime, make_config, write_bundle

LAUNCHER = [sys.executable, "-X", "importtime", "-c",
            "import sys; from dockyard.runtime.cli import main; sys.exit(main())"]

# Never on the path of a plain container: each costs ~1-10 ms with its imports.
HEAVY = {"re", "enum", "typing", "dataclasses", "collections", "functools", "contextlib",
         "inspect", "signal", "shutil", "subprocess", "json", "socket", "selectors",
         "threading", "logging", "argparse", "tempfile", "pathlib", "datetime", "termios",
         "hashlib", "jsonschema", "aiohttp", "rich", "seccomp", "struct_time"}

# Every command: the CLI, its option parser and the state store.
_BASE = {
    "dockyard", "dockyard.errors", "dockyard.runtime", "dockyard.runtime.cli",
    "dockyard.runtime.argv", "dockyard.runtime.state", "dockyard.runtime.fastjson",
    "dockyard.runtime.container",
}
_STATE_PATH = _BASE | {"dockyard.runtime.container.state"}



def _modules(stderr: str) -> set[str]:
    found = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "cumulative" not in line:
            found.add(line.rsplit("|", 1)[1].strip())
    return found


@pytest.fixture
def rt(tmp_path) -> Runtime:
    require_root()
    return Runtime(LAUNCHER, tmp_path / "state")


# Commands that fork nothing need no ctypes (syscalls) either, nor what it loads.
LIGHT_ONLY = HEAVY | {"ctypes", "types", "encodings.utf_8_sig", "select", "resource"}


def _check(command: str, stderr: str, allowed: set[str], forbidden: set[str] = HEAVY
           ) -> None:
    mods = _modules(stderr)
    assert mods, f"{command}: no -X importtime output:\n{stderr[-2000:]}"
    heavy = sorted(mods & forbidden)
    assert not heavy, f"`{command}` of a plain container imports {heavy}"
    ours = {m for m in mods if m.startswith("dockyard")}
    extra, gone = sorted(ours - allowed), sorted(allowed - ours)
    assert not extra and not gone, (
        f"`{command}` loads a different set of dockyard modules than pinned: new "
        f"{extra}, no longer loaded {gone}. Keep new modules off the start-up path "
        f"(or update the pinned set in {__name__} if that is on purpose)")


# A plain spec (runc spec's defaults): no seccomp, hooks, terminal, tmpcopyup; it
# has a cgroup mount, hence rootfs.cgroupfs.
RUN_PATH = {
    *_BASE,
    "dockyard.runtime.container.create", "dockyard.runtime.container.start",
    "dockyard.runtime.container.delete", "dockyard.runtime.container.run",
    "dockyard.runtime.spec", "dockyard.runtime.hooks", "dockyard.runtime.syscalls",
    "dockyard.runtime.namespaces", "dockyard.runtime.device_rules",
    "dockyard.runtime.process", "dockyard.runtime.process.modules",
    "dockyard.runtime.process.channel", "dockyard.runtime.process.fork",
    "dockyard.runtime.process.stage_parent", "dockyard.runtime.process.stage_intermediate",
    "dockyard.runtime.process.stage_init",
    "dockyard.runtime.rootfs", "dockyard.runtime.rootfs._record",
    "dockyard.runtime.rootfs.cgroupfs",
    "dockyard.runtime.rootfs.devices", "dockyard.runtime.rootfs.mountinfo",
    "dockyard.runtime.rootfs.mounts", "dockyard.runtime.rootfs.paths",
    "dockyard.runtime.rootfs.paths_masking", "dockyard.runtime.rootfs.pivot",
    "dockyard.runtime.rootfs.prepare", "dockyard.runtime.rootfs.spec",
    "dockyard.runtime.rootfs.sysctl",
    "dockyard.runtime.security", "dockyard.runtime.security._record",
    "dockyard.runtime.security.capabilities", "dockyard.runtime.security.identity",
    "dockyard.runtime.security.lsm", "dockyard.runtime.security.oom",
    "dockyard.runtime.security.rlimits",
    "dockyard.runtime.cgroups", "dockyard.runtime.cgroups.cgfs",
    "dockyard.runtime.cgroups.paths", "dockyard.runtime.cgroups.resources",
    "dockyard.runtime.cgroups.v1", "dockyard.runtime.cgroups.v2",
}
CREATE_PATH = RUN_PATH - {"dockyard.runtime.container.run",
                          "dockyard.runtime.container.start",
                          "dockyard.runtime.container.delete"}
START_PATH = _BASE | {
    "dockyard.runtime.container.start", "dockyard.runtime.hooks"}
DELETE_PATH = _BASE | {
    "dockyard.runtime.container.delete", "dockyard.runtime.hooks",
    "dockyard.runtime.process", "dockyard.runtime.process.modules",
    "dockyard.runtime.cgroups", "dockyard.runtime.cgroups.cgfs",
    "dockyard.runtime.cgroups.v1",
    "dockyard.runtime.cgroups.v2"}


def test_plain_run_imports(rt, busybox_rootfs, container_id):
    bundle = write_bundle(busybox_rootfs, make_config(["true"]))
    proc = rt("run", "--bundle", str(bundle), container_id)
    _check("run", proc.stderr, RUN_PATH)


def test_create_start_state_delete_imports(rt, busybox_rootfs, container_id):
    bundle = write_bundle(busybox_rootfs, make_config(["true"]))
    try:
        _check("create", rt("create", "--bundle", str(bundle), container_id).stderr,
               CREATE_PATH)
        _check("state", rt("state", container_id).stderr, _STATE_PATH, LIGHT_ONLY)
        _check("start", rt("start", container_id).stderr, START_PATH,
               LIGHT_ONLY - {"select"})  # select: poll on exec.fifo
    finally:
        proc = rt("delete", "--force", container_id, check=False)
    assert proc.returncode == 0, proc.stderr
    _check("delete", proc.stderr, DELETE_PATH, LIGHT_ONLY)
