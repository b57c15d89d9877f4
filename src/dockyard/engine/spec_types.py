"""Type checks of a create body's Config and HostConfig, before anything reads them.

dockerd decodes the body into typed Go structs, so ``"Memory": "1g"`` or
``"CapAdd": "NET_ADMIN"`` is refused at once with a 400 ("json: cannot unmarshal
string into Go struct field ... of type int64"). dockyard keeps the JSON as dicts; these
checks give the same answer (and the same kind of words) instead of a crash deeper in.
Unknown fields are ignored, as Go's decoder does.
"""

from __future__ import annotations

from dockyard.errors import InvalidArgument

__all__ = ["check_config_types", "check_host_config_types"]

# Type codes: i = integer, u = unsigned integer, b = bool, s = string,
# S = array of strings, M = map of strings, O = object, L = array of objects,
# X = string or array of strings (Docker's StrSlice), K = map of objects.
_GO = {"i": "int64", "u": "uint64", "b": "bool", "s": "string", "S": "[]string",
       "M": "map[string]string", "O": "struct", "L": "[]struct", "X": "strslice.StrSlice",
       "K": "map[string]struct {}"}

_CONFIG = {
    "Hostname": "s", "Domainname": "s", "User": "s", "AttachStdin": "b", "AttachStdout": "b",
    "AttachStderr": "b", "Tty": "b", "OpenStdin": "b", "StdinOnce": "b", "Env": "S",
    "Cmd": "X", "Entrypoint": "X", "Image": "s", "Volumes": "K", "WorkingDir": "s",
    "OnBuild": "S", "Labels": "M", "ExposedPorts": "K", "StopSignal": "s",
    "StopTimeout": "i", "Shell": "S", "MacAddress": "s", "NetworkDisabled": "b",
    "ArgsEscaped": "b", "Healthcheck": "O",
}
_HEALTH = {"Test": "S", "Interval": "i", "Timeout": "i", "StartPeriod": "i", "Retries": "i"}

_HOST = {
    "Binds": "S", "ContainerIDFile": "s", "LogConfig": "O", "NetworkMode": "s",
    "PortBindings": "O", "RestartPolicy": "O", "AutoRemove": "b", "VolumeDriver": "s",
    "VolumesFrom": "S", "CapAdd": "X", "CapDrop": "X", "CgroupnsMode": "s", "Dns": "S",
    "DnsOptions": "S", "DnsSearch": "S", "ExtraHosts": "S", "GroupAdd": "S", "IpcMode": "s",
    "Cgroup": "s", "Links": "S", "OomScoreAdj": "i", "PidMode": "s", "Privileged": "b",
    "PublishAllPorts": "b", "ReadonlyRootfs": "b", "SecurityOpt": "S", "StorageOpt": "M",
    "Tmpfs": "M", "UTSMode": "s", "UsernsMode": "s", "ShmSize": "i", "Sysctls": "M",
    "Runtime": "s", "Isolation": "s", "CpuShares": "i", "Memory": "i", "NanoCpus": "i",
    "CgroupParent": "s", "BlkioWeight": "u", "BlkioWeightDevice": "L",
    "BlkioDeviceReadBps": "L", "BlkioDeviceWriteBps": "L", "BlkioDeviceReadIOps": "L",
    "BlkioDeviceWriteIOps": "L", "CpuPeriod": "i", "CpuQuota": "i", "CpuRealtimePeriod": "i",
    "CpuRealtimeRuntime": "i", "CpusetCpus": "s", "CpusetMems": "s", "Devices": "L",
    "DeviceCgroupRules": "S", "DeviceRequests": "L", "KernelMemory": "i",
    "KernelMemoryTCP": "i", "MemoryReservation": "i", "MemorySwap": "i",
    "MemorySwappiness": "i", "OomKillDisable": "b", "PidsLimit": "i", "Ulimits": "L",
    "CpuCount": "i", "CpuPercent": "i", "IOMaximumIOps": "u", "IOMaximumBandwidth": "u",
    "Mounts": "L", "MaskedPaths": "S", "ReadonlyPaths": "S", "Init": "b",
    "Annotations": "M", "ConsoleSize": "L",
}
_ITEMS = {
    "Ulimits": {"Name": "s", "Soft": "i", "Hard": "i"},
    "Devices": {"PathOnHost": "s", "PathInContainer": "s", "CgroupPermissions": "s"},
    "BlkioWeightDevice": {"Path": "s", "Weight": "u"},
    "BlkioDeviceReadBps": {"Path": "s", "Rate": "u"},
    "BlkioDeviceWriteBps": {"Path": "s", "Rate": "u"},
    "BlkioDeviceReadIOps": {"Path": "s", "Rate": "u"},
    "BlkioDeviceWriteIOps": {"Path": "s", "Rate": "u"},
    "Mounts": {"Type": "s", "Source": "s", "Target": "s", "ReadOnly": "b",
               "Consistency": "s", "BindOptions": "O", "VolumeOptions": "O",
               "TmpfsOptions": "O"},
}
_OBJECTS = {
    "RestartPolicy": {"Name": "s", "MaximumRetryCount": "i"},
    "LogConfig": {"Type": "s", "Config": "M"},
}
_TMPFS_OPTIONS = {"SizeBytes": "i", "Mode": "u"}
_BIND_OPTIONS = {"Propagation": "s", "NonRecursive": "b"}


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _ok(code: str, value: object) -> bool:
    if code in "iu":
        if isinstance(value, bool) or not isinstance(value, int):
            return isinstance(value, float) and value.is_integer() and \
                (code == "i" or value >= 0)
        return code == "i" or value >= 0
    if code == "b":
        return isinstance(value, bool)
    if code == "s":
        return isinstance(value, str)
    if code == "S":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if code == "X":
        return isinstance(value, str) or (isinstance(value, list) and
                                          all(isinstance(v, str) for v in value))
    if code == "M":
        return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    if code in "OK":
        return isinstance(value, dict) and (code == "O" or all(
            v is None or isinstance(v, dict) for v in value.values()))
    if code == "L":
        return isinstance(value, list)
    return True


def _check(doc: object, table: dict[str, str], where: str) -> None:
    if doc is None:
        return
    if not isinstance(doc, dict):
        raise InvalidArgument(f"json: cannot unmarshal {_json_type(doc)} into Go value "
                              f"of type {where}")
    for key, code in table.items():
        value = doc.get(key)
        if value is not None and not _ok(code, value):
            raise InvalidArgument(f"json: cannot unmarshal {_json_type(value)} into Go "
                                  f"struct field {where}.{key} of type {_GO[code]}")


def check_config_types(config: object) -> None:
    _check(config, _CONFIG, "Config")
    _check((config or {}).get("Healthcheck"), _HEALTH, "Config.Healthcheck")


def check_host_config_types(host_config: object) -> None:
    _check(host_config, _HOST, "HostConfig")
    hc = host_config or {}
    for key, table in _OBJECTS.items():
        _check(hc.get(key), table, f"HostConfig.{key}")
    for key, table in _ITEMS.items():
        for item in hc.get(key) or ():
            _check(item, table, f"HostConfig.{key}")
    for mount in hc.get("Mounts") or ():
        _check(mount.get("TmpfsOptions"), _TMPFS_OPTIONS, "HostConfig.Mounts.TmpfsOptions")
        _check(mount.get("BindOptions"), _BIND_OPTIONS, "HostConfig.Mounts.BindOptions")
    bindings = hc.get("PortBindings") or {}
    for port, targets in bindings.items():
        if targets is None:
            continue
        if not isinstance(targets, list):
            raise InvalidArgument(f"json: cannot unmarshal {_json_type(targets)} into Go "
                                  f"struct field HostConfig.PortBindings of type "
                                  f"[]nat.PortBinding (port {port})")
        for target in targets:
            _check(target, {"HostIp": "s", "HostPort": "s"}, "HostConfig.PortBindings")
