"""One behaviour suite every CgroupManager implementation runs (style rule 5).

Each test gets a factory for a fresh, token-named manager of one kind:
``v1-host`` (this host's v1 hierarchies, hybrid with cgroup2) and ``v2-unified``
(the real cgroup2 mount, no controllers enabled). The checks are what the
runtime relies on whatever the kernel layout: placing a process, listing it,
saving and reloading the manager, freezing, device rules, removal.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dockyard.runtime.cgroups import create_manager, load_manager
from dockyard.runtime.cgroups.paths import detect
from dockyard.runtime.cgroups.v2 import V2Manager
from tests.conftest import require_root

from .test_cgroups_helpers import HeldChild, kill_all_and_destroy, proc_cgroups

pytestmark = pytest.mark.integration


@pytest.fixture(params=["v1-host", "v2-unified"])
def make(request: pytest.FixtureRequest, container_id: str) -> Iterator[Callable]:
    require_root()
    layout = detect()
    made = []

    def factory(suffix: str = ""):
        path = f"/{container_id}{suffix}"
        if request.param == "v1-host":
            if layout.mode not in ("v1", "hybrid"):
                pytest.fail("this host has no cgroup v1", pytrace=False)
            m = create_manager(path, container_id)
        else:
            if layout.unified is None:
                pytest.fail("this host has no cgroup2 mount", pytrace=False)
            m = V2Manager(layout.unified, path, controllers=())
        made.append(m)
        return m

    yield factory
    for m in made:
        kill_all_and_destroy(m)


def test_lifecycle(make: Callable, container_id: str, busybox_binary: Path) -> None:
    m = make()
    child = HeldChild(busybox_binary, "exec sleep 60")
    try:
        m.apply(child.pid)
        assert m.pids() == [child.pid]
        placed = proc_cgroups(child.pid)
        for key in m.paths:
            assert placed[key] == f"/{container_id}", key
        again = load_manager(m.to_state())
        assert again.paths == m.paths and again.pids() == [child.pid]
        again.freeze()
        again.thaw()
        assert m.stats().pids.current in (0, 1)  # 0 where the pids controller is absent
    finally:
        child.close()
    kill_all_and_destroy(m)
    assert not any(os.path.exists(d) for d in m.paths.values())
    m.destroy()  # a second destroy is harmless
    m.thaw()  # so is thawing what is gone (delete thaws before killing)
    assert m.pids() == []


def test_device_rules_deny_dev_null(make: Callable, busybox_binary: Path) -> None:
    m = make()
    child = HeldChild(busybox_binary,
                      "cat /dev/null; echo null=$?; head -c 3 /dev/zero | wc -c")
    try:
        m.apply(child.pid)
        m.set({"devices": [
            {"allow": True, "access": "rwm"},
            {"allow": False, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]})
        child.go()
        _code, out, err = child.finish()
        assert "null=1" in out and "Operation not permitted" in err, (out, err)
        assert out.split()[-1] == "3", "/dev/zero must stay readable"
    finally:
        child.close()


def test_parent_made_by_one_manager_goes_with_it(make: Callable) -> None:
    first = make("-a/x")  # makes the parent "-a"
    second = make("-a/y")  # finds it there: not its to remove
    first.apply(None)
    second.apply(None)
    second.destroy()
    assert all(os.path.isdir(d) for d in first.paths.values())
    assert all(os.path.isdir(os.path.dirname(d)) for d in second.paths.values())
    first.destroy()
    for d in first.paths.values():
        assert not os.path.exists(os.path.dirname(d)), "the maker removes its empty parent"
