"""The cgroups package's public face and its start-up cost."""

from __future__ import annotations

import subprocess
import sys

import dockyard.runtime.cgroups as cgroups


def test_public_names_are_pinned() -> None:
    assert sorted(cgroups.__all__) == [
        "CgroupManager", "CgroupStats", "create_manager", "load_manager", "validate"]
    for name in cgroups.__all__:
        assert getattr(cgroups, name) is not None


def test_v1_and_v2_managers_satisfy_the_protocol() -> None:
    from dockyard.runtime.cgroups.v1 import V1Manager
    from dockyard.runtime.cgroups.v2 import V2Manager

    wanted = {n for n in dir(cgroups.CgroupManager) if not n.startswith("_")}
    assert wanted >= {"apply", "set", "freeze", "thaw", "pids", "stats", "destroy",
                      "to_state", "paths"}
    for cls in (V1Manager, V2Manager):
        missing = {n for n in wanted - {"version"} if not hasattr(cls, n)}
        assert not missing, (cls, missing)
        assert cls.version in (1, 2)


def test_the_create_path_skips_slow_imports() -> None:
    # What create needs (paths, a manager, validation) must not pull in typing,
    # dataclasses or logging beyond what the runtime package itself already does.
    code = (
        "import sys, dockyard.runtime\n"
        "before = set(sys.modules)\n"
        "import dockyard.runtime.cgroups as c\n"
        "from dockyard.runtime.cgroups.paths import parse_layout\n"
        "lay = parse_layout('1 2 0:3 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\\n"
        "2 2 0:4 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\\n', '4:memory:/\\n0::/\\n')\n"
        "c.create_manager('/a/b', 'b', layout=lay)\n"
        "c.validate({'memory': {'limit': 1}, 'devices': [{'allow': False}]})\n"
        "print(' '.join(sorted(set(sys.modules) - before)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    for slow in ("typing", "dataclasses", "logging", "re", "ctypes", "json"):
        assert slow not in out, f"{slow} imported on the create path: {out}"
    ours = sorted(n.rsplit(".", 1)[1] for n in out if n.startswith("dockyard.runtime.cgroups."))
    assert ours == ["cgfs", "paths", "resources", "v1", "v2"]


def test_the_delete_path_loads_only_the_managers() -> None:
    # delete = load_manager(saved) + pids/thaw/destroy: no path parsing, validation,
    # stats or BPF modules (each module is a file lookup and a load at start-up).
    code = (
        "import sys, json\n"
        "saved = json.loads(sys.argv[1])\n"
        "before = set(sys.modules)\n"
        "import dockyard.runtime.cgroups as c\n"
        "m = c.load_manager(saved)\n"
        "m.pids(); m.thaw(); m.destroy()\n"
        "print(' '.join(sorted(n for n in set(sys.modules) - before\n"
        "                      if n.startswith('dockyard.runtime.cgroups'))))\n"
    )
    saved = ('{"version": 1, "dirs": {"pids": "/nonexistent-dockyard-test/pids/x", '
             '"freezer": "/nonexistent-dockyard-test/freezer/x"}, "created": [], '
             '"shared": [], "unified": null}')
    out = subprocess.run([sys.executable, "-c", code, saved], capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == ["dockyard.runtime.cgroups", "dockyard.runtime.cgroups.cgfs",
                   "dockyard.runtime.cgroups.v1", "dockyard.runtime.cgroups.v2"]
