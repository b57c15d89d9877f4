"""``linux.seccomp``: dockyard's default profile, ``seccomp=unconfined``, or the
request's own profile (``seccomp=<JSON>``; the docker CLI reads a profile file and
sends its text), resolved for the container's capabilities.

A profile from a request is checked for shape first, as dockerd's JSON decoding into
typed structs does: a string where a list belongs, an argument that is not an object,
are the user's mistakes and get "Decoding seccomp profile failed: ...", never a crash.
"""

from __future__ import annotations

import json

from dockyard.errors import InvalidArgument

__all__ = ["check_profile", "load_profile", "seccomp_section"]

_PREFIX = "Decoding seccomp profile failed: "


def _fail(where: str, what: str) -> InvalidArgument:
    return InvalidArgument(f"{_PREFIX}{where}: {what}")


def _strings(value: object, where: str, *, nullable: bool = True) -> None:
    if value is None and nullable:
        return
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(where, "must be an array of strings")


def _int(value: object, where: str) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise _fail(where, "must be an integer")


def _filter(value: object, where: str) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise _fail(where, "must be an object")
    _strings(value.get("caps"), f"{where}.caps")
    _strings(value.get("arches"), f"{where}.arches")
    kernel = value.get("minKernel")
    if kernel not in (None, ""):
        parts = kernel.split(".") if isinstance(kernel, str) else []
        if len(parts) != 2 or not all(p.isdigit() for p in parts) or kernel == "0.0":
            raise _fail(f"{where}.minKernel", f'invalid kernel version {kernel!r}, expected '
                                              '"<kernel>.<major>"')


def check_profile(profile: object) -> dict:
    """``profile`` if it has the shape of a Docker seccomp profile, else InvalidArgument."""
    if not isinstance(profile, dict):
        raise InvalidArgument(_PREFIX + "the profile must be a JSON object")
    for key in ("defaultAction", "listenerPath", "listenerMetadata"):
        if profile.get(key) is not None and not isinstance(profile[key], str):
            raise _fail(key, "must be a string")
    _int(profile.get("defaultErrnoRet"), "defaultErrnoRet")
    _strings(profile.get("architectures"), "architectures")
    _strings(profile.get("flags"), "flags")
    arch_map = profile.get("archMap")
    if arch_map is not None:
        if not isinstance(arch_map, list):
            raise _fail("archMap", "must be an array")
        for i, item in enumerate(arch_map):
            if not isinstance(item, dict) or not isinstance(item.get("architecture"), str):
                raise _fail(f"archMap[{i}]", "must be an object with an architecture")
            _strings(item.get("subArchitectures"), f"archMap[{i}].subArchitectures")
    syscalls = profile.get("syscalls")
    if syscalls is not None and not isinstance(syscalls, list):
        raise _fail("syscalls", "must be an array")
    for i, rule in enumerate(syscalls or ()):
        where = f"syscalls[{i}]"
        if not isinstance(rule, dict):
            raise _fail(where, "must be an object")
        if rule.get("name") is not None and not isinstance(rule["name"], str):
            raise _fail(f"{where}.name", "must be a string")
        _strings(rule.get("names"), f"{where}.names")
        if not isinstance(rule.get("action", ""), str):
            raise _fail(f"{where}.action", "must be a string")
        _int(rule.get("errnoRet"), f"{where}.errnoRet")
        args = rule.get("args")
        if args is not None and not isinstance(args, list):
            raise _fail(f"{where}.args", "must be an array")
        for j, arg in enumerate(args or ()):
            if not isinstance(arg, dict):
                raise _fail(f"{where}.args[{j}]", "must be an object")
            for key in ("index", "value", "valueTwo"):
                _int(arg.get(key), f"{where}.args[{j}].{key}")
            if not isinstance(arg.get("op", ""), str):
                raise _fail(f"{where}.args[{j}].op", "must be a string")
        _filter(rule.get("includes"), f"{where}.includes")
        _filter(rule.get("excludes"), f"{where}.excludes")
    return profile


def load_profile(text: str) -> dict:
    """A profile from ``seccomp=<JSON>``, decoded and shape-checked."""
    try:
        profile = json.loads(text)
    except ValueError as e:
        raise InvalidArgument(f"{_PREFIX}{e}") from None
    return check_profile(profile)


def seccomp_section(privileged: bool, profile_opt: str | None, caps: list[str],
                    default_profile: dict | None = None) -> dict | None:
    """The spec's ``linux.seccomp`` (None: no filter).

    ``profile_opt``: the ``seccomp=`` security option's value, if any.
    ``default_profile``: the daemon's replacement for dockyard's default.
    """
    if profile_opt == "unconfined" or privileged:
        return None
    from dockyard.runtime.security.profile import docker_profile_to_spec

    if profile_opt:
        profile = load_profile(profile_opt)
        if not profile.get("defaultAction") and not profile.get("syscalls"):
            return None  # dockerd: an empty profile means no filter
    elif default_profile is not None:
        profile = check_profile(default_profile)
    else:
        from dockyard.engine.seccomp_default import DEFAULT_SECCOMP

        profile = DEFAULT_SECCOMP
    return docker_profile_to_spec(profile, caps)
