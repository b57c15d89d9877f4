"""validate_create refuses what dockerd refuses, with dockerd's words."""

from __future__ import annotations

import pytest

from dockyard.engine.hostconfig import validate_create as _validate_create
from dockyard.engine.spec_sysinfo import CgroupFeatures
from dockyard.errors import InvalidArgument

ALL_FEATURES = CgroupFeatures()


def validate_create(config, host_config, features=ALL_FEATURES):
    """The checks as on a host whose cgroups support everything (host-independent)."""
    return _validate_create(config, host_config, features=features)

MB = 1024 * 1024

# (config, host_config, the message dockerd gives)
BAD = [
    # restart policy and auto-remove
    ({}, {"RestartPolicy": {"Name": "sometimes"}}, "invalid restart policy 'sometimes'"),
    ({}, {"RestartPolicy": {"Name": "always", "MaximumRetryCount": 3}},
     "maximum retry count cannot be used with restart policy 'always'"),
    ({}, {"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": -1}},
     "maximum retry count cannot be negative"),
    ({}, {"AutoRemove": True, "RestartPolicy": {"Name": "always"}},
     "can't create 'AutoRemove' container with restart policy"),
    # memory
    ({}, {"Memory": 4 * MB}, "Minimum memory limit allowed is 6MB"),
    ({}, {"Memory": -1}, "Minimum memory limit allowed is 6MB"),
    ({}, {"Memory": 64 * MB, "MemorySwap": 32 * MB},
     "Minimum memoryswap limit should be larger than memory limit, see usage"),
    ({}, {"MemorySwap": 64 * MB},
     "You should always set the Memory limit when using Memoryswap limit, see usage"),
    ({}, {"MemorySwappiness": 101},
     "Invalid value: 101, valid memory swappiness range is 0-100"),
    ({}, {"MemoryReservation": MB}, "Minimum memory reservation allowed is 6MB"),
    ({}, {"Memory": 10 * MB, "MemoryReservation": 20 * MB},
     "Minimum memory limit can not be less than memory reservation limit, see usage"),
    ({}, {"KernelMemory": MB}, "Minimum kernel memory limit allowed is 6MB"),
    # cpu
    ({}, {"NanoCpus": 1_000_000_000, "CpuQuota": 50000},
     "Conflicting options: Nano CPUs and CPU Quota cannot both be set"),
    ({}, {"NanoCpus": 1_000_000_000, "CpuPeriod": 50000},
     "Conflicting options: Nano CPUs and CPU Period cannot both be set"),
    ({}, {"NanoCpus": -5}, "Range of CPUs is from 0.01 to"),
    ({}, {"NanoCpus": 10_000 * 1_000_000_000}, "Range of CPUs is from 0.01 to"),
    ({}, {"CpuShares": -2}, "shares: invalid argument"),
    ({}, {"CpuPeriod": 500}, "CPU cfs period can not be less than 1ms (i.e. 1000) or "
                             "larger than 1s (i.e. 1000000)"),
    ({}, {"CpuPeriod": 2_000_000}, "CPU cfs period can not be less than 1ms"),
    ({}, {"CpuQuota": 999}, "CPU cfs quota can not be less than 1ms (i.e. 1000)"),
    ({}, {"CpuRealtimePeriod": 1000, "CpuRealtimeRuntime": 2000},
     "cpu real-time runtime cannot be higher than cpu real-time period"),
    ({}, {"CpusetCpus": "0-x"}, "Invalid value 0-x for cpuset cpus"),
    ({}, {"CpusetCpus": "4096"}, "Requested CPUs are not available - requested 4096"),
    ({}, {"CpusetMems": "77"}, "Requested memory nodes are not available"),
    ({}, {"BlkioWeight": 5}, "Range of blkio weight is from 10 to 1000"),
    ({}, {"BlkioWeight": -1}, "json: cannot unmarshal number into Go struct field "
                              "HostConfig.BlkioWeight"),
    ({}, {"IOMaximumIOps": 5}, "Invalid QoS settings"),
    # misc numbers
    ({}, {"ShmSize": -1}, "SHM size can not be less than 0"),
    ({}, {"OomScoreAdj": 1001}, "Invalid value 1001, range for oom score adj is "
                                "[-1000, 1000]"),
    ({}, {"OomScoreAdj": -1001}, "range for oom score adj is [-1000, 1000]"),
    # capabilities
    ({}, {"CapAdd": ["NET_FOO"]}, 'invalid CapAdd: unknown capability: "CAP_NET_FOO"'),
    ({}, {"CapDrop": ["cap_bogus"]}, 'invalid CapDrop: unknown capability: "CAP_BOGUS"'),
    # ports and hosts
    ({}, {"PortBindings": {"99999/tcp": []}}, 'invalid port specification: "99999"'),
    ({}, {"PortBindings": {"http/tcp": []}}, 'invalid port specification: "http"'),
    ({}, {"PortBindings": {"80/tcp": [{"HostPort": "eighty"}]}},
     'invalid port specification: "eighty"'),
    ({}, {"PortBindings": {"80/tcp": [{"HostPort": "9000-8000"}]}},
     'invalid port specification: "9000-8000"'),
    ({}, {"ExtraHosts": ["nocolon"]}, 'bad format for add-host: "nocolon"'),
    ({}, {"ExtraHosts": ["h:not-an-ip"]}, 'invalid IP address in add-host: "not-an-ip"'),
    # mounts and tmpfs
    ({}, {"Tmpfs": {"/": ""}}, "invalid specification: destination can't be '/'"),
    ({}, {"Tmpfs": {"relative": ""}}, "invalid mount path: 'relative' mount path must be "
                                      "absolute"),
    ({}, {"Tmpfs": {"/t": "size=1m,bogus"}}, 'Invalid tmpfs option ["bogus"]'),
    ({}, {"Tmpfs": {"/t": "color=red"}}, 'Invalid tmpfs option ["color=red"]'),
    ({}, {"Mounts": [{"Type": "bind", "Source": "/nonexistent-dy", "Target": "/x"}]},
     'invalid mount config for type "bind": bind source path does not exist: '
     "/nonexistent-dy"),
    ({}, {"Mounts": [{"Type": "bind", "Target": "/x"}]},
     'invalid mount config for type "bind": field Source must not be empty'),
    ({}, {"Mounts": [{"Type": "volume", "Source": "v"}]},
     'invalid mount config for type "volume": field Target must not be empty'),
    ({}, {"Mounts": [{"Type": "volume", "Target": "/"}]},
     "destination can't be '/'"),
    ({}, {"Mounts": [{"Type": "volume", "Target": "rel"}]}, "mount path must be absolute"),
    ({}, {"Mounts": [{"Type": "nfs", "Target": "/x"}]},
     'invalid mount config for type "nfs": mount type unknown'),
    ({}, {"Mounts": [{"Type": "volume", "Target": "/x", "ReadOnly": True}]},
     "must not set ReadOnly mode when using anonymous volumes"),
    ({}, {"Mounts": [{"Type": "tmpfs", "Target": "/x", "Source": "s"}]},
     "field Source must not be specified"),
    ({}, {"Mounts": [{"Type": "bind", "Source": "/tmp", "Target": "/x",
                      "BindOptions": {"Propagation": "sideways"}}]},
     "invalid propagation mode: sideways"),
    ({}, {"Mounts": [{"Type": "volume", "Target": "/x", "BindOptions": {}}]} ,
     None),  # an empty BindOptions object is fine
    # devices
    ({}, {"Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/null",
                       "CgroupPermissions": "rwx"}]}, "invalid device mode: rwx"),
    ({}, {"Devices": [{"PathInContainer": "/dev/x"}]},
     "invalid device mapping: PathOnHost is empty"),
    ({}, {"BlkioWeightDevice": [{"Path": "/dev/null", "Weight": 5}]},
     "invalid weight for device: /dev/null: Range of blkio weight is from 10 to 1000"),
    ({}, {"DeviceCgroupRules": ["x 1:2 rwm"]},
     "invalid device cgroup rule format: 'x 1:2 rwm'"),
    ({}, {"DeviceCgroupRules": ["c 1:2"]}, "invalid device cgroup rule format: 'c 1:2'"),
    ({}, {"DeviceRequests": [{"Driver": "", "Count": -1, "Capabilities": [["gpu"]]}]},
     'could not select device driver "" with capabilities: [[gpu]]'),
    ({}, {"DeviceRequests": [{"Driver": "nvidia", "Capabilities": [["gpu", "utility"]]}]},
     'could not select device driver "nvidia" with capabilities: [[gpu utility]]'),
    # ulimits
    ({}, {"Ulimits": [{"Name": "bogus", "Soft": 1, "Hard": 1}]}, "invalid ulimit type: bogus"),
    ({}, {"Ulimits": [{"Name": "nofile", "Soft": 20, "Hard": 10}]},
     "ulimit soft limit must be less than or equal to hard limit: 20 > 10"),
    # sysctls
    ({}, {"Sysctls": {"kernel.panic": "1"}},
     'sysctl "kernel.panic" is not in a separate kernel namespace'),
    ({}, {"Sysctls": {"vm.swappiness": "1"}}, "is not in a separate kernel namespace"),
    ({}, {"NetworkMode": "host", "Sysctls": {"net.ipv4.ip_forward": "1"}},
     'sysctl "net.ipv4.ip_forward" not allowed in host network namespace'),
    ({}, {"IpcMode": "host", "Sysctls": {"kernel.shmmax": "1"}},
     'sysctl "kernel.shmmax" is not allowed in the hosts ipc namespace'),
    ({}, {"UTSMode": "host", "Sysctls": {"kernel.domainname": "x"}},
     'sysctl "kernel.domainname" is not in a separate kernel namespace'),
    ({}, {"Sysctls": {"kernel.hostname": "x"}},
     'sysctl "kernel.hostname" is not allowed as it conflicts with the OCI "hostname" '
     "field"),
    # security options
    ({}, {"SecurityOpt": ["nonsense"]}, 'invalid --security-opt 1: "nonsense"'),
    ({}, {"SecurityOpt": ["what=ever"]}, 'invalid --security-opt 2: "what=ever"'),
    ({}, {"SecurityOpt": ["no-new-privileges=maybe"]},
     'invalid --security-opt 2: "no-new-privileges=maybe"'),
    ({}, {"SecurityOpt": ["seccomp={not json"]}, "Decoding seccomp profile failed"),
    # namespace modes and network conflicts
    ({}, {"IpcMode": "weird"}, "invalid IPC mode: weird"),
    ({}, {"PidMode": "container:"}, "invalid PID mode: container:"),
    ({}, {"UTSMode": "private"}, "invalid UTS mode: private"),
    ({}, {"CgroupnsMode": "shared"}, "invalid cgroup namespace mode: shared"),
    ({}, {"UsernsMode": "private"}, "invalid user namespace mode"),
    ({}, {"Isolation": "hyperv"}, "invalid isolation 'hyperv' on linux"),
    ({}, {"NetworkMode": "container:"},
     "Invalid network mode: invalid container format container:<name|id>"),
    ({"Hostname": "h"}, {"NetworkMode": "container:abc"},
     "conflicting options: hostname and the network mode"),
    ({}, {"NetworkMode": "container:abc", "Dns": ["1.1.1.1"]},
     "conflicting options: dns and the network mode"),
    ({}, {"NetworkMode": "container:abc", "ExtraHosts": ["a:1.2.3.4"]},
     "conflicting options: custom host-to-IP mapping and the network mode"),
    ({}, {"NetworkMode": "container:abc", "Links": ["x:y"]},
     "conflicting options: container type network can't be used with links"),
    ({"MacAddress": "02:42:ac:11:00:02"}, {"NetworkMode": "host"},
     "conflicting options: mac-address and the network mode"),
    ({}, {"NetworkMode": "container:abc", "PortBindings": {"80/tcp": []}},
     "conflicting options: port publishing and the container type network mode"),
    ({}, {"NetworkMode": "container:abc", "PublishAllPorts": True},
     "conflicting options: port publishing"),
    ({"ExposedPorts": {"80/tcp": {}}}, {"NetworkMode": "container:abc"},
     "conflicting options: port exposing and the container type network mode"),
    ({"Hostname": "h"}, {"UTSMode": "host"}, "conflicting options: hostname and the UTS mode"),
    ({}, {"NetworkMode": "host", "Links": ["a:b"]},
     "conflicting options: host type networking can't be used with links"),
    # log options
    ({}, {"LogConfig": {"Type": "json-file", "Config": {"max-sise": "1m"}}},
     "unknown log opt 'max-sise' for json-file log driver"),
    ({}, {"LogConfig": {"Type": "local", "Config": {"labels": "a"}}},
     "unknown log opt 'labels' for log driver local"),
    ({}, {"LogConfig": {"Type": "json-file", "Config": {"mode": "fast"}}},
     "logger: logging mode not supported: fast"),
    ({}, {"LogConfig": {"Type": "json-file", "Config": {"max-buffer-size": "4m"}}},
     "max-buffer-size option is only supported with 'mode=non-blocking'"),
    # Config
    ({"WorkingDir": "relative/dir"}, {},
     "the working directory 'relative/dir' is invalid, it needs to be an absolute path"),
    ({"StopSignal": "SIGWHAT"}, {}, "Invalid signal: SIGWHAT"),
    ({"StopSignal": "0"}, {}, "Invalid signal: 0"),
    ({"Env": ["=oops"]}, {}, "invalid environment variable: =oops"),
    ({"Env": [""]}, {}, "invalid environment variable: "),
    ({"Healthcheck": {"Interval": 1000}}, {}, "Interval in Healthcheck cannot be less than 1ms"),
    ({"Healthcheck": {"Timeout": 5}}, {}, "Timeout in Healthcheck cannot be less than 1ms"),
    ({"Healthcheck": {"StartPeriod": 5}}, {},
     "StartPeriod in Healthcheck cannot be less than 1ms"),
    ({"Healthcheck": {"Retries": -1}}, {}, "Retries in Healthcheck cannot be negative"),
]


@pytest.mark.parametrize(("config", "host_config", "message"), BAD,
                         ids=[str(m)[:50] for _c, _h, m in BAD])
def test_refused_with_dockers_words(config, host_config, message):
    if message is None:
        validate_create(config, host_config)
        return
    with pytest.raises(InvalidArgument) as info:
        validate_create(config, host_config)
    assert message in str(info.value)


GOOD = [
    {},
    {"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 5}},
    {"RestartPolicy": {"Name": "no"}, "AutoRemove": True},
    {"RestartPolicy": {"Name": ""}, "AutoRemove": True},
    {"Memory": 6 * MB, "MemorySwap": -1, "MemorySwappiness": -1},
    {"Memory": 64 * MB, "MemorySwap": 64 * MB, "MemoryReservation": 32 * MB},
    {"NanoCpus": 500_000_000, "CpuShares": 512, "CpusetCpus": "0", "CpusetMems": "0"},
    {"CpuPeriod": 100000, "CpuQuota": -1},
    {"PidsLimit": -1, "BlkioWeight": 500, "OomScoreAdj": -1000, "ShmSize": 0},
    {"CapAdd": ["ALL"], "CapDrop": ["net_raw", "CAP_MKNOD"]},
    {"PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": ""}],
                      "53/udp": [{"HostPort": "5300-5310"}]}},
    {"ExtraHosts": ["a:1.2.3.4", "b:::1", "gw:host-gateway"]},
    {"Tmpfs": {"/run": "size=64m,mode=1777,exec,uid=1"}},
    {"Mounts": [{"Type": "bind", "Source": "/tmp", "Target": "/x"},
                {"Type": "volume", "Source": "named", "Target": "/y", "ReadOnly": True},
                {"Type": "tmpfs", "Target": "/z", "TmpfsOptions": {"SizeBytes": 1024}}]},
    {"Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/x",
                  "CgroupPermissions": "rw"}], "DeviceCgroupRules": ["c *:* m", "b 8:0 rwm"]},
    {"Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 4096},
                 {"Name": "core", "Soft": -1, "Hard": -1}]},
    {"Sysctls": {"net.ipv4.ip_forward": "1", "kernel.shmmax": "1", "fs.mqueue.msg_max": "9",
                 "kernel.domainname": "x"}},
    {"SecurityOpt": ["no-new-privileges", "seccomp=unconfined", "label=disable",
                     "apparmor=unconfined", "no-new-privileges:true"]},
    {"SecurityOpt": ['seccomp={"defaultAction": "SCMP_ACT_ALLOW"}']},
    {"LogConfig": {"Type": "json-file", "Config": {"max-size": "1m", "max-file": "3",
                                                   "mode": "non-blocking",
                                                   "max-buffer-size": "4m"}}},
    {"LogConfig": {"Type": "none", "Config": {"anything": "x"}}},
    {"LogConfig": {"Type": "", "Config": {"tag": "x"}}},
    {"IpcMode": "container:abc", "PidMode": "container:abc", "NetworkMode": "container:abc",
     "UTSMode": "host", "CgroupnsMode": "private", "UsernsMode": "host"},
]


@pytest.mark.parametrize("host_config", GOOD)
def test_accepted(host_config):
    validate_create({"Image": "busybox", "StopSignal": "SIGRTMIN+3",
                     "Env": ["A=1", "B"], "WorkingDir": "/w",
                     "Healthcheck": {"Interval": 1_000_000, "Retries": 0}}, host_config)


def test_non_object_inputs():
    with pytest.raises(InvalidArgument, match="Config cannot be empty"):
        validate_create(None, {})  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="HostConfig must be an object"):
        validate_create({}, ["x"])  # type: ignore[arg-type]


NO_BLKIO = CgroupFeatures(blkio_weight=False)
NO_CFS = CgroupFeatures(cpu_cfs=False)


def test_checks_dockerd_skips_when_the_host_discards_the_option():
    # dockerd drops an option the kernel cannot enforce before checking its range
    validate_create({}, {"BlkioWeight": 5}, NO_BLKIO)
    validate_create({}, {"CpuPeriod": 5}, NO_CFS)
    validate_create({}, {"MemorySwappiness": 500}, CgroupFeatures(memory_swappiness=False))
    validate_create({}, {"MemoryReservation": 5}, CgroupFeatures(memory_reservation=False))
    validate_create({}, {"KernelMemory": 5}, CgroupFeatures(kernel_memory=False))
    validate_create({}, {"CpusetCpus": "4096"}, CgroupFeatures(cpuset=False))
    validate_create({}, {"Memory": 64 * MB, "MemorySwap": 32 * MB},
                    CgroupFeatures(swap_limit=False))
    with pytest.raises(InvalidArgument, match="NanoCPUs can not be set"):
        validate_create({}, {"NanoCpus": 1_000_000_000}, NO_CFS)
    with pytest.raises(InvalidArgument, match="does not support CPU real-time scheduler"):
        validate_create({}, {"CpuRealtimeRuntime": 100}, CgroupFeatures(cpu_realtime=False))
    with pytest.raises(InvalidArgument, match="Minimum memory limit allowed is 6MB"):
        validate_create({}, {"Memory": 5}, CgroupFeatures(memory_limit=False))


def test_detected_features_are_used_by_default():
    _validate_create({}, {})
