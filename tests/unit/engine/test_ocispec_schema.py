"""Every spec build_spec makes is valid under the official runtime-spec schema and
dockyard-runtime's own validator, across option sets."""

from __future__ import annotations

import copy
import json

import pytest

from dockyard.engine.ocispec import SpecInputs, build_spec
from dockyard.runtime.spec import validate as runtime_validate
from tests.support.shared import shared_dir
from tests.unit.engine.spec_helpers import CID, Plan, make_rootfs

MB = 1024 * 1024
OPTION_SETS = {
    "plain": {},
    "resources": {"Memory": 64 * MB, "MemoryReservation": 32 * MB, "MemorySwappiness": 5,
                  "OomKillDisable": True, "NanoCpus": 500_000_000, "CpuShares": 100,
                  "CpusetCpus": "0", "PidsLimit": 20, "BlkioWeight": 100,
                  "BlkioDeviceReadBps": [{"Path": "/dev/null", "Rate": 1}]},
    "privileged": {"Privileged": True},
    "security": {"CapDrop": ["ALL"], "CapAdd": ["KILL"],
                 "SecurityOpt": ["no-new-privileges", 'seccomp={"defaultAction": '
                                 '"SCMP_ACT_ERRNO", "defaultErrnoRet": 1, "syscalls": [{"names":'
                                 ' ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0,'
                                 ' "value": 1, "op": "SCMP_CMP_EQ"}]}]}']},
    "mounts": {"ReadonlyRootfs": True, "Tmpfs": {"/run": "size=1m"}, "ShmSize": 8 * MB,
               "Init": True, "IpcMode": "shareable"},
    "devices": {"Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/n",
                             "CgroupPermissions": "r"}], "DeviceCgroupRules": ["c *:* m"],
                "Ulimits": [{"Name": "core", "Soft": -1, "Hard": -1}],
                "Sysctls": {"kernel.shmmax": "1"}, "OomScoreAdj": -5},
    "host": {"NetworkMode": "host", "PidMode": "host", "IpcMode": "host", "UTSMode": "host",
             "CgroupnsMode": "private", "Annotations": {"a": "b"}},
}


@pytest.fixture(scope="module")
def validator():
    jsonschema = pytest.importorskip("jsonschema")
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    schema_dir = shared_dir() / "specs" / "oci-runtime"
    docs = {p.name: json.loads(p.read_text()) for p in schema_dir.glob("*.json")}
    registry = Registry().with_resources(
        (name, Resource.from_contents(doc, default_specification=DRAFT4))
        for name, doc in docs.items())
    return jsonschema.Draft4Validator(docs["config-schema.json"], registry=registry)


@pytest.mark.parametrize("name", sorted(OPTION_SETS))
def test_specs_are_valid(tmp_path, validator, name):
    rootfs = make_rootfs(tmp_path)
    spec = build_spec(SpecInputs(
        CID, str(rootfs), {"Cmd": ["sh"], "User": "user", "Tty": True,
                           "Env": ["A=1"], "WorkingDir": "/w", "Domainname": "d.example"},
        {"NetworkMode": "none", **OPTION_SETS[name]},
        mounts=[Plan("bind", "/h", "/b", propagation="rprivate"),
                Plan("volume", "/v", "/v"), Plan("tmpfs", "", "/t", options=("size=1m",))],
        files={"/etc/hosts": "/x/hosts"}, shm_path="/x/shm"), cgroup_v2=False)
    errors = sorted(f"{list(e.path)}: {e.message}"
                    for e in validator.iter_errors(copy.deepcopy(spec)))
    assert errors == []
    runtime_validate(copy.deepcopy(spec))
