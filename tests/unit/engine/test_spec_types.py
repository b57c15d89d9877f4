"""Wrong JSON types in a create body are refused up front, like dockerd's decoding."""

from __future__ import annotations

import pytest

from dockyard.engine.hostconfig import validate_create
from dockyard.engine.imageconfig import merge_image_config
from dockyard.engine.spec_types import check_config_types, check_host_config_types
from dockyard.errors import InvalidArgument

BAD_HOST = [
    ({"Memory": "1g"}, "HostConfig.Memory of type int64"),
    ({"Memory": 1.5}, "HostConfig.Memory of type int64"),
    ({"BlkioWeight": -1}, "HostConfig.BlkioWeight of type uint64"),
    ({"Privileged": "yes"}, "HostConfig.Privileged of type bool"),
    ({"CapAdd": 7}, "HostConfig.CapAdd of type strslice.StrSlice"),
    ({"CapDrop": [1]}, "HostConfig.CapDrop of type strslice.StrSlice"),
    ({"Dns": "1.1.1.1"}, "HostConfig.Dns of type []string"),
    ({"Tmpfs": ["/t"]}, "HostConfig.Tmpfs of type map[string]string"),
    ({"Sysctls": {"a": 1}}, "HostConfig.Sysctls of type map[string]string"),
    ({"Ulimits": [{"Name": "nofile", "Soft": "x"}]}, "HostConfig.Ulimits.Soft"),
    ({"Ulimits": [1]}, "into Go value of type HostConfig.Ulimits"),
    ({"Devices": [{"PathOnHost": 5}]}, "HostConfig.Devices.PathOnHost"),
    ({"Mounts": [{"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": "1m"}}]},
     "HostConfig.Mounts.TmpfsOptions.SizeBytes"),
    ({"Mounts": [{"Type": "bind", "BindOptions": {"NonRecursive": "y"}}]},
     "HostConfig.Mounts.BindOptions.NonRecursive"),
    ({"RestartPolicy": {"Name": 3}}, "HostConfig.RestartPolicy.Name"),
    ({"RestartPolicy": "always"}, "HostConfig.RestartPolicy of type struct"),
    ({"PortBindings": {"80/tcp": "8080"}}, "HostConfig.PortBindings"),
    ({"PortBindings": {"80/tcp": [{"HostPort": 8080}]}}, "HostConfig.PortBindings.HostPort"),
    ({"LogConfig": {"Config": {"max-size": 1}}}, "HostConfig.LogConfig.Config"),
    ({"PidsLimit": True}, "HostConfig.PidsLimit of type int64"),
]
BAD_CONFIG = [
    ({"Env": "A=1"}, "Config.Env of type []string"),
    ({"Cmd": 5}, "Config.Cmd of type strslice.StrSlice"),
    ({"Tty": 1}, "Config.Tty of type bool"),
    ({"Labels": {"a": 1}}, "Config.Labels of type map[string]string"),
    ({"ExposedPorts": {"80/tcp": 1}}, "Config.ExposedPorts"),
    ({"Healthcheck": {"Retries": "3"}}, "Config.Healthcheck.Retries"),
    ({"Healthcheck": []}, "Config.Healthcheck"),
]


@pytest.mark.parametrize(("hc", "words"), BAD_HOST, ids=[w for _h, w in BAD_HOST])
def test_bad_host_config_types(hc, words):
    with pytest.raises(InvalidArgument, match="json: cannot unmarshal") as info:
        validate_create({}, hc)
    assert words in str(info.value)


@pytest.mark.parametrize(("config", "words"), BAD_CONFIG, ids=[w for _c, w in BAD_CONFIG])
def test_bad_config_types(config, words):
    for call in (lambda: validate_create(config, {}),
                 lambda: merge_image_config({"Cmd": ["x"], **config}, {})):
        with pytest.raises(InvalidArgument, match="json: cannot unmarshal") as info:
            call()
        assert words in str(info.value)


def test_good_types_and_nulls_pass():
    check_config_types({"Cmd": "sh", "Entrypoint": None, "Env": ["A=1"], "Volumes": {"/v": {}},
                        "ExposedPorts": {"80/tcp": None}, "StopTimeout": 10,
                        "Healthcheck": {"Test": ["NONE"], "Interval": 0}})
    check_host_config_types({"Memory": 0, "MemorySwappiness": None, "PidsLimit": -1,
                             "OomKillDisable": None, "Ulimits": None,
                             "PortBindings": {"80/tcp": None}, "Unknown": object()})
    check_config_types(None)
    check_host_config_types(None)


def test_cap_add_may_be_one_string_like_dockers_strslice(tmp_path):
    from dockyard.engine.hostconfig import normalize_host_config
    from dockyard.engine.spec_caps import effective_caps

    validate_create({}, {"CapAdd": "NET_ADMIN", "CapDrop": "chown"})
    hc = normalize_host_config({"CapAdd": "NET_ADMIN", "CapDrop": "chown"})
    assert hc["CapAdd"] == ["NET_ADMIN"] and hc["CapDrop"] == ["chown"]
    assert "CAP_NET_ADMIN" in effective_caps("NET_ADMIN", "chown", False)
