"""The v2 manager on this host's real cgroup2 mount (hybrid: /sys/fs/cgroup/unified).

That mount holds only hugetlb, so these tests cover what works without other
controllers: creating cgroups, cgroup.procs, cgroup.freeze and the BPF device
program; the controller files are checked against a fake tree in the unit tests.
No controller is enabled (``controllers=()``), so the host's root is left alone.
The BPF program's deny/allow behaviour is in test_cgroups_suite.py (run for v1 too).
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

import pytest

from dockyard.runtime import syscalls
from dockyard.runtime.cgroups.paths import detect
from dockyard.runtime.cgroups.v2 import V2Manager
from tests.conftest import require_root

from .test_cgroups_helpers import HeldChild, kill_all_and_destroy, proc_cgroups

pytestmark = pytest.mark.integration


@pytest.fixture
def mount() -> str:
    require_root()
    layout = detect()
    if layout.unified is None:
        pytest.fail("no cgroup2 mount on this host", pytrace=False)
    return layout.unified


DENY_NULL = [{"allow": True, "access": "rwm"},
             {"allow": False, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]
PROBE = ("cat /dev/null; echo null=$?; head -c 3 /dev/zero | wc -c")


def test_create_join_and_destroy(mount: str, container_id: str, busybox_binary: Path) -> None:
    m = V2Manager(mount, f"/{container_id}-p/{container_id}", controllers=())
    child = HeldChild(busybox_binary, "exec sleep 60")
    try:
        m.apply(child.pid)
        assert m.pids() == [child.pid]
        assert proc_cgroups(child.pid)[""] == f"/{container_id}-p/{container_id}"
        parent = f"{mount}/{container_id}-p"
        assert m.created == [parent, f"{parent}/{container_id}"]
    finally:
        child.close()
        kill_all_and_destroy(m)
    assert not os.path.exists(f"{mount}/{container_id}-p")


def test_updating_devices_replaces_the_program(mount: str, container_id: str,
                                                busybox_binary: Path) -> None:
    m = V2Manager(mount, f"/{container_id}", controllers=())
    child = HeldChild(busybox_binary, PROBE)
    try:
        m.apply(child.pid)
        m.set({"devices": DENY_NULL})
        m.set({"devices": [{"allow": True, "access": "rwm"}]})
        fd = os.open(m.dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            assert len(syscalls.bpf_prog_query(fd, syscalls.BPF_CGROUP_DEVICE)) == 1
        finally:
            os.close(fd)
        child.go()
        _code, out, err = child.finish()
        assert "null=0" in out, (out, err)
    finally:
        child.close()
        kill_all_and_destroy(m)


def test_freeze_and_thaw_with_cgroup_freeze(mount: str, container_id: str,
                                            busybox_binary: Path) -> None:
    m = V2Manager(mount, f"/{container_id}", controllers=())
    child = HeldChild(busybox_binary, "while :; do echo x; sleep 0.02; done")
    assert child.proc.stdout is not None
    fd = child.proc.stdout.fileno()
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)

    def drain() -> bytes:
        try:
            return os.read(fd, 65536)
        except BlockingIOError:
            return b""

    try:
        m.apply(child.pid)
        child.go()
        time.sleep(0.2)
        assert drain()
        m.freeze()
        assert "frozen 1" in Path(m.dir, "cgroup.events").read_text()
        drain()
        time.sleep(0.3)
        assert drain() == b"", "a frozen child printed"
        m.thaw()
        assert "frozen 0" in Path(m.dir, "cgroup.events").read_text()
        time.sleep(0.3)
        assert drain()
    finally:
        child.close()
        kill_all_and_destroy(m)
