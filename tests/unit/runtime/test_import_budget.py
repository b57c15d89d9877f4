"""What the runtime's hot modules load at import time (no root needed).

The integration twin (tests/integration/runtime/test_import_budget.py) pins what
real commands load; this one catches, without root, a module-level import that
drags a heavy stdlib module or an optional feature module (seccomp, console, the
docker profile converter) onto every container's start-up path.
"""

from __future__ import annotations

import subprocess
import sys

# Imported (at module level) by create/run/start/delete and the forked stages.
HOT = ["dockyard.runtime.cli", "dockyard.runtime.container.run",
       "dockyard.runtime.container.create", "dockyard.runtime.container.start",
       "dockyard.runtime.container.delete", "dockyard.runtime.container.state",
       "dockyard.runtime.process.stage_parent", "dockyard.runtime.process.stage_intermediate",
       "dockyard.runtime.process.stage_init", "dockyard.runtime.rootfs",
       "dockyard.runtime.rootfs.prepare", "dockyard.runtime.security",
       "dockyard.runtime.cgroups"]

HEAVY = {"re", "enum", "typing", "dataclasses", "collections", "functools", "contextlib",
         "inspect", "signal", "shutil", "subprocess", "json", "socket", "selectors",
         "threading", "logging", "argparse", "tempfile", "pathlib", "datetime", "termios",
         "hashlib", "jsonschema", "aiohttp", "rich"}
OPTIONAL = {"dockyard.runtime.security.seccomp", "dockyard.runtime.security._bpf",
            "dockyard.runtime.security.profile", "dockyard.runtime.console",
            "dockyard.runtime.rootfs.cgroupfs", "dockyard.runtime.cgroups.stats",
            "dockyard.runtime.cgroups.devices_bpf", "dockyard.runtime.container.exec"}


def _loaded_after(code: str) -> set[str]:
    # -S: site's own imports (and a venv's .pth hooks) are not ours to judge.
    out = subprocess.run([sys.executable, "-S", "-c", code + "\nimport sys\n"
                          "print('\\n'.join(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_hot_modules_import_nothing_heavy_or_optional():
    mods = _loaded_after("".join(f"import {m}\n" for m in HOT))
    assert not sorted(mods & HEAVY), "heavy stdlib modules on the start-up path"
    assert not sorted(mods & OPTIONAL), "per-feature modules imported unconditionally"


def test_state_command_stays_small(tmp_path):
    mods = _loaded_after(
        "from dockyard.runtime.cli import main\n"
        f"assert main(['--root', {str(tmp_path)!r}, 'state', 'nope']) == 1\n")
    assert not sorted(mods & (HEAVY | {"ctypes", "types", "select"}))
    ours = {m for m in mods if m.startswith("dockyard")}
    assert ours <= {"dockyard", "dockyard.errors", "dockyard.runtime", "dockyard.runtime.cli",
                    "dockyard.runtime.argv", "dockyard.runtime.state",
                    "dockyard.runtime.fastjson", "dockyard.runtime.container",
                    "dockyard.runtime.container.state"}, sorted(ours)
