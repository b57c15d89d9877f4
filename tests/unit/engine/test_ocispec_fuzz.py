"""Random create bodies: the create path (merge, validate, adapt, normalize, build_spec)
raises InvalidArgument for bad input and nothing else (a user's mistake is never a 500)."""

from __future__ import annotations

import random

import pytest

from dockyard.engine.hostconfig import normalize_host_config, validate_create
from dockyard.engine.imageconfig import fill_hostname, merge_image_config
from dockyard.engine.ocispec import SpecInputs, build_spec
from dockyard.engine.spec_sysinfo import CgroupFeatures, adapt_resources
from dockyard.engine.spec_types import _CONFIG, _HOST, _ITEMS
from dockyard.errors import InvalidArgument
from tests.unit.engine.spec_helpers import CID, make_rootfs

SAMPLES = [None, 0, 1, -1, 7, 2**40, -(2**40), 1.5, True, False, "", "x", "/", "/tmp",
           "ALL", "host", "private", "container:abc", "none", "1:2", "c 1:3 rwm", [], [""],
           ["x"], ["/a:/b"], ["NET_ADMIN"], [1], [{}], [{"Name": "nofile", "Soft": 1,
                                                         "Hard": 2}],
           [{"PathOnHost": "/dev/null"}], {}, {"a": "b"}, {"/t": "size=1m"}, {"a": 1},
           {"80/tcp": [{"HostPort": "80"}]}, {"Name": "always"}, {"x": {}}]


INTS = [0, 1, -1, 2, 10, 999, 1000, 6 * 1024 * 1024, 2**31, 2**40, -(2**40)]
STRS = ["", "x", "/", "/tmp", "ALL", "host", "private", "shareable", "container:abc",
        "none", "default", "1:2", "0-1", "0", "c 1:3 rwm", "a *:* m", "user", "1000:1000",
        "NET_ADMIN", "sys_admin", "SIGTERM", "no-new-privileges", "seccomp=unconfined",
        "size=1m,exec", "/dev/null", "always", "on-failure", "nofile"]


def typed(rng: random.Random, code: str, key: str = ""):
    if code in "iu":
        return rng.choice(INTS) if code == "i" else abs(rng.choice(INTS))
    if code == "b":
        return rng.random() < 0.5
    if code == "s":
        return rng.choice(STRS)
    if code in "SX":
        return [rng.choice(STRS) for _ in range(rng.randint(0, 3))]
    if code == "M":
        return {rng.choice([*STRS, "/run", "net.ipv4.ip_forward", "kernel.shmmax"]):
                rng.choice(STRS) for _ in range(rng.randint(0, 3))}
    if code == "K":
        return {rng.choice(["/v", "80/tcp", "53/udp", "x"]): {}}
    if code == "L" and key in _ITEMS:
        return [{k: typed(rng, c) for k, c in _ITEMS[key].items() if rng.random() < 0.8}
                for _ in range(rng.randint(0, 2))]
    if key == "RestartPolicy":
        return {"Name": rng.choice(["", "no", "always", "on-failure", "x"]),
                "MaximumRetryCount": rng.choice(INTS)}
    if key == "PortBindings":
        return {rng.choice(["80/tcp", "x/tcp", "99999"]): [{"HostPort": rng.choice(STRS)}]}
    if key == "Healthcheck":
        return {"Test": ["CMD", "true"], "Interval": rng.choice(INTS),
                "Retries": rng.choice(INTS)}
    return {}


def random_body(rng: random.Random) -> tuple[dict, dict]:
    config = {"Image": "busybox", "Cmd": ["sh"]}
    for key in rng.sample(sorted(_CONFIG), rng.randint(0, 4)):
        config[key] = rng.choice(SAMPLES) if rng.random() < 0.1 else typed(rng, _CONFIG[key],
                                                                         key)
    hc = {"NetworkMode": "none"}
    for key in rng.sample(sorted(_HOST), rng.randint(0, 6)):
        hc[key] = rng.choice(SAMPLES) if rng.random() < 0.1 else typed(rng, _HOST[key], key)
    return config, hc


def run_seed(seed: int, rootfs) -> int:
    """Fifty random bodies through the create path; how many reached a spec."""
    rng = random.Random(seed)
    reached = 0
    for _ in range(50):
        config, hc = random_body(rng)
        try:
            merged = merge_image_config(config, {"Env": ["PATH=/bin"], "Cmd": ["sh"]})
            validate_create(merged, hc, features=CgroupFeatures())
            merged = fill_hostname(merged, str(hc.get("NetworkMode")), CID)
            adapted, _ = adapt_resources(hc, CgroupFeatures())
            normalized = normalize_host_config(adapted, cgroup_v2=False)
            build_spec(SpecInputs(CID, str(rootfs), merged, normalized, netns="",
                                  ipc_ns="/proc/1/ns/ipc", pid_ns="/proc/1/ns/pid"),
                       cgroup_v2=False)
            reached += 1
        except InvalidArgument:
            pass
    return reached


@pytest.mark.parametrize("seed", range(40))
def test_only_invalid_argument_escapes(tmp_path, seed):
    run_seed(seed, make_rootfs(tmp_path))


def test_the_fuzz_reaches_build_spec_often(tmp_path):
    rootfs = make_rootfs(tmp_path)
    assert sum(run_seed(seed, rootfs) for seed in range(40)) > 200
