"""The config.json build_spec makes really runs, under runc and under dockyard-runtime,
and the container sees what Docker's options asked for (user, groups, capabilities,
seccomp, no_new_privs, hostname, env, cwd, read-only root, tmpfs, /dev/shm size,
rlimits, oom_score_adj, the network files, tini as PID 1)."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from dockyard.engine.ocispec import SpecInputs, build_spec
from tests.conftest import require_root

RUNTIMES = ["runc", "dockyard"]
MB = 1024 * 1024


@pytest.fixture(params=RUNTIMES)
def runtime(request, runtime_cmd, tmp_path) -> list[str]:
    require_root()
    if request.param == "runc":
        if not shutil.which("runc"):
            pytest.fail("runc is not installed (scripts/setup.sh installs it)", pytrace=False)
        cmd = ["runc"]
    else:
        cmd = list(runtime_cmd)
    root = tmp_path / "state"
    root.mkdir()
    return [*cmd, "--root", str(root)]


def run(runtime: list[str], bundle: Path, cid: str) -> tuple[int, str, str]:
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        try:
            proc = subprocess.run([*runtime, "run", "--bundle", str(bundle), cid],
                                  stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                  timeout=60)
        finally:
            subprocess.run([*runtime, "delete", "--force", cid], capture_output=True,
                           timeout=30)
        out.seek(0)
        err.seek(0)
        return proc.returncode, out.read(), err.read()


def spec_for(rootfs: Path, cid: str, script: str, config: dict | None = None,
             host_config: dict | None = None, **kw) -> Path:
    files_dir = rootfs.parent / "files"
    files_dir.mkdir(exist_ok=True)
    (files_dir / "hostname").write_text("spechost\n")
    (files_dir / "hosts").write_text("127.0.0.1 localhost\n10.9.8.7 from-dockyard\n")
    (files_dir / "resolv.conf").write_text("nameserver 10.9.8.1\n")
    files = {f"/etc/{n}": str(files_dir / n) for n in ("hostname", "hosts", "resolv.conf")}
    cfg = {"Image": "busybox", "Cmd": ["sh", "-c", script], "Hostname": "spechost",
           **(config or {})}
    hc = {"NetworkMode": "none", **(host_config or {})}
    spec = build_spec(SpecInputs(cid, str(rootfs), cfg, hc, files=files,
                                 cgroups_path=f"/{cid}", **kw))
    (rootfs.parent / "config.json").write_text(json.dumps(spec))
    return rootfs.parent


def lines(out: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


STATUS = ("for k in CapBnd CapEff Seccomp NoNewPrivs; do "
          "echo $k=$(grep \"^$k:\" /proc/self/status | cut -f2); done")


def test_plain_container_runs_with_dockers_defaults(runtime, busybox_rootfs, container_id):
    script = ("echo uid=$(id -u) gid=$(id -g); echo groups=$(id -G); echo host=$(hostname); "
              "echo cwd=$(pwd); echo path=$PATH; echo hn=$HOSTNAME; " + STATUS + "; "
              "echo hosts=$(grep from-dockyard /etc/hosts); "
              "echo resolv=$(cat /etc/resolv.conf); "
              "echo shm=$(df -k /dev/shm | tail -1 | awk '{print $2}'); "
              "echo kcore=$(cat /proc/kcore | wc -c); "
              "echo ro=$(grep -c ' /proc/sys ro,' /proc/self/mountinfo)")
    code, out, err = run(runtime, spec_for(busybox_rootfs, container_id, script),
                         container_id)
    assert code == 0, err
    got = lines(out)
    assert got["uid"] == "0 gid=0" and got["groups"] == "0"
    assert got["host"] == "spechost" and got["hn"] == "spechost" and got["cwd"] == "/"
    assert got["path"] == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    assert got["CapEff"] == got["CapBnd"] == "00000000a80425fb"   # docker's 14
    assert got["Seccomp"] == "2" and got["NoNewPrivs"] == "0"
    assert got["hosts"] == "10.9.8.7 from-dockyard"
    assert got["resolv"] == "nameserver 10.9.8.1"
    assert got["shm"] == str(64 * 1024)
    assert got["kcore"] == "0"   # masked
    assert got["ro"] == "1"   # /proc/sys is read-only


def test_options_reach_the_process(runtime, busybox_rootfs, container_id):
    script = ("echo uid=$(id -u) gid=$(id -g); echo groups=$(id -G); echo cwd=$(pwd); "
              "echo foo=$FOO; " + STATUS + "; echo nofile=$(ulimit -n); echo core=$(ulimit -c); "
              "echo oom=$(cat /proc/self/oom_score_adj); "
              "echo rootro=$(touch /x 2>/dev/null && echo no || echo yes); "
              "echo tmpfs=$(touch /scratch/x && df -k /scratch | tail -1 | awk '{print $2}'); "
              "echo shm=$(df -k /dev/shm | tail -1 | awk '{print $2}')")
    bundle = spec_for(busybox_rootfs, container_id, script,
                      {"User": "user", "WorkingDir": "/tmp", "Env": ["FOO=bar"]},
                      {"GroupAdd": ["daemon"], "CapDrop": ["ALL"], "CapAdd": ["KILL"],
                       "SecurityOpt": ["no-new-privileges"], "OomScoreAdj": 300,
                       "Ulimits": [{"Name": "nofile", "Soft": 512, "Hard": 1024},
                                   {"Name": "core", "Soft": -1, "Hard": -1}],
                       "ReadonlyRootfs": True, "Tmpfs": {"/scratch": "size=2m,mode=1777"},
                       "ShmSize": 8 * MB})
    code, out, err = run(runtime, bundle, container_id)
    assert code == 0, err
    got = lines(out)
    assert got["uid"] == "1000 gid=1000"
    assert got["groups"].split() == ["1000", "1"]
    assert got["cwd"] == "/tmp" and got["foo"] == "bar"
    assert got["CapBnd"] == "0000000000000020" and got["CapEff"] == "0000000000000000"
    assert got["NoNewPrivs"] == "1" and got["Seccomp"] == "2"
    assert got["nofile"] == "512" and got["oom"] == "300" and got["core"] == "unlimited"
    assert got["rootro"] == "yes"
    assert got["tmpfs"] == str(2 * 1024) and got["shm"] == str(8 * 1024)


def test_init_is_pid_one(runtime, busybox_rootfs, container_id):
    if not Path("/usr/bin/tini-static").exists():
        pytest.fail("tini-static is not installed (scripts/setup.sh installs tini)",
                    pytrace=False)
    script = "echo pid1=$(tr '\\0' ' ' < /proc/1/cmdline); echo me=$$"
    code, out, err = run(runtime, spec_for(busybox_rootfs, container_id, script, None,
                                           {"Init": True}), container_id)
    assert code == 0, err
    got = lines(out)
    assert got["pid1"].startswith("/sbin/docker-init -- sh -c")
    assert got["me"] != "1"


def test_seccomp_default_denies_and_unconfined_allows(runtime, busybox_rootfs, container_id):
    # unshare(2) needs CAP_SYS_ADMIN: the default profile refuses it with EPERM first
    script = "unshare -U true 2>&1; echo rc=$?; " + STATUS
    code, out, err = run(runtime, spec_for(busybox_rootfs, container_id, script),
                         container_id)
    assert code == 0, err
    assert lines(out)["rc"] != "0"
    code, out, err = run(runtime, spec_for(busybox_rootfs, container_id, script, None,
                                           {"SecurityOpt": ["seccomp=unconfined"]}),
                         container_id)
    assert code == 0, err
    assert lines(out)["Seccomp"] == "0"


def test_privileged_container_runs_on_this_host(runtime, busybox_rootfs, container_id):
    """Every capability the daemon holds, all devices, no seccomp, writable /sys."""
    script = (STATUS + "; echo null=$(ls -l /dev/null | cut -c1); "
              "echo sysrw=$(grep -c ' /sys rw,' /proc/self/mountinfo); "
              "echo kcore=$(ls /proc/kcore >/dev/null 2>&1 && echo visible)")
    code, out, err = run(runtime, spec_for(busybox_rootfs, container_id, script, None,
                                           {"Privileged": True}), container_id)
    assert code == 0, err
    got = lines(out)
    with open("/proc/self/status") as f:
        ours = next(line.split()[1] for line in f if line.startswith("CapBnd:"))
    assert got["CapEff"] == got["CapBnd"] == ours
    assert got["Seccomp"] == "0" and got["null"] == "c" and got["sysrw"] == "1"


def test_device_mapping(runtime, busybox_rootfs, container_id):
    # /dev/kmsg (1:11) is in neither docker's nor runc's default rules: only the
    # mapping's "w" applies, so opening it for reading is refused
    script = ("echo dev=$(ls -l /dev/mykmsg | cut -c1); "
              "head -c1 /dev/mykmsg >/dev/null; echo rc=$?")
    code, out, err = run(runtime, spec_for(
        busybox_rootfs, container_id, script, None,
        {"Devices": [{"PathOnHost": "/dev/kmsg", "PathInContainer": "/dev/mykmsg",
                      "CgroupPermissions": "w"}]}), container_id)
    assert code == 0, err
    got = lines(out)
    assert got["dev"] == "c" and got["rc"] != "0"
