"""The create-then-start order dockerd follows, end to end, for the namespace modes
where the order matters (a hostname is checked before one is generated)."""

from __future__ import annotations

import pytest

from dockyard.engine.hostconfig import normalize_host_config, validate_create
from dockyard.engine.imageconfig import fill_hostname, merge_image_config
from dockyard.engine.ocispec import SpecInputs, build_spec
from dockyard.engine.spec_sysinfo import CgroupFeatures, adapt_resources
from tests.unit.engine.spec_helpers import CID, make_rootfs


def create_and_spec(tmp_path, config: dict, hc: dict, **inputs) -> tuple[dict, dict, dict]:
    merged = merge_image_config(config, {"Cmd": ["sh"], "Env": ["PATH=/bin"]})
    validate_create(merged, hc, features=CgroupFeatures())
    merged = fill_hostname(merged, hc.get("NetworkMode") or "", CID)
    adapted, _warnings = adapt_resources(hc, CgroupFeatures())
    stored = normalize_host_config(adapted, cgroup_v2=False)
    spec = build_spec(SpecInputs(CID, str(make_rootfs(tmp_path)), merged, stored, **inputs),
                      cgroup_v2=False)
    return merged, stored, spec


@pytest.mark.parametrize(("hc", "inputs", "hostname"), [
    ({"NetworkMode": "none"}, {}, CID[:12]),
    ({"NetworkMode": "container:other"}, {"netns": "/proc/9/ns/net"}, CID[:12]),
    ({"NetworkMode": "none", "UTSMode": "host"}, {}, None),
])
def test_generated_hostname_after_validation(tmp_path, hc, inputs, hostname):
    merged, _stored, spec = create_and_spec(tmp_path, {"Image": "busybox"}, hc, **inputs)
    assert merged["Hostname"] == CID[:12]
    assert spec.get("hostname") == hostname


def test_host_network_takes_the_hosts_name(tmp_path):
    import os

    merged, stored, spec = create_and_spec(tmp_path, {"Image": "busybox"},
                                           {"NetworkMode": "host"})
    assert merged["Hostname"] == spec["hostname"] == os.uname().nodename
    assert stored["NetworkMode"] == "host"
