"""build_spec: a plain busybox container gets dockerd's defaults, field by field."""

from __future__ import annotations

import os

import pytest

from dockyard.engine.hostconfig import normalize_host_config
from dockyard.engine.ocispec import SpecInputs, build_spec, container_env
from dockyard.engine.spec_caps import DEFAULT_CAPS
from dockyard.errors import InvalidArgument
from tests.unit.engine.spec_helpers import CID, make_rootfs

DEFAULT_MOUNT_DESTS = ["/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue",
                       "/dev/shm"]


def spec_for(tmp_path, config=None, host_config=None, **kw):
    rootfs = make_rootfs(tmp_path)
    cfg = {"Image": "busybox", "Cmd": ["sh"], **(config or {})}
    hc = normalize_host_config(host_config or {"NetworkMode": "none"}, cgroup_v2=False)
    opts = {k: kw.pop(k) for k in list(kw) if k in ("default_init", "default_ulimits",
                                                     "no_new_privileges", "seccomp_profile")}
    return build_spec(SpecInputs(CID, str(rootfs), cfg, hc, **kw), cgroup_v2=False, **opts)


def test_plain_busybox_container(tmp_path):
    spec = spec_for(tmp_path)
    proc = spec["process"]
    assert spec["ociVersion"].startswith("1.")
    assert proc["args"] == ["sh"]
    assert proc["env"] == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                           f"HOSTNAME={CID[:12]}"]
    assert proc["cwd"] == "/"
    assert proc["user"] == {"uid": 0, "gid": 0, "additionalGids": [0]}
    assert "terminal" not in proc
    for key in ("bounding", "effective", "permitted"):
        assert proc["capabilities"][key] == list(DEFAULT_CAPS)
    assert len(DEFAULT_CAPS) == 14
    assert proc["oomScoreAdj"] == 0
    assert "noNewPrivileges" not in proc and "rlimits" not in proc
    assert spec["root"] == {"path": str(tmp_path / "rootfs")}
    assert spec["hostname"] == CID[:12]
    assert [m["destination"] for m in spec["mounts"]] == DEFAULT_MOUNT_DESTS
    shm = spec["mounts"][-1]
    assert shm["options"] == ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"]
    linux = spec["linux"]
    assert [ns["type"] for ns in linux["namespaces"]] == ["mount", "network", "uts", "pid",
                                                         "ipc"]
    assert all("path" not in ns for ns in linux["namespaces"])
    assert linux["cgroupsPath"] == f"/dockyard/{CID}"
    res = linux["resources"]
    assert res["devices"][0] == {"allow": False, "access": "rwm"}
    assert {"allow": False, "type": "c", "major": 10, "minor": 229, "access": "rwm"} \
        in res["devices"]
    assert res["memory"] == {"disableOOMKiller": False}
    assert res["cpu"] == {"shares": 0}
    assert res["blockIO"] == {"weight": 0}
    assert "pids" not in res
    assert "devices" not in linux
    assert linux["seccomp"]["defaultAction"] == "SCMP_ACT_ERRNO"
    assert linux["maskedPaths"][0] == "/proc/asound" and "/sys/firmware" in linux["maskedPaths"]
    assert linux["readonlyPaths"] == ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                      "/proc/sysrq-trigger"]
    if os.path.exists("/proc/sys/net/ipv4/ip_unprivileged_port_start"):
        assert linux["sysctl"]["net.ipv4.ip_unprivileged_port_start"] == "0"


def test_network_files_are_bound_after_the_defaults(tmp_path):
    files = {"/etc/hosts": "/h/hosts", "/etc/resolv.conf": "/h/resolv",
             "/etc/hostname": "/h/hostname"}
    spec = spec_for(tmp_path, files=files)
    tail = spec["mounts"][len(DEFAULT_MOUNT_DESTS):]
    assert [(m["destination"], m["source"], m["options"]) for m in tail] == [
        ("/etc/resolv.conf", "/h/resolv", ["rbind", "rprivate"]),
        ("/etc/hostname", "/h/hostname", ["rbind", "rprivate"]),
        ("/etc/hosts", "/h/hosts", ["rbind", "rprivate"]),
    ]


def test_env_overrides_and_removals():
    env = container_env({"Hostname": "h", "Tty": True,
                         "Env": ["PATH=/x", "A=1", "TERM", "B=2", "A=3", "B", "HOSTNAME=o"]})
    # as dockerd: defaults replaced in place, others appended as given (repeats kept),
    # a bare name removes only a default
    assert env == ["PATH=/x", "HOSTNAME=o", "A=1", "B=2", "A=3"]


def test_tty_adds_terminal_and_term(tmp_path):
    spec = spec_for(tmp_path, {"Tty": True})
    assert spec["process"]["terminal"] is True
    assert "TERM=xterm" in spec["process"]["env"]


def test_entrypoint_cmd_workdir_hostname(tmp_path):
    spec = spec_for(tmp_path, {"Entrypoint": ["/bin/sh", "-c"], "Cmd": ["echo hi"],
                               "WorkingDir": "/tmp", "Hostname": "box",
                               "Domainname": "example.org", "Env": ["FOO=bar"]})
    assert spec["process"]["args"] == ["/bin/sh", "-c", "echo hi"]
    assert spec["process"]["cwd"] == "/tmp"
    assert spec["hostname"] == "box"
    assert "HOSTNAME=box" in spec["process"]["env"] and "FOO=bar" in spec["process"]["env"]
    assert spec["linux"]["sysctl"]["kernel.domainname"] == "example.org"


def test_init_puts_tini_first_and_binds_it_read_only(tmp_path):
    spec = spec_for(tmp_path, {"Cmd": ["sleep", "1"]},
                    {"NetworkMode": "none", "Init": True}, init_path="/usr/bin/tini-static")
    assert spec["process"]["args"] == ["/sbin/docker-init", "--", "sleep", "1"]
    init = [m for m in spec["mounts"] if m["destination"] == "/sbin/docker-init"]
    assert init == [{"destination": "/sbin/docker-init", "type": "bind",
                     "source": "/usr/bin/tini-static", "options": ["bind", "ro"]}]
    # the init bind follows docker's defaults, before any user mount
    dests = [m["destination"] for m in spec["mounts"]]
    assert dests.index("/sbin/docker-init") == len(DEFAULT_MOUNT_DESTS)


def test_daemon_default_init_and_its_opt_out(tmp_path):
    on = spec_for(tmp_path / "a", default_init=True)
    assert on["process"]["args"][:2] == ["/sbin/docker-init", "--"]
    off = spec_for(tmp_path / "b", None, {"NetworkMode": "none", "Init": False},
                   default_init=True)
    assert off["process"]["args"] == ["sh"]


def test_init_is_skipped_in_a_shared_pid_namespace(tmp_path):
    spec = spec_for(tmp_path, None, {"NetworkMode": "none", "Init": True, "PidMode": "host"})
    assert spec["process"]["args"] == ["sh"]
    assert "pid" not in [ns["type"] for ns in spec["linux"]["namespaces"]]


def test_no_command_is_an_error(tmp_path):
    with pytest.raises(InvalidArgument, match="No command specified"):
        spec_for(tmp_path, {"Cmd": None})


def test_preload_then_build_is_fast(tmp_path):
    import time

    from dockyard.engine.ocispec import preload

    preload()
    rootfs = make_rootfs(tmp_path)
    hc = normalize_host_config({"NetworkMode": "none"}, cgroup_v2=False)
    inp = SpecInputs(CID, str(rootfs), {"Cmd": ["true"]}, hc)
    start = time.perf_counter()
    for _ in range(20):
        build_spec(inp, cgroup_v2=False)
    per_call = (time.perf_counter() - start) / 20
    assert per_call < 0.02, f"build_spec takes {per_call * 1000:.1f} ms"
