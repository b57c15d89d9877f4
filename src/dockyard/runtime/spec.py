"""Load a bundle's config.json and check it, naming the JSON path of every mistake.

A hand-written validator rather than jsonschema: importing jsonschema costs more
than the whole ``run`` budget, and its messages do not read like
``config.json: linux.namespaces[2].type: unknown namespace "foo"``. It checks the
fields the runtime acts on (types, required keys, enums, cross-field rules such as
"hostname needs a uts namespace"); the schema in ``shared/specs`` stays the
reference, and the unit tests feed both the same documents.
"""

from __future__ import annotations

import os

from dockyard.errors import InvalidArgument, NotFound
from dockyard.runtime import fastjson

NAMESPACE_TYPES = ("pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time")
HOOK_PHASES = ("prestart", "createRuntime", "createContainer", "startContainer",
               "poststart", "poststop")


class SpecError(InvalidArgument):
    """A config.json mistake; the message starts with its JSON path."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"config.json: {path}: {problem}" if path else f"config.json: {problem}")
        self.path = path


def load_bundle(bundle: str) -> tuple[dict, str]:
    """Read and validate ``<bundle>/config.json``; return (spec, absolute rootfs path)."""
    path = os.path.join(bundle, "config.json")
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise NotFound(f"bundle {bundle!r} has no config.json") from None
    except IsADirectoryError:
        raise InvalidArgument(f"{path} is a directory") from None
    try:
        spec = fastjson.loads(raw)
    except ValueError as e:
        raise InvalidArgument(f"config.json: not valid JSON: {e}") from None
    validate(spec)
    rootfs = spec["root"]["path"]
    if not os.path.isabs(rootfs):
        rootfs = os.path.join(bundle, rootfs)
    rootfs = os.path.realpath(rootfs)
    if not os.path.isdir(rootfs):
        raise NotFound(f"rootfs {rootfs!r} (config.json: root.path) does not exist "
                       "or is not a directory")
    return spec, rootfs


# --- small typed getters --------------------------------------------------------------

def _type(value: object, want: type | tuple, path: str, what: str) -> None:
    if isinstance(value, bool) and want in (int, (int,)):
        raise SpecError(path, f"must be {what}, got {fastjson.dumps(value)}")
    if not isinstance(value, want):
        raise SpecError(path, f"must be {what}, got {type(value).__name__} "
                              f"{fastjson.dumps(value)[:60]}")


def _obj(parent: dict, key: str, path: str, required: bool = False) -> dict | None:
    if key not in parent or parent[key] is None:
        if required:
            raise SpecError(path, f"missing required field {key!r}")
        return None
    value = parent[key]
    _type(value, dict, _join(path, key), "an object")
    return value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _str_list(value: object, path: str) -> list[str]:
    _type(value, list, path, "an array of strings")
    for i, item in enumerate(value):  # type: ignore[arg-type]
        _type(item, str, f"{path}[{i}]", "a string")
    return value  # type: ignore[return-value]


def _uint(value: object, path: str) -> int:
    _type(value, int, path, "an integer")
    if value < 0:  # type: ignore[operator]
        raise SpecError(path, f"must not be negative, got {value}")
    return value  # type: ignore[return-value]


# --- sections --------------------------------------------------------------------------

def validate(spec: object) -> None:
    """Raise SpecError naming the first wrong field of ``spec``."""
    _type(spec, dict, "", "a JSON object")
    assert isinstance(spec, dict)
    if "ociVersion" not in spec:
        raise SpecError("ociVersion", "missing required field")
    _type(spec["ociVersion"], str, "ociVersion", "a string")
    if not spec["ociVersion"].startswith("1."):
        raise SpecError("ociVersion", f"unsupported version {spec['ociVersion']!r} "
                                      "(this runtime implements 1.x)")
    root = _obj(spec, "root", "", required=True)
    assert root is not None
    if "path" not in root:
        raise SpecError("root.path", "missing required field")
    _type(root["path"], str, "root.path", "a string")
    if "readonly" in root:
        _type(root["readonly"], bool, "root.readonly", "a boolean")
    for key in ("hostname", "domainname"):
        if key in spec:
            _type(spec[key], str, key, "a string")
    if "annotations" in spec:
        ann = _obj(spec, "annotations", "")
        for k, v in (ann or {}).items():
            _type(v, str, f"annotations.{k}", "a string")
    process = _obj(spec, "process", "")
    if process is not None:
        _process(process, "process")
    for i, m in enumerate(spec.get("mounts") or []):
        _mount(m, f"mounts[{i}]")
    if "mounts" in spec:
        _type(spec["mounts"], list, "mounts", "an array")
    hooks = _obj(spec, "hooks", "")
    if hooks:
        _hooks(hooks)
    linux = _obj(spec, "linux", "")
    if linux is not None:
        _linux(linux, spec)
    elif spec.get("hostname"):
        raise SpecError("hostname", "setting a hostname needs a uts namespace "
                                    "(linux.namespaces)")


def _process(p: dict, path: str) -> None:
    if "args" not in p:
        raise SpecError(f"{path}.args", "missing required field")
    args = _str_list(p["args"], f"{path}.args")
    if not args:
        raise SpecError(f"{path}.args", "must name at least the program to run")
    if "cwd" not in p:
        raise SpecError(f"{path}.cwd", "missing required field")
    _type(p["cwd"], str, f"{path}.cwd", "a string")
    if not p["cwd"].startswith("/"):
        raise SpecError(f"{path}.cwd", f"must be an absolute path, got {p['cwd']!r}")
    if "env" in p and p["env"] is not None:
        _str_list(p["env"], f"{path}.env")
    if "terminal" in p:
        _type(p["terminal"], bool, f"{path}.terminal", "a boolean")
    size = _obj(p, "consoleSize", path)
    if size is not None:
        for k in ("height", "width"):
            if k not in size:
                raise SpecError(f"{path}.consoleSize.{k}", "missing required field")
            _uint(size[k], f"{path}.consoleSize.{k}")
    user = _obj(p, "user", path)
    if user is not None:
        for k in ("uid", "gid"):
            if k in user:
                _uint(user[k], f"{path}.user.{k}")
        if "umask" in user and user["umask"] is not None:
            _uint(user["umask"], f"{path}.user.umask")
        for i, g in enumerate(user.get("additionalGids") or []):
            _uint(g, f"{path}.user.additionalGids[{i}]")
    if "noNewPrivileges" in p:
        _type(p["noNewPrivileges"], bool, f"{path}.noNewPrivileges", "a boolean")
    if "oomScoreAdj" in p:
        _type(p["oomScoreAdj"], int, f"{path}.oomScoreAdj", "an integer")
        if not -1000 <= p["oomScoreAdj"] <= 1000:
            raise SpecError(f"{path}.oomScoreAdj", "must be between -1000 and 1000")
    caps = _obj(p, "capabilities", path)
    if caps is not None:
        for k, v in caps.items():
            if v is not None:
                _str_list(v, f"{path}.capabilities.{k}")
    for i, r in enumerate(p.get("rlimits") or []):
        rp = f"{path}.rlimits[{i}]"
        _type(r, dict, rp, "an object")
        for k in ("type", "soft", "hard"):
            if k not in r:
                raise SpecError(f"{rp}.{k}", "missing required field")
        _type(r["type"], str, f"{rp}.type", "a string")
        _uint(r["soft"], f"{rp}.soft")
        _uint(r["hard"], f"{rp}.hard")


def _mount(m: object, path: str) -> None:
    _type(m, dict, path, "an object")
    assert isinstance(m, dict)
    if "destination" not in m:
        raise SpecError(f"{path}.destination", "missing required field")
    _type(m["destination"], str, f"{path}.destination", "a string")
    if not m["destination"]:
        raise SpecError(f"{path}.destination", "must not be empty")
    for k in ("type", "source"):
        if k in m:
            _type(m[k], str, f"{path}.{k}", "a string")
    if "options" in m and m["options"] is not None:
        _str_list(m["options"], f"{path}.options")


def _hooks(hooks: dict) -> None:
    for phase, entries in hooks.items():
        hp = f"hooks.{phase}"
        if phase not in HOOK_PHASES:
            raise SpecError(hp, f"unknown hook phase {phase!r}")
        _type(entries, list, hp, "an array")
        for i, h in enumerate(entries):
            p = f"{hp}[{i}]"
            _type(h, dict, p, "an object")
            if "path" not in h:
                raise SpecError(f"{p}.path", "missing required field")
            _type(h["path"], str, f"{p}.path", "a string")
            if not h["path"].startswith("/"):
                raise SpecError(f"{p}.path", f"must be an absolute path, got {h['path']!r}")
            for k in ("args", "env"):
                if k in h and h[k] is not None:
                    _str_list(h[k], f"{p}.{k}")
            if "timeout" in h and h["timeout"] is not None:
                _type(h["timeout"], int, f"{p}.timeout", "an integer")
                if h["timeout"] <= 0:
                    raise SpecError(f"{p}.timeout", "must be greater than zero")


def _id_maps(maps: object, path: str) -> None:
    _type(maps, list, path, "an array")
    for i, m in enumerate(maps):  # type: ignore[arg-type]
        _type(m, dict, f"{path}[{i}]", "an object")
        for k in ("containerID", "hostID", "size"):
            if k not in m:
                raise SpecError(f"{path}[{i}].{k}", "missing required field")
            _uint(m[k], f"{path}[{i}].{k}")


def _linux(linux: dict, spec: dict) -> None:
    seen: dict[str, int] = {}
    nss = linux.get("namespaces") or []
    _type(nss, list, "linux.namespaces", "an array")
    for i, ns in enumerate(nss):
        p = f"linux.namespaces[{i}]"
        _type(ns, dict, p, "an object")
        if "type" not in ns:
            raise SpecError(f"{p}.type", "missing required field")
        t = ns["type"]
        _type(t, str, f"{p}.type", "a string")
        if t not in NAMESPACE_TYPES:
            raise SpecError(f"{p}.type", f'unknown namespace "{t}" (known: '
                                         f'{", ".join(NAMESPACE_TYPES)})')
        if t in seen:
            raise SpecError(f"{p}.type", f'namespace "{t}" listed twice '
                                         f"(also linux.namespaces[{seen[t]}])")
        seen[t] = i
        if ns.get("path") is not None:
            _type(ns["path"], str, f"{p}.path", "a string")
            if not ns["path"].startswith("/"):
                raise SpecError(f"{p}.path", f"must be an absolute path, got {ns['path']!r}")
    for key in ("uidMappings", "gidMappings"):
        if linux.get(key):
            _id_maps(linux[key], f"linux.{key}")
            if "user" not in seen:
                raise SpecError(f"linux.{key}", "id mappings need a user namespace")
            if nss[seen["user"]].get("path"):
                raise SpecError(f"linux.{key}", "id mappings cannot be set when joining an "
                                                "existing user namespace by path")
    if "user" in seen and not nss[seen["user"]].get("path") and not linux.get("uidMappings"):
        raise SpecError("linux.uidMappings", "a new user namespace needs uid mappings")
    if spec.get("hostname") and "uts" not in seen:
        raise SpecError("hostname", "setting a hostname needs a uts namespace")
    if spec.get("domainname") and "uts" not in seen:
        raise SpecError("domainname", "setting a domainname needs a uts namespace")
    offsets = _obj(linux, "timeOffsets", "linux")
    if offsets:
        if "time" not in seen or nss[seen["time"]].get("path"):
            raise SpecError("linux.timeOffsets", "time offsets need a new time namespace")
        for clock, off in offsets.items():
            op = f"linux.timeOffsets.{clock}"
            if clock not in ("monotonic", "boottime"):
                raise SpecError(op, f"unknown clock {clock!r} (monotonic or boottime)")
            _type(off, dict, op, "an object")
            if "secs" in off:
                _type(off["secs"], int, f"{op}.secs", "an integer")
            if "nanosecs" in off:
                _uint(off["nanosecs"], f"{op}.nanosecs")
    if "resources" in linux:
        _obj(linux, "resources", "linux")
    if "sysctl" in linux and linux["sysctl"] is not None:
        sysctl = _obj(linux, "sysctl", "linux") or {}
        for k, v in sysctl.items():
            _type(v, str, f"linux.sysctl.{k}", "a string")
    for key in ("maskedPaths", "readonlyPaths"):
        if linux.get(key) is not None:
            _str_list(linux[key], f"linux.{key}")
    if linux.get("cgroupsPath") is not None:
        _type(linux["cgroupsPath"], str, "linux.cgroupsPath", "a string")
    for i, d in enumerate(linux.get("devices") or []):
        p = f"linux.devices[{i}]"
        _type(d, dict, p, "an object")
        for k in ("path", "type"):
            if k not in d:
                raise SpecError(f"{p}.{k}", "missing required field")
        if d["type"] not in ("c", "b", "u", "p"):
            raise SpecError(f"{p}.type", f"unknown device type {d['type']!r}")
