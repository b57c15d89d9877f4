"""dockyard-runtime and runc run the same OCI bundle; what the container sees must match.

The bundle is runc's own default (``runc spec``, terminal off), so a difference is
dockyard's to explain. Each runtime gets its own ``--root``; container ids carry the
session token so the leak check can see what they leave behind.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import require_root

pytestmark = pytest.mark.interop

# What a process can see of its own container, one fact per line, stable across runs.
PROBE = r"""
grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp|Uid|Gid|Groups):' /proc/self/status
echo "-- mounts"; awk '{print $2, $3, $4}' /proc/self/mounts \
  | sed -E 's/,?(size|nr_inodes|inode64|mode|uid|gid|ptmxmode|newinstance)=[^ ,]*//g' | sort
echo "-- dev"; ls -l /dev | awk 'NR>1 {print substr($1,1,1), $NF, $5, $6}' | sort
echo "-- misc"; hostname; cat /proc/self/oom_score_adj; ulimit -n; ulimit -Hn; umask; pwd
echo "$PATH"
echo "-- ro"; (echo 1 > /proc/sys/kernel/domainname) 2>&1 | sed 's/.*: //'
(cat /proc/kcore | head -c 1 | wc -c) 2>&1
"""


@pytest.fixture(scope="module")
def runc_binary() -> str:
    found = shutil.which("runc")
    if not found:
        pytest.fail("runc is not installed (apt-get install runc)", pytrace=False)
    return found


def make_bundle(rootfs: Path, args: list[str], runc: str, **process) -> Path:
    bundle = rootfs.parent
    subprocess.run([runc, "spec"], cwd=bundle, check=True)
    config = json.loads((bundle / "config.json").read_text())
    config["process"]["terminal"] = False
    config["process"]["args"] = args
    config["process"].update(process)
    (bundle / "config.json").write_text(json.dumps(config, indent=1))
    return bundle


class Rt:
    """One runtime with a private state root under the test's tmp dir."""

    def __init__(self, name: str, argv: list[str], root: Path):
        self.name, self.argv, self.root = name, argv, root

    def __call__(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([*self.argv, "--root", str(self.root), *args],
                              capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def cleanup(self, cid: str) -> None:
        self("delete", "--force", cid)


@pytest.fixture
def runtimes(tmp_path: Path, runtime_cmd: list[str], runc_binary: str):
    require_root()
    rts = {"runc": Rt("runc", [runc_binary], tmp_path / "root-runc"),
           "dockyard": Rt("dockyard", runtime_cmd, tmp_path / "root-dockyard")}
    yield rts


def run_both(runtimes: dict[str, Rt], bundle: Path, container_id: str) -> dict:
    results = {}
    for name, rt in runtimes.items():
        cid = f"{container_id}-{name}"
        try:
            results[name] = rt("run", "--bundle", str(bundle), cid)
        finally:
            rt.cleanup(cid)
    return results


def test_exit_code_and_output_match(runtimes, busybox_rootfs: Path, runc_binary: str,
                                    container_id: str):
    bundle = make_bundle(busybox_rootfs,
                         ["sh", "-c", "echo out; echo err >&2; exit 42"], runc_binary)
    res = run_both(runtimes, bundle, container_id)
    assert res["runc"].returncode == 42, res["runc"]
    assert (res["dockyard"].returncode, res["dockyard"].stdout) == (42, "out\n"), res["dockyard"]
    assert res["dockyard"].stderr.endswith("err\n"), res["dockyard"].stderr


def test_container_sees_the_same_as_under_runc(runtimes, busybox_rootfs: Path,
                                               runc_binary: str, container_id: str):
    bundle = make_bundle(busybox_rootfs, ["sh", "-c", PROBE], runc_binary)
    res = run_both(runtimes, bundle, container_id)
    assert res["runc"].returncode == 0, res["runc"].stderr
    assert res["dockyard"].returncode == 0, res["dockyard"].stderr
    runc_lines = res["runc"].stdout.splitlines()
    ours = res["dockyard"].stdout.splitlines()
    missing = [x for x in runc_lines if x not in ours]
    extra = [x for x in ours if x not in runc_lines]
    assert ours == runc_lines, f"only under runc: {missing}\nonly under dockyard: {extra}"


def test_user_and_caps_match(runtimes, busybox_rootfs: Path, runc_binary: str,
                             container_id: str):
    bundle = make_bundle(
        busybox_rootfs, ["sh", "-c", "id; grep -E '^Cap(Eff|Prm|Bnd)' /proc/self/status; umask"],
        runc_binary, user={"uid": 1000, "gid": 100, "additionalGids": [5, 1]}, cwd="/tmp",
        noNewPrivileges=True)
    res = run_both(runtimes, bundle, container_id)
    assert res["runc"].returncode == 0, res["runc"].stderr
    assert res["dockyard"].stdout == res["runc"].stdout, (res["dockyard"], res["runc"])


def state_shape(state: dict) -> dict:
    return {"keys": sorted(state), "status": state.get("status"),
            "pid_positive": isinstance(state.get("pid"), int) and state["pid"] > 0}


def test_lifecycle_states_match(runtimes, busybox_rootfs: Path, runc_binary: str,
                                container_id: str):
    """create -> state -> start -> state -> kill -> state -> delete, both runtimes."""
    bundle = make_bundle(busybox_rootfs, ["sleep", "1000"], runc_binary)
    seen: dict[str, list] = {}
    for name, rt in runtimes.items():
        cid = f"{container_id}-{name}"
        steps = seen.setdefault(name, [])
        try:
            # The created container's init keeps the runtime's stdio: send it to files.
            with open(bundle / f"{name}.out", "w") as out:
                created = subprocess.run(
                    [*rt.argv, "--root", str(rt.root), "create", "--bundle", str(bundle), cid],
                    stdin=subprocess.DEVNULL, stdout=out, stderr=out, timeout=60)
            assert created.returncode == 0, (bundle / f"{name}.out").read_text()
            st = json.loads(rt("state", cid).stdout)
            assert st["id"] == cid and st["bundle"] == str(bundle), st
            steps.append(state_shape(st))
            steps.append(("start", rt("start", cid).returncode))
            steps.append(state_shape(json.loads(rt("state", cid).stdout)))
            steps.append(("start-again", rt("start", cid).returncode != 0))
            steps.append(("kill", rt("kill", cid, "KILL").returncode))
            for _ in range(100):
                st = json.loads(rt("state", cid).stdout)
                if st["status"] == "stopped":
                    break
                time.sleep(0.05)
            steps.append(("after-kill", st["status"]))
            steps.append(("delete", rt("delete", cid).returncode))
            steps.append(("state-after-delete", rt("state", cid).returncode != 0))
        finally:
            rt.cleanup(cid)
    assert seen["dockyard"] == seen["runc"]
