"""Fixtures every test tier shares: a busybox rootfs, the leak check, a token.

The leak check is autouse for ``tests/integration`` and ``tests/interop``: a test
that leaves a mount, cgroup, link, namespace file, process or temp entry behind
fails, and its leftovers are named. Names of the objects a test makes should carry
``LEAK_TOKEN`` (container ids from ``container_id`` do), so the check can tell them
from another test run's on the same machine.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.support import leaks
from tests.support.busybox import find_static_busybox, make_rootfs

LEAK_TOKEN = f"dyt{os.getpid():x}"
_SESSION_TMP = Path(tempfile.gettempdir()) / f"dockyard-tests-{LEAK_TOKEN}"
_ids = itertools.count(1)


def pytest_configure(config: pytest.Config) -> None:
    # Everything dockyard creates with tempfile lands in a private TMPDIR, so the
    # leak check can see exactly what this session left behind.
    _SESSION_TMP.mkdir(parents=True, exist_ok=True)
    os.environ["TMPDIR"] = str(_SESSION_TMP)
    os.environ["DOCKYARD_TEST_TOKEN"] = LEAK_TOKEN
    # Subprocesses (dockyard-runtime, dockyardd) run this tree's code, not whatever
    # copy of dockyard is installed: a git worktree tests itself.
    src = str(Path(__file__).resolve().parent.parent / "src")
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [src, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))])
    tempfile.tempdir = None


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_SESSION_TMP, ignore_errors=True)


def _owned_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ...]:
    return (str(tmp_path_factory.getbasetemp()), str(_SESSION_TMP))


@pytest.fixture(autouse=True)
def leakcheck(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """Fail a root-needing test that leaves a kernel object or temp entry behind."""
    path = str(request.node.path)
    if os.sep + "unit" + os.sep in path:
        yield
        return
    owned = _owned_dirs(tmp_path_factory)
    before = leaks.take(LEAK_TOKEN, owned, str(_SESSION_TMP))
    yield
    after = leaks.take(LEAK_TOKEN, owned, str(_SESSION_TMP))
    leaked = after.leaked_since(before)
    if leaked:
        pytest.fail(f"test leaked kernel objects or temp entries: {leaked}", pytrace=False)


@pytest.fixture
def container_id() -> str:
    """A container id unique to this test and marked with the session's leak token."""
    return f"{LEAK_TOKEN}-{next(_ids)}"


@pytest.fixture(scope="session")
def busybox_binary() -> Path:
    found = find_static_busybox()
    if found is None:
        pytest.fail("static busybox not found: install Debian's busybox-static "
                    "(scripts/setup.sh does)", pytrace=False)
    return found


@pytest.fixture(scope="session")
def busybox_rootfs_template(tmp_path_factory: pytest.TempPathFactory,
                            busybox_binary: Path) -> Path:
    return make_rootfs(tmp_path_factory.mktemp("busybox-template") / "rootfs", busybox_binary)


@pytest.fixture
def busybox_rootfs(tmp_path: Path, busybox_rootfs_template: Path) -> Path:
    """A fresh, writable copy of the busybox rootfs for one test."""
    target = tmp_path / "bundle" / "rootfs"
    shutil.copytree(busybox_rootfs_template, target, symlinks=True)
    return target


@pytest.fixture(scope="session")
def runtime_cmd() -> list[str]:
    """How to call dockyard-runtime: the installed script, else the module."""
    found = shutil.which("dockyard-runtime")
    return [found] if found else [sys.executable, "-m", "dockyard.runtime.cli"]


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.fail("this test needs root (namespaces, mounts, cgroups)", pytrace=False)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 120)
    return subprocess.run(cmd, **kw)


@pytest.fixture(scope="session")
def dockerd(tmp_path_factory: pytest.TempPathFactory):
    """A private dockerd for this session (``tests/support/dockerd.py``), with the
    tree's dockyard-runtime registered as runtime ``dockyard``."""
    from tests.support.dockerd import start_dockerd, stop_dockerd

    require_root()
    try:
        d = start_dockerd(tmp_path_factory.mktemp("dockerd"), LEAK_TOKEN)
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
    yield d
    stop_dockerd(d)


@pytest.fixture(scope="session")
def docker_busybox_image(dockerd, busybox_rootfs_template: Path, tmp_path_factory) -> str:
    """A ``busybox:dytest`` image in the private dockerd, imported from the host's
    static busybox (there is no Docker Hub here)."""
    import tarfile

    tag = "busybox:dytest"
    tar_path = tmp_path_factory.mktemp("busybox-import") / "rootfs.tar"
    with tarfile.open(tar_path, "w") as tar:
        tar.add(busybox_rootfs_template, arcname=".")
    dockerd.cli("import", "--change", 'CMD ["sh"]', str(tar_path), tag)
    return tag
