"""Parity with dockerd 20.10 + runc: the config.json dockyard builds for a create request
is the one dockerd wrote, field by field.

Each case creates and starts a container in the session's private dockerd through the
Engine API (docker-py's low-level client, so the exact create body is known), reads the
config.json containerd handed to runc, then builds dockyard's from the same container's
``GET /containers/<id>/json`` (Config + HostConfig + Mounts) and compares. The same run
checks merge_image_config and normalize_host_config against what inspect shows; a
second table checks that dockerd and validate_create refuse the same bodies with the
same words, a third that options this host cannot enforce are dropped with dockerd's
warnings (adapt_resources), and a fourth that what dockerd/runc refuse only at start
(namespaced sysctls, missing devices, GPU requests, shared binds of private mounts)
dockyard refuses with the same words, and a fifth that wrong JSON types get the
same "json: cannot unmarshal" answer.

Intended differences, normalized away before comparing (each with its reason):

* ``hooks``: dockerd adds libnetwork's ``libnetwork-setkey`` prestart hook; dockyard's
  network service prepares the namespace before start, so no hook.
* ``--network host``: dockerd joins a bind-mounted copy of the host's netns by path;
  dockyard has no network namespace entry at all. Same effect.
* ``additionalGids`` after the primary gid: dockerd's GroupAdd order comes from a Go
  map (random); dockyard's is sorted. Compared as sets.
* Capabilities "ALL": dockerd 20.10 stops at CAP_AUDIT_READ; dockyard (like newer
  dockerd) includes CAP_PERFMON, CAP_BPF and CAP_CHECKPOINT_RESTORE.
* ``linux.seccomp`` of the default profile: dockerd 20.10 embeds an older profile.
  dockyard's must equal the official current profile (shared/specs/seccomp) exactly
  (checked here for each container's capabilities); against 20.10's only the syscalls
  in PROFILE_DRIFT may differ. Custom profiles must convert identically.
* tmpfs mounts at the same depth: dockerd orders them by Go map iteration (random);
  compared sorted by (depth, destination) after checking dockyard's are depth-sorted.
* ``--privileged`` is not in the table: this VM's bounding set lacks CAP_SYS_RESOURCE,
  so runc cannot start dockerd's privileged container here and dockerd never writes
  its config.json (dockyard limits privileged to the daemon's bounding set, so its own
  privileged containers do start: tests/integration/engine/test_ocispec_runs.py).
* Wrong JSON types: dockerd 20.10 answers 500, dockyard 400.
"""

from __future__ import annotations

import json
import os
import posixpath
import tarfile
import time
from pathlib import Path

import pytest

from dockyard.engine.hostconfig import normalize_host_config, validate_create
from dockyard.engine.imageconfig import merge_image_config
from dockyard.engine.ocispec import SpecInputs, build_spec
from dockyard.engine.spec_sysinfo import adapt_resources
from dockyard.errors import InvalidArgument
from dockyard.runtime.security.profile import docker_profile_to_spec
from tests.support.shared import docker_default_seccomp_profile

MB = 1024 * 1024
TOKEN = os.environ.get("DOCKYARD_TEST_TOKEN", "dyt")
NEWER_CAPS = {"CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"}

# Syscalls whose rules differ between dockerd 20.10's embedded default profile and the
# official current one (io_uring dropped; socket family filter; calls added since).
PROFILE_DRIFT = {
    "io_uring_enter", "io_uring_register", "io_uring_setup", "socket", "cachestat",
    "fchmodat2", "futex_requeue", "futex_wait", "futex_wake", "futex_waitv", "getxattrat",
    "listmount", "listxattrat", "map_shadow_stack", "mseal", "name_to_handle_at",
    "pkey_alloc", "pkey_free", "pkey_mprotect", "process_vm_readv", "process_vm_writev",
    "removexattrat", "riscv_hwprobe", "setxattrat", "statmount", "uretprobe",
    "clock_settime64",
    "clone3", "fsconfig", "fsmount", "fsopen", "fspick", "lsm_get_self_attr",
    "lsm_list_modules", "lsm_set_self_attr", "mount_setattr", "move_mount", "open_tree",
    "quotactl_fd", "pidfd_getfd", "process_madvise", "set_mempolicy_home_node",
    "bpf", "perf_event_open", "kcmp", "memfd_secret", "epoll_pwait2", "landlock_add_rule",
    "landlock_create_ruleset", "landlock_restrict_self", "close_range", "faccessat2",
    "process_mrelease", "openat2", "pidfd_open", "pidfd_send_signal",
}

CUSTOM_PROFILE = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
    "syscalls": [
        {"names": ["mkdirat", "mkdir"], "action": "SCMP_ACT_ERRNO"},
        {"names": ["chroot"], "action": "SCMP_ACT_ERRNO", "includes": {"caps": ["CAP_SYS_CHROOT"]}},
        {"names": ["syslog"], "action": "SCMP_ACT_ERRNO", "excludes": {"caps": ["CAP_SYSLOG"]}},
    ],
}

# (id, image "plain" or "rich", Config additions, HostConfig). "{tmp}" is the test's
# tmp_path, "{token}" the session token.
CASES = [
    ("plain", "plain", {}, {}),
    ("memory-cpus", "plain", {}, {"Memory": 64 * MB, "NanoCpus": 1_500_000_000}),
    ("resources", "plain", {}, {
        "Memory": 20 * MB, "MemorySwap": 40 * MB, "MemoryReservation": 10 * MB,
        "MemorySwappiness": 10, "OomKillDisable": True, "PidsLimit": 50, "CpuShares": 512,
        "CpusetCpus": "0", "CpusetMems": "0", "OomScoreAdj": 100,
        "CgroupParent": "/dyparity-{token}"}),
    ("cpu-period", "plain", {}, {"CpuPeriod": 50000, "CpuQuota": 25000, "BlkioWeight": 300}),
    ("caps", "plain", {}, {"CapAdd": ["NET_ADMIN", "cap_sys_time"], "CapDrop": ["chown"]}),
    ("cap-drop-all", "plain", {}, {"CapDrop": ["ALL"], "CapAdd": ["kill"]}),
    ("cap-add-all", "plain", {}, {"CapAdd": ["ALL"], "CapDrop": ["SYS_RESOURCE"]}),
    ("read-only-tmpfs", "plain", {}, {"ReadonlyRootfs": True,
                                      "Tmpfs": {"/run": "size=10m,exec", "/tmp": ""}}),
    ("user-groups", "plain", {"User": "user"}, {"GroupAdd": ["daemon", "4242", "users"]}),
    ("user-numeric", "plain", {"User": "1000:1000"}, {}),
    ("init-env-workdir", "plain", {"WorkingDir": "/tmp", "Env": ["FOO=bar", "PATH=/bin:/x"],
                                   "Hostname": "myhost", "Domainname": "example.org"},
     {"Init": True}),
    ("ulimits-sysctls-shm", "plain", {}, {
        "Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 2048},
                    {"Name": "nproc", "Soft": 100, "Hard": 100}],
        "Sysctls": {"net.ipv4.ip_forward": "1", "kernel.shmmax": "1000000"},
        "ShmSize": 128 * MB}),
    ("devices-nnp", "plain", {}, {
        "Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/mynull",
                     "CgroupPermissions": "r"},
                    {"PathOnHost": "/dev/zero", "PathInContainer": "/dev/zero",
                     "CgroupPermissions": "rwm"}],
        "DeviceCgroupRules": ["c 42:* rmw", "b *:* m"],
        "SecurityOpt": ["no-new-privileges"]}),
    ("entrypoint-tty", "plain", {"Entrypoint": ["/bin/sh", "-c"], "Cmd": ["sleep 300"],
                                 "Tty": True, "OpenStdin": True}, {}),
    ("host-namespaces", "plain", {}, {"NetworkMode": "host", "IpcMode": "host",
                                      "PidMode": "host", "UTSMode": "host"}),
    ("ipc-shareable-cgroupns", "plain", {}, {"IpcMode": "shareable",
                                             "CgroupnsMode": "private"}),
    ("ipc-none", "plain", {}, {"IpcMode": "none"}),
    ("binds-volumes", "plain", {}, {
        "Binds": ["{tmp}/bind:/mnt/bind:ro", "{tmp}/deep:/mnt/a/b/c:rprivate",
                  "dyparity-{token}-vol:/vol"],
        "Mounts": [{"Type": "tmpfs", "Target": "/cache",
                    "TmpfsOptions": {"SizeBytes": 64 * MB, "Mode": 0o1770}}]}),
    ("seccomp-unconfined", "plain", {}, {"SecurityOpt": ["seccomp=unconfined"]}),
    ("seccomp-custom", "plain", {}, {"SecurityOpt": ["seccomp=" + json.dumps(CUSTOM_PROFILE)]}),
    ("env-edges", "plain", {"Env": ["A=1", "TERM", "A=3", "HOSTNAME=custom", "B"],
                            "Tty": True}, {}),
    ("user-group-name", "plain", {"User": "user:daemon"}, {"GroupAdd": ["1000"]}),
    ("pids-zero-swap-unlimited", "plain", {}, {"PidsLimit": 0, "Memory": 32 * MB,
                                               "MemorySwap": -1, "NanoCpus": 500_000_000,
                                               "CgroupnsMode": "host"}),
    ("tmpfs-ro-nonrecursive", "plain", {}, {
        "Tmpfs": {"/ro": "ro,size=1m"},
        "Mounts": [{"Type": "bind", "Source": "{tmp}/bind", "Target": "/nr",
                    "BindOptions": {"NonRecursive": True}},
                   {"Type": "bind", "Source": "{tmp}/deep", "Target": "/rw",
                    "BindOptions": {"Propagation": "private"}}]}),
    ("config-merge", "rich", {"Cmd": ["sleep", "300"], "Labels": {"l": "1"},
                              "ExposedPorts": {"9090/udp": {}}, "StopSignal": "SIGUSR1",
                              "Healthcheck": {"Test": ["CMD", "true"],
                                              "Interval": 2_000_000_000},
                              "Volumes": {"/extra": {}}, "WorkingDir": "/opt/./work//"},
     {}),
    ("ulimit-unlimited-ipc-sysctl", "plain", {}, {
        # (raising a hard limit needs CAP_SYS_RESOURCE, which this VM lacks: core's
        # hard limit is already unlimited)
        "Ulimits": [{"Name": "core", "Soft": -1, "Hard": -1}],
        "Sysctls": {"fs.mqueue.msg_max": "20", "kernel.msgmax": "9000"}}),
    ("device-dir-and-symlink", "plain", {}, {
        "Devices": [{"PathOnHost": "/dev/net", "PathInContainer": "/dev/net",
                     "CgroupPermissions": "rwm"},
                    {"PathOnHost": "{tmp}/null-link", "PathInContainer": "/dev/linked",
                     "CgroupPermissions": "rw"}]}),
    ("host-network-hostname", "plain", {"Hostname": "myhost"}, {"NetworkMode": "host"}),
    ("uts-host-only", "plain", {}, {"UTSMode": "host"}),
    ("rich-image", "rich", {"Cmd": None}, {}),
    ("rich-entrypoint-override", "rich", {"Entrypoint": ["/bin/sleep"], "Cmd": ["300"],
                                          "Env": ["APP=2"]}, {}),
]


# --- fixtures ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def api(dockerd):
    import docker
    client = docker.APIClient(base_url=dockerd.host.replace("unix://", "unix://"),
                              version="1.41", timeout=120)
    yield client
    client.close()


def _import(dockerd, template: Path, tar_path: Path, tag: str, changes: list[str]) -> str:
    def world_readable(info: tarfile.TarInfo) -> tarfile.TarInfo:
        if info.isdir():  # pytest's temp dirs are 0700: let non-root users in
            info.mode |= 0o755
        return info

    with tarfile.open(tar_path, "w") as tar:
        tar.add(template, arcname=".", filter=world_readable)
    args = []
    for change in changes:
        args += ["--change", change]
    dockerd.cli("import", *args, str(tar_path), tag)
    return tag


@pytest.fixture(scope="module")
def images(dockerd, busybox_rootfs_template, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("parity-images")
    plain = _import(dockerd, busybox_rootfs_template, tmp / "plain.tar",
                    f"dyparity-{TOKEN}:plain", ['CMD ["sh"]'])
    rich = _import(dockerd, busybox_rootfs_template, tmp / "rich.tar",
                   f"dyparity-{TOKEN}:rich",
                   ["ENV APP=1 LANG=C.UTF-8", "WORKDIR /srv", "EXPOSE 8080/tcp",
                    "VOLUME /data", "USER 0:0", 'CMD ["sleep", "300"]'])
    # dockerd bind-mounts the host's netns under its exec-root the first time a
    # container uses --network host and keeps it until it stops: make that happen
    # here, before any test's leak snapshot, so it is not counted against a test.
    dockerd.cli("run", "--rm", "--network", "host", plain, "true")
    yield {"plain": plain, "rich": rich}
    dockerd.cli("rmi", "-f", plain, rich, check=False)


# --- helpers -----------------------------------------------------------------------

def _subst(value, tmp: Path):
    if isinstance(value, str):
        return value.replace("{tmp}", str(tmp)).replace("{token}", TOKEN)
    if isinstance(value, list):
        return [_subst(v, tmp) for v in value]
    if isinstance(value, dict):
        return {k: _subst(v, tmp) for k, v in value.items()}
    return value


def _config_json(dockerd, cid: str) -> dict:
    found = list(dockerd.exec_root.glob(
        f"containerd/daemon/io.containerd.runtime.v2.task/*/{cid}/config.json"))
    assert found, f"containerd wrote no config.json for {cid} under {dockerd.exec_root}"
    return json.loads(found[0].read_text())


def _wait_running(api, cid: str) -> dict:
    deadline = time.monotonic() + 30
    while True:
        info = api.inspect_container(cid)
        if info["State"]["Running"]:
            return info
        if info["State"]["Status"] == "exited" or time.monotonic() > deadline:
            logs = api.logs(cid).decode(errors="replace")
            raise AssertionError(f"container {cid} is not running: {info['State']} {logs}")
        time.sleep(0.1)


class Plan:
    """A MountPlan stand-in built from inspect's Mounts (what volfs will produce)."""

    def __init__(self, type, source, destination, read_only=False, propagation="",
                 options=()):
        self.type, self.source, self.destination = type, source, destination
        self.read_only, self.propagation, self.options = read_only, propagation, options


def _tmpfs_options(spec: dict) -> tuple[str, ...]:
    opts = spec.get("TmpfsOptions") or {}
    out = []
    if opts.get("Mode"):
        out.append(f"mode={opts['Mode']:o}")
    size = opts.get("SizeBytes") or 0
    if size:
        for suffix, div in (("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)):
            if size % div == 0:
                out.append(f"size={size // div}{suffix}")
                break
        else:
            out.append(f"size={size}")
    return tuple(out)


def _plans(info: dict) -> list[Plan]:
    tmpfs_specs = {m["Target"]: m for m in info["HostConfig"].get("Mounts") or ()
                   if m.get("Type") == "tmpfs"}
    binds = {m["Target"]: m for m in info["HostConfig"].get("Mounts") or ()
             if m.get("Type") == "bind"}
    plans = []
    for m in info.get("Mounts") or ():
        if m["Type"] == "tmpfs":
            spec = tmpfs_specs.get(m["Destination"], {})
            plans.append(Plan("tmpfs", "", m["Destination"], bool(spec.get("ReadOnly")),
                              options=_tmpfs_options(spec)))
        else:
            spec = binds.get(m["Destination"], {})
            nonrecursive = (spec.get("BindOptions") or {}).get("NonRecursive")
            plans.append(Plan(m["Type"], m["Source"], m["Destination"], not m["RW"],
                              m.get("Propagation") or "",
                              options=("bind",) if nonrecursive else ("rbind",)))
    return plans


def _ours(dockerd, info: dict, theirs: dict, joined: dict | None = None) -> dict:
    """dockyard's spec for the container ``info`` describes; ``joined``: the inspect
    of the container whose namespaces it shares (``container:`` modes)."""
    cid = info["Id"]
    hc = info["HostConfig"]
    files = {"/etc/resolv.conf": info["ResolvConfPath"], "/etc/hostname": info["HostnamePath"],
             "/etc/hosts": info["HostsPath"]}
    init = [m["source"] for m in theirs["mounts"] if m["destination"] == "/sbin/docker-init"]
    shm = None
    if hc["IpcMode"] == "shareable":
        shm = str(dockerd.data_root / "containers" / cid / "mounts" / "shm")
    ns = {}
    if joined is not None:
        pid = joined["State"]["Pid"]
        for key, mode, kind in (("netns", "NetworkMode", "net"), ("ipc_ns", "IpcMode", "ipc"),
                                ("pid_ns", "PidMode", "pid")):
            if (hc.get(mode) or "").startswith("container:"):
                ns[key] = f"/proc/{pid}/ns/{kind}"
        if hc["IpcMode"].startswith("container:"):
            shm = str(dockerd.data_root / "containers" / joined["Id"] / "mounts" / "shm")
    inp = SpecInputs(cid, info["GraphDriver"]["Data"]["MergedDir"], info["Config"], hc,
                     mounts=_plans(info), files=files, cgroups_path=f"/docker/{cid}",
                     init_path=init[0] if init else "/usr/bin/docker-init", shm_path=shm,
                     **ns)
    return build_spec(inp, cgroup_v2=False)


def _diff(a, b, path="") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            if k not in a:
                out.append(f"{path}/{k}: only dockyard has {json.dumps(b[k])[:300]}")
            elif k not in b:
                out.append(f"{path}/{k}: only dockerd has {json.dumps(a[k])[:300]}")
            else:
                out += _diff(a[k], b[k], f"{path}/{k}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        out = []
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            out += _diff(x, y, f"{path}[{i}]")
        return out
    return [] if a == b else [f"{path}: dockerd {json.dumps(a)[:400]} != dockyard "
                              f"{json.dumps(b)[:400]}"]


def _depth(m: dict) -> int:
    return len(posixpath.normpath(m["destination"]).split("/"))


def _effective(sec: dict) -> set[tuple]:
    return {(n, r["action"], r.get("errnoRet"), json.dumps(r.get("args") or [],
                                                          sort_keys=True))
            for r in sec["syscalls"] for n in r["names"]}


def _check_seccomp(case: str, hc: dict, theirs: dict, ours: dict) -> list[str]:
    t, o = theirs["linux"].pop("seccomp", None), ours["linux"].pop("seccomp", None)
    if (t is None) != (o is None):
        return [f"seccomp: dockerd {'has' if t else 'has no'} filter, dockyard "
                f"{'has' if o else 'has no'}"]
    if t is None:
        return []
    if any(opt.startswith("seccomp=") for opt in hc.get("SecurityOpt") or ()):
        return _diff(t, o, "/linux/seccomp")
    problems = []
    caps = ours["process"]["capabilities"]["bounding"]
    reference = docker_profile_to_spec(docker_default_seccomp_profile(), caps)
    if _effective(reference) != _effective(o):
        problems.append("seccomp: dockyard's default differs from the official profile")
    drift = {r[0] for r in _effective(t) ^ _effective(o)} - PROFILE_DRIFT
    if drift:
        problems.append(f"seccomp: unexpected differences from dockerd 20.10: {sorted(drift)}")
    if t["defaultAction"] != o["defaultAction"] or t.get("architectures") != \
            o.get("architectures"):
        problems.append("seccomp: defaultAction/architectures differ")
    return problems


def _normalize(theirs: dict, ours: dict, hc: dict) -> list[str]:
    problems = []
    theirs.pop("hooks", None)
    if hc.get("NetworkMode") == "host":
        theirs["linux"]["namespaces"] = [ns for ns in theirs["linux"]["namespaces"]
                                         if ns["type"] != "network"]
    for spec in (theirs, ours):
        user = spec["process"]["user"]
        gids = user.pop("additionalGids", [])
        user["gids"] = (gids[:1], sorted(set(gids[1:])))
    for key, caps in ours["process"]["capabilities"].items():
        ours["process"]["capabilities"][key] = [c for c in caps if c not in NEWER_CAPS]
    # mounts: defaults keep their order; the user part is depth-sorted in dockyard,
    # and compared as sorted lists (dockerd's order among equal depths is random).
    n_default = 0
    for m in theirs["mounts"]:
        if m["type"] == "bind" and m["destination"] != "/sbin/docker-init":
            break
        if m["destination"] in ("/run", "/tmp", "/cache", "/ro"):   # tmpfs user mounts
            break
        n_default += 1
    user_part = ours["mounts"][n_default:]
    if [_depth(m) for m in user_part] != sorted(_depth(m) for m in user_part):
        problems.append(f"mounts not sorted by depth: {[m['destination'] for m in user_part]}")
    for spec in (theirs, ours):
        spec["mounts"] = spec["mounts"][:n_default] + sorted(
            spec["mounts"][n_default:], key=lambda m: (_depth(m), m["destination"]))
    return problems


def _cleanup_cgroup_parent(name: str) -> None:
    root = Path("/sys/fs/cgroup")
    for top in [root, *root.iterdir()] if root.is_dir() else []:
        d = top / name.lstrip("/")
        if d.is_dir():
            try:
                d.rmdir()
            except OSError:
                pass


# --- the parity table --------------------------------------------------------------

@pytest.mark.parametrize(("case", "image", "config", "host_config"), CASES,
                         ids=[c[0] for c in CASES])
def test_spec_matches_dockerd(api, dockerd, images, tmp_path, case, image, config,
                              host_config):
    (tmp_path / "bind").mkdir()
    (tmp_path / "deep").mkdir()
    os.symlink("/dev/null", tmp_path / "null-link")
    config = _subst(config, tmp_path)
    hc = _subst({"NetworkMode": "none", **host_config}, tmp_path)
    body = {"Image": images[image], "Cmd": ["sleep", "300"], **config, "HostConfig": hc}
    if body.get("Cmd") is None:
        body.pop("Cmd")
    name = f"dyparity-{TOKEN}-{case}"
    cid = None
    try:
        created = api._result(api._post_json(api._url("/containers/create"), data=body,
                                             params={"name": name}), True)
        cid = created["Id"]
        api.start(cid)
        info = _wait_running(api, cid)
        theirs = _config_json(dockerd, cid)

        # merge_image_config and normalize_host_config give what inspect shows
        image_cfg = api.inspect_image(images[image])["Config"]
        req_config = {k: v for k, v in body.items() if k != "HostConfig"}
        merged = merge_image_config(req_config, image_cfg)
        problems = []
        for key in ("Cmd", "Entrypoint", "Env", "WorkingDir", "User", "ExposedPorts",
                    "Volumes", "Labels", "StopSignal", "Tty", "Domainname", "Healthcheck",
                    "OpenStdin", "AttachStdout", "OnBuild", "Image"):
            if merged.get(key) != info["Config"].get(key):
                problems.append(f"Config.{key}: dockerd {info['Config'].get(key)!r} != "
                                f"dockyard {merged.get(key)!r}")
        validate_create(merged, hc)
        adapted, _warnings = adapt_resources(hc)
        normalized = normalize_host_config(adapted, cgroup_v2=False)
        problems += _diff(info["HostConfig"], normalized, "HostConfig")

        ours = _ours(dockerd, info, theirs)
        problems += _check_seccomp(case, hc, theirs, ours)
        problems += _normalize(theirs, ours, hc)
        problems += _diff(theirs, ours)
        assert not problems, f"{case}:\n" + "\n".join(problems)
    finally:
        if cid:
            api.remove_container(cid, v=True, force=True)
        if "Binds" in hc:
            api.remove_volume(f"dyparity-{TOKEN}-vol", force=True)
        if hc.get("CgroupParent"):
            _cleanup_cgroup_parent(hc["CgroupParent"])


def test_joined_namespaces_match_dockerd(api, dockerd, images):
    """--network/--ipc/--pid container:<other>: the namespace paths of the other's init,
    its /dev/shm, its network files and its hostname (dockerd copies it at start)."""
    other = joiner = None
    try:
        other = api._result(api._post_json(api._url("/containers/create"), data={
            "Image": images["plain"], "Cmd": ["sleep", "300"], "Hostname": "sharedhost",
            "HostConfig": {"NetworkMode": "none", "IpcMode": "shareable"}},
            params={"name": f"dyparity-{TOKEN}-other"}), True)["Id"]
        api.start(other)
        other_info = _wait_running(api, other)
        target = f"container:dyparity-{TOKEN}-other"
        hc = {"NetworkMode": target, "IpcMode": target, "PidMode": target}
        joiner = api._result(api._post_json(api._url("/containers/create"), data={
            "Image": images["plain"], "Cmd": ["sleep", "300"], "HostConfig": hc},
            params={"name": f"dyparity-{TOKEN}-joiner"}), True)["Id"]
        api.start(joiner)
        info = _wait_running(api, joiner)
        theirs = _config_json(dockerd, joiner)
        assert info["HostConfig"]["IpcMode"] == f"container:{other}"  # resolved to the id
        assert info["Config"]["Hostname"] == "sharedhost"
        ours = _ours(dockerd, info, theirs, joined=other_info)
        problems = _check_seccomp("joined", info["HostConfig"], theirs, ours)
        problems += _normalize(theirs, ours, info["HostConfig"])
        problems += _diff(theirs, ours)
        assert not problems, "joined:\n" + "\n".join(problems)
    finally:
        for cid in (joiner, other):
            if cid:
                api.remove_container(cid, v=True, force=True)


def test_shared_bind_of_a_private_mount_fails_like_dockerd(api, dockerd, images, tmp_path):
    """A shared bind needs a shared source mount: dockerd refuses at start, so does
    build_spec, with the same words (this VM's / is a private mount)."""
    import docker

    from dockyard.runtime.rootfs.mountinfo import find_mount_of, read_mountinfo

    src = tmp_path / "src"
    src.mkdir()
    mount = find_mount_of(os.path.realpath(src), read_mountinfo())
    if any(tag.startswith("shared:") for tag in mount.optional):
        pytest.fail(f"{mount.mountpoint} is a shared mount on this host: this test needs a "
                    "private one (the CI VM's / is private)", pytrace=False)
    body = {"Image": images["plain"], "Cmd": ["true"],
            "HostConfig": {"NetworkMode": "none", "Binds": [f"{src}:/x:rshared"]}}
    cid = api._result(api._post_json(api._url("/containers/create"), data=body,
                                     params={"name": f"dyparity-{TOKEN}-shared"}), True)["Id"]
    try:
        with pytest.raises(docker.errors.APIError) as theirs:
            api.start(cid)
        info = api.inspect_container(cid)
    finally:
        api.remove_container(cid, v=True, force=True)
    plans = [Plan("bind", str(src), "/x", False, "rshared")]
    with pytest.raises(InvalidArgument) as ours:
        build_spec(SpecInputs(cid, "/nonexistent", info["Config"], info["HostConfig"],
                              mounts=plans), cgroup_v2=False)
    assert ours.value.message in theirs.value.explanation, (ours.value.message,
                                                            theirs.value.explanation)


# HostConfig rows; "_config" in a row holds Config additions.
START_REFUSED = [
    {"Sysctls": {"kernel.panic": "1"}},
    {"Sysctls": {"kernel.hostname": "x"}},
    {"NetworkMode": "host", "Sysctls": {"net.ipv4.ip_forward": "1"}},
    {"IpcMode": "host", "Sysctls": {"kernel.shmmax": "1"}},
    {"UTSMode": "host", "Sysctls": {"kernel.domainname": "x"}},
    {"Devices": [{"PathOnHost": "/dev/nonexistent-dyparity", "PathInContainer": "/dev/x",
                  "CgroupPermissions": "rwm"}]},
    {"DeviceRequests": [{"Driver": "", "Count": -1, "Capabilities": [["gpu"]]}]},
    {"_config": {"User": "nosuchuser"}},
    {"_config": {"User": "user:nosuchgroup"}},
    {"GroupAdd": ["nosuchgroup"]},
]


@pytest.mark.parametrize("host_config", START_REFUSED,
                         ids=[json.dumps(h)[:60] for h in START_REFUSED])
def test_start_failures_are_refused_at_create_with_the_same_words(api, images, tmp_path,
                                                                  host_config):
    """dockerd (or runc under it) refuses these only at start; dockyard says the same
    thing earlier (validate_create, or build_spec for a missing device)."""
    import docker

    hc = {"NetworkMode": "none", **host_config}
    extra = hc.pop("_config", {})
    body = {"Image": images["plain"], "Cmd": ["true"], **extra, "HostConfig": hc}
    cid = api._result(api._post_json(api._url("/containers/create"), data=body,
                                     params={"name": f"dyparity-{TOKEN}-startfail"}),
                      True)["Id"]
    info = api.inspect_container(cid)
    try:
        with pytest.raises(docker.errors.APIError) as theirs:
            api.start(cid)
    finally:
        api.remove_container(cid, v=True, force=True)
    with pytest.raises(InvalidArgument) as ours:
        config = {"Image": "x", "Cmd": ["true"], **extra}
        validate_create(config, hc)
        # the user is resolved in the image's own files, as dockerd does
        rootfs = info["GraphDriver"]["Data"]["LowerDir"].split(":")[-1] \
            if info["GraphDriver"]["Data"].get("LowerDir") else str(tmp_path)
        build_spec(SpecInputs(cid, rootfs, config, hc), cgroup_v2=False)
    assert ours.value.message in theirs.value.explanation, (ours.value.message,
                                                            theirs.value.explanation)


# --- refused by both ---------------------------------------------------------------

REFUSED = [
    ({}, {"RestartPolicy": {"Name": "sometimes"}}),
    ({}, {"RestartPolicy": {"Name": "always", "MaximumRetryCount": 2}}),
    ({}, {"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": -1}}),
    ({}, {"AutoRemove": True, "RestartPolicy": {"Name": "always"}}),
    ({}, {"Memory": 4 * MB}),
    ({}, {"Memory": 64 * MB, "MemorySwap": 32 * MB}),
    ({}, {"MemorySwap": 64 * MB}),
    ({}, {"MemorySwappiness": 101}),
    ({}, {"MemoryReservation": MB}),
    ({}, {"Memory": 10 * MB, "MemoryReservation": 20 * MB}),
    ({}, {"NanoCpus": 1_000_000_000, "CpuQuota": 50000}),
    ({}, {"NanoCpus": 1_000_000_000, "CpuPeriod": 50000}),
    ({}, {"NanoCpus": 1000 * 1_000_000_000}),
    ({}, {"CpuPeriod": 500}),
    ({}, {"CpuQuota": 999}),
    # dockerd answers this one with a 500 (an unclassified error in its decoding step);
    # dockyard says 400, a user's mistake never being a 500. Same words.
    ({}, {"CpuRealtimePeriod": 1000, "CpuRealtimeRuntime": 2000}, 500),
    ({}, {"CpusetCpus": "4096"}),
    ({}, {"ShmSize": -1}),
    ({}, {"OomScoreAdj": 1001}),
    ({}, {"CapAdd": ["NET_FOO"]}),
    ({}, {"CapDrop": ["bogus"]}),
    ({}, {"CapAdd": "NET_FOO"}),
    ({}, {"PortBindings": {"99999/tcp": []}}),
    ({}, {"PortBindings": {"80/tcp": [{"HostPort": "eighty"}]}}),
    ({}, {"ExtraHosts": ["nocolon"]}),
    ({}, {"ExtraHosts": ["h:not-an-ip"]}),
    ({}, {"Tmpfs": {"relative": ""}}),
    ({}, {"Mounts": [{"Type": "bind", "Source": "/nonexistent-dyparity", "Target": "/x"}]}),
    ({}, {"Mounts": [{"Type": "nfs", "Target": "/x"}]}),
    ({}, {"Mounts": [{"Type": "volume", "Target": "/x", "ReadOnly": True}]}),
    ({}, {"CgroupnsMode": "shared"}),
    ({}, {"NetworkMode": "container:"}),
    ({"Hostname": "h"}, {"NetworkMode": "container:abc"}),
    ({}, {"NetworkMode": "container:abc", "Dns": ["1.1.1.1"]}),
    ({"Hostname": "h"}, {"UTSMode": "host"}),
    ({"WorkingDir": "relative"}, {}),
    ({"StopSignal": "SIGWHAT"}, {}),
    ({"Env": ["=oops"]}, {}),
    ({"Healthcheck": {"Interval": 1000}}, {}),
    ({"Healthcheck": {"Retries": -1}}, {}),
    ({}, {"LogConfig": {"Type": "json-file", "Config": {"max-sise": "1m"}}}),
    ({}, {"LogConfig": {"Type": "json-file", "Config": {"mode": "fast"}}}),
]


@pytest.mark.parametrize("case", REFUSED, ids=[json.dumps(c[0] or c[1])[:60] for c in REFUSED])
def test_refused_like_dockerd(api, images, case):
    import docker

    config, host_config = case[0], case[1]
    docker_status = case[2] if len(case) > 2 else 400
    body = {"Image": images["plain"], "Cmd": ["true"], **config, "HostConfig": host_config}
    name = f"dyparity-{TOKEN}-refused"
    with pytest.raises(docker.errors.APIError) as theirs:
        created = api._result(api._post_json(api._url("/containers/create"), data=body,
                                             params={"name": name}), True)
        api.remove_container(created["Id"], force=True)
    assert theirs.value.response.status_code == docker_status, theirs.value
    docker_message = theirs.value.explanation
    with pytest.raises(InvalidArgument) as ours:
        validate_create(config, host_config)
    assert ours.value.message in docker_message, (ours.value.message, docker_message)


# dockerd 20.10 answers these with a 500 (its decoding error is not classified as the
# client's); dockyard answers 400 (a user's mistake is never a 500). Same words.
TYPE_ERRORS = [
    ({}, {"Memory": "1g"}, "Memory of type int64"),
    ({}, {"Dns": "1.1.1.1"}, "Dns of type []string"),
    ({}, {"Privileged": "yes"}, "Privileged of type bool"),
    ({"Env": "A=1"}, {}, "Env of type []string"),
]


@pytest.mark.parametrize(("config", "host_config", "field"), TYPE_ERRORS,
                         ids=[f for _c, _h, f in TYPE_ERRORS])
def test_wrong_json_types_refused_like_dockerd(api, images, config, host_config, field):
    import docker

    body = {"Image": images["plain"], "Cmd": ["true"], **config, "HostConfig": host_config}
    with pytest.raises(docker.errors.APIError) as theirs:
        created = api._result(api._post_json(api._url("/containers/create"), data=body,
                                             params={"name": f"dyparity-{TOKEN}-types"}),
                              True)
        api.remove_container(created["Id"], force=True)
    assert theirs.value.response.status_code in (400, 500), theirs.value
    with pytest.raises(InvalidArgument) as ours:
        validate_create(config, host_config)
    for words in ("json: cannot unmarshal", field):
        assert words in ours.value.message and words in theirs.value.explanation, (
            ours.value.message, theirs.value.explanation)


# --- accepted with the same warnings -----------------------------------------------

WARNED = [
    {"BlkioWeight": 300},
    {"BlkioWeight": 5},         # out of range, but dropped first where unsupported
    {"OomKillDisable": True},
    {"KernelMemory": 64 * MB},
    {"Memory": 64 * MB, "MemorySwappiness": 20, "MemoryReservation": 32 * MB},
    {"CpuPercent": 20},
]


@pytest.mark.parametrize("host_config", WARNED, ids=[json.dumps(h)[:60] for h in WARNED])
def test_warnings_like_dockerd(api, images, host_config):
    body = {"Image": images["plain"], "Cmd": ["true"], "HostConfig": host_config}
    created = api._result(api._post_json(api._url("/containers/create"), data=body,
                                         params={"name": f"dyparity-{TOKEN}-warned"}), True)
    try:
        info = api.inspect_container(created["Id"])
    finally:
        api.remove_container(created["Id"], force=True)
    validate_create({"Image": "x", "Cmd": ["true"]}, host_config)
    adapted, warnings = adapt_resources(host_config)
    assert warnings == (created.get("Warnings") or [])
    normalized = normalize_host_config(adapted, cgroup_v2=False)
    for key in host_config:
        assert normalized[key] == info["HostConfig"][key], key
