"""normalize_host_config: the HostConfig ``docker inspect`` shows for a new container."""

from __future__ import annotations

from dockyard.engine.hostconfig import (
    DEFAULT_MASKED_PATHS,
    DEFAULT_READONLY_PATHS,
    normalize_host_config,
)

MB = 1024 * 1024

# What dockerd 20.10's API showed for `docker run -d --network none busybox` (cgroup v1
# host; the CLI's own inspect output hides the two zero KernelMemory fields).
DOCKER_INSPECT_DEFAULT = {
    "Binds": None, "ContainerIDFile": "", "LogConfig": {"Type": "json-file", "Config": {}},
    "NetworkMode": "none", "PortBindings": {},
    "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}, "AutoRemove": False,
    "VolumeDriver": "", "VolumesFrom": None, "ConsoleSize": [0, 0], "CapAdd": None,
    "CapDrop": None, "CgroupnsMode": "host", "Dns": [], "DnsOptions": [], "DnsSearch": [],
    "ExtraHosts": None, "GroupAdd": None, "IpcMode": "private", "Cgroup": "", "Links": None,
    "OomScoreAdj": 0, "PidMode": "", "Privileged": False, "PublishAllPorts": False,
    "ReadonlyRootfs": False, "SecurityOpt": None, "UTSMode": "", "UsernsMode": "",
    "ShmSize": 67108864, "Runtime": "runc", "Isolation": "", "CpuShares": 0, "Memory": 0,
    "NanoCpus": 0, "CgroupParent": "", "BlkioWeight": 0, "BlkioWeightDevice": [],
    "BlkioDeviceReadBps": [], "BlkioDeviceWriteBps": [], "BlkioDeviceReadIOps": [],
    "BlkioDeviceWriteIOps": [], "CpuPeriod": 0, "CpuQuota": 0, "CpuRealtimePeriod": 0,
    "CpuRealtimeRuntime": 0, "CpusetCpus": "", "CpusetMems": "", "Devices": [],
    "DeviceCgroupRules": None, "DeviceRequests": None, "KernelMemory": 0,
    "KernelMemoryTCP": 0, "MemoryReservation": 0,
    "MemorySwap": 0, "MemorySwappiness": None, "OomKillDisable": False, "PidsLimit": None,
    "Ulimits": [], "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0,
    "IOMaximumBandwidth": 0, "MaskedPaths": list(DEFAULT_MASKED_PATHS),
    "ReadonlyPaths": list(DEFAULT_READONLY_PATHS),
}


def test_matches_docker_inspect_for_a_cli_created_container():
    # roughly what the docker CLI sends for `run -d --network none`
    body = {"NetworkMode": "none", "RestartPolicy": {"Name": "no"}, "LogConfig": {},
            "Binds": None, "PortBindings": {}, "Dns": [], "DnsOptions": [], "DnsSearch": [],
            "BlkioWeightDevice": [], "BlkioDeviceReadBps": [], "BlkioDeviceWriteBps": [],
            "BlkioDeviceReadIOps": [], "BlkioDeviceWriteIOps": [], "Devices": [],
            "Ulimits": []}
    assert normalize_host_config(body, cgroup_v2=False) == DOCKER_INSPECT_DEFAULT


def test_nulls_an_api_client_sent_stay_null():
    hc = normalize_host_config({"Dns": None}, cgroup_v2=False)
    assert hc["Dns"] is None and hc["PortBindings"] is None and hc["Ulimits"] is None


def test_empty_api_body():
    hc = normalize_host_config({}, cgroup_v2=False)
    assert hc["NetworkMode"] == "default"
    assert hc["RestartPolicy"] == {"Name": "", "MaximumRetryCount": 0}
    assert hc["IpcMode"] == "private" and hc["ShmSize"] == 64 * MB
    assert normalize_host_config(None, cgroup_v2=False) == hc


def test_idempotent_and_does_not_modify_input():
    body = {"Memory": 64 * MB, "Tmpfs": {"/t": ""}, "Sysctls": {"a.b": "1"}}
    once = normalize_host_config(body, cgroup_v2=True)
    assert body == {"Memory": 64 * MB, "Tmpfs": {"/t": ""}, "Sysctls": {"a.b": "1"}}
    assert normalize_host_config(once, cgroup_v2=True) == once
    assert once["Tmpfs"] == {"/t": ""} and once["Sysctls"] == {"a.b": "1"}


def test_memory_swap_defaults_to_twice_memory():
    assert normalize_host_config({"Memory": 64 * MB})["MemorySwap"] == 128 * MB
    assert normalize_host_config({"Memory": 64 * MB, "MemorySwap": -1})["MemorySwap"] == -1
    assert normalize_host_config({"MemorySwappiness": -1})["MemorySwappiness"] is None


def test_cgroupns_default_by_cgroup_version():
    assert normalize_host_config({}, cgroup_v2=False)["CgroupnsMode"] == "host"
    assert normalize_host_config({}, cgroup_v2=True)["CgroupnsMode"] == "private"
    assert normalize_host_config({"Privileged": True}, cgroup_v2=True)["CgroupnsMode"] == \
        "private"
    assert normalize_host_config({"CgroupnsMode": "private"},
                                 cgroup_v2=False)["CgroupnsMode"] == "private"


def test_privileged_has_no_default_masked_paths():
    hc = normalize_host_config({"Privileged": True})
    assert hc["MaskedPaths"] is None and hc["ReadonlyPaths"] is None
    hc = normalize_host_config({"MaskedPaths": ["/x"], "ReadonlyPaths": []})
    assert hc["MaskedPaths"] == ["/x"] and hc["ReadonlyPaths"] == []


def test_systempaths_unconfined_clears_them():
    hc = normalize_host_config({"SecurityOpt": ["systempaths=unconfined"]})
    assert hc["MaskedPaths"] == [] and hc["ReadonlyPaths"] == []


def test_daemon_defaults():
    hc = normalize_host_config({}, default_runtime="dockyard", shm_size=128 * MB,
                               ipc_mode="shareable")
    assert hc["Runtime"] == "dockyard" and hc["ShmSize"] == 128 * MB
    assert hc["IpcMode"] == "shareable"
    assert normalize_host_config({"Runtime": "runc", "IpcMode": "host"},
                                 default_runtime="dockyard")["Runtime"] == "runc"


def test_log_config_keeps_driver_and_options():
    hc = normalize_host_config({"LogConfig": {"Type": "local", "Config": None}})
    assert hc["LogConfig"] == {"Type": "local", "Config": {}}
    hc = normalize_host_config({"LogConfig": {"Type": "", "Config": {"max-size": "1m"}}})
    assert hc["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "1m"}}


def test_unlimited_pids_limit_is_stored_as_null():
    assert normalize_host_config({"PidsLimit": 0})["PidsLimit"] is None
    assert normalize_host_config({"PidsLimit": -1})["PidsLimit"] is None
    assert normalize_host_config({"PidsLimit": 7})["PidsLimit"] == 7


def test_daemon_log_defaults_merge_for_the_same_driver():
    hc = normalize_host_config({"LogConfig": {"Type": "", "Config": {"max-file": "2"}}},
                               log_driver="local", log_opts={"max-size": "5m",
                                                             "max-file": "9"})
    assert hc["LogConfig"] == {"Type": "local", "Config": {"max-file": "2",
                                                           "max-size": "5m"}}
    hc = normalize_host_config({"LogConfig": {"Type": "json-file"}}, log_driver="local",
                               log_opts={"max-size": "5m"})
    assert hc["LogConfig"] == {"Type": "json-file", "Config": {}}
