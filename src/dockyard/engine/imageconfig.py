"""The create request's Config merged with its image's config, the way dockerd does it.

Why a module: ``docker create`` stores the *merged* Config (what ``inspect`` shows),
and every later step (the command line, env, user, workdir, volumes, healthcheck)
reads that merged Config, never the image again. The rules, as dockerd applies them:

* User, WorkingDir, StopSignal: the image's value when the request leaves it empty.
* Env: the request's variables first; each image variable whose *name* the request
  does not set is appended (in image order).
* ExposedPorts, Volumes, Labels: union; on a clash the request wins (Volumes has no
  value to clash on).
* Entrypoint/Cmd: when the request gives an Entrypoint, the image's Cmd is NOT used
  (an entrypoint override resets the command) and the request's Cmd is taken as is.
  Otherwise Cmd defaults to the image's, and Entrypoint to the image's unless the
  request sent an explicit empty list. ``Entrypoint: [""]`` (``--entrypoint ""``)
  then means "no entrypoint".
* Healthcheck: the request's fields override the image's field by field (an empty
  Test, or a zero Interval/Timeout/StartPeriod/Retries, takes the image's).
* Shell and OnBuild are build-time instructions: dockerd does not copy them into a
  container's Config (inspect shows the request's own, usually null).
"""

from __future__ import annotations

import copy
import posixpath

from dockyard.errors import InvalidArgument

__all__ = ["command_line", "fill_hostname", "merge_image_config"]

_HEALTH_NUMBERS = ("Interval", "Timeout", "StartPeriod", "Retries")

# Config fields inspect always shows (no omitempty in dockerd's Config), with the
# value a request that leaves them out gets.
_ALWAYS = (("Hostname", ""), ("Domainname", ""), ("User", ""), ("AttachStdin", False),
           ("AttachStdout", False), ("AttachStderr", False), ("Tty", False),
           ("OpenStdin", False), ("StdinOnce", False), ("Env", None), ("Cmd", None),
           ("Image", ""), ("Volumes", None), ("WorkingDir", ""), ("Entrypoint", None),
           ("OnBuild", None), ("Labels", None))


def _env_name(item: str) -> str:
    return item.split("=", 1)[0]


def _merge_env(user: list[str] | None, image: list[str] | None) -> list[str] | None:
    if not user:
        return list(image) if image is not None else None
    names = {_env_name(e) for e in user}
    merged = list(user)
    for item in image or ():
        if _env_name(item) not in names:
            merged.append(item)
    return merged


def _str_slice(value: object, key: str) -> list[str] | None:
    """Docker's StrSlice: null, a string (one element) or an array of strings."""
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise InvalidArgument(f"Config.{key}: must be a string or an array of strings")


def _merge_keys(user: dict | None, image: dict | None) -> dict | None:
    """Union of two ``{key: {}}`` maps (ExposedPorts, Volumes); the request wins."""
    if not user:
        return dict(image) if image is not None else None
    merged = dict(user)
    for key, value in (image or {}).items():
        merged.setdefault(key, value)
    return merged


def _merge_health(user: dict | None, image: dict | None) -> dict | None:
    if image is None:
        return user
    if user is None:
        return copy.deepcopy(image)
    merged = dict(user)
    if not merged.get("Test"):
        merged["Test"] = image.get("Test")
    for key in _HEALTH_NUMBERS:
        if not merged.get(key):
            merged[key] = image.get(key, 0)
    return merged


def merge_image_config(config: dict, image_config: dict) -> dict:
    """The Config a new container stores: the request's ``config`` completed from its
    image's ``image_config`` (Docker image JSON ``config``; ``{}`` for scratch).

    Neither input is modified. Raises InvalidArgument("No command specified") when
    neither has an entrypoint or a command, as dockerd does.
    """
    from dockyard.engine.spec_types import check_config_types

    if not isinstance(config, dict):
        raise InvalidArgument("Config cannot be empty in order to create a container")
    check_config_types(config)
    image = image_config or {}
    out = copy.deepcopy(config)
    for key in ("Cmd", "Entrypoint"):
        out[key] = _str_slice(out.get(key), key)
    if not out.get("User"):
        out["User"] = image.get("User", "") or ""
    out["ExposedPorts"] = _merge_keys(out.get("ExposedPorts"), image.get("ExposedPorts"))
    out["Env"] = _merge_env(out.get("Env"), image.get("Env"))
    labels = dict(out.get("Labels") or {})
    for key, value in (image.get("Labels") or {}).items():
        labels.setdefault(key, value)
    out["Labels"] = labels

    if not out.get("Entrypoint"):
        if not out.get("Cmd"):
            out["Cmd"] = copy.deepcopy(image.get("Cmd"))
        if out.get("Entrypoint") is None:
            out["Entrypoint"] = copy.deepcopy(image.get("Entrypoint"))
    out["Healthcheck"] = _merge_health(out.get("Healthcheck"), image.get("Healthcheck"))
    if out["Healthcheck"] is None:
        out.pop("Healthcheck")
    if not out.get("WorkingDir"):
        out["WorkingDir"] = image.get("WorkingDir", "") or ""
    if out["WorkingDir"].startswith("/"):
        out["WorkingDir"] = posixpath.normpath(out["WorkingDir"])  # as dockerd stores it
    out["Volumes"] = _merge_keys(out.get("Volumes"), image.get("Volumes"))
    if not out.get("StopSignal"):
        if image.get("StopSignal"):
            out["StopSignal"] = image["StopSignal"]
        else:
            out.pop("StopSignal", None)

    entrypoint = out.get("Entrypoint")
    if entrypoint is not None and len(entrypoint) == 1 and entrypoint[0] == "":
        out["Entrypoint"] = None
    if not out.get("Entrypoint") and not out.get("Cmd"):
        raise InvalidArgument("No command specified")
    for key, default in _ALWAYS:
        if key not in out:
            out[key] = default
    return out


def fill_hostname(config: dict, network_mode: str, container_id: str) -> dict:
    """Config.Hostname as dockerd sets it at create when the request has none: the
    host's name with ``--network host``, else the first 12 characters of the id.

    Call it after validate_create (which must see the request's own Hostname: a
    hostname is refused with ``container:`` networking or ``--uts host``)."""
    if config.get("Hostname"):
        return config
    import os

    hostname = os.uname().nodename if network_mode == "host" else container_id[:12]
    return {**config, "Hostname": hostname}


def command_line(config: dict) -> list[str]:
    """Path + Args of a merged Config: the entrypoint followed by the command."""
    entrypoint = list(config.get("Entrypoint") or ())
    cmd = list(config.get("Cmd") or ())
    argv = entrypoint + cmd
    if not argv:
        raise InvalidArgument("No command specified")
    return argv
