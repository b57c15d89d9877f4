"""``RUN --mount=...`` option parsing (CSV of key=value, docker/buildkit rules)."""

from __future__ import annotations

import csv

from dockyard.build.instructions import Mount

_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")
_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2,
               "g": 1024**3, "gb": 1024**3}


def _bool(key: str, value: str | None) -> bool:
    if value is None or value.lower() == "true":
        return True
    if value.lower() == "false":
        return False
    raise ValueError(f"invalid value for {key}: {value!r}")


def _size(value: str) -> int:
    v = value.strip().lower()
    num = v.rstrip("bkmg")
    unit = v[len(num):]
    if unit not in _SIZE_UNITS or not num.isdigit():
        raise ValueError(f"invalid size {value!r}")
    return int(num) * _SIZE_UNITS[unit]


def parse_mount(spec: str) -> Mount:
    """Parse one ``--mount`` value into a validated :class:`Mount` (ValueError if bad)."""
    fields = next(csv.reader([spec]))
    opts: dict[str, str | None] = {}
    for f in fields:
        key, eq, value = f.partition("=")
        opts[key.strip().lower()] = value if eq else None
    kind = (opts.pop("type", None) or "bind").lower()
    if kind not in _TYPES:
        raise ValueError(f"unsupported mount type {kind!r}")
    m: dict[str, object] = {"type": kind, "readonly": kind == "bind"}
    for key, value in opts.items():
        if key in ("target", "dst", "destination"):
            m["target"] = value
        elif key in ("source", "src"):
            m["source"] = value
        elif key == "from":
            m["from_"] = value
        elif key == "id":
            m["id"] = value
        elif key in ("readonly", "ro"):
            m["readonly"] = _bool(key, value)
        elif key in ("readwrite", "rw"):
            m["readonly"] = not _bool(key, value)
        elif key == "sharing" and kind == "cache":
            if value not in ("shared", "private", "locked"):
                raise ValueError(f"unsupported sharing value {value!r}")
            m["sharing"] = value
        elif key == "mode" and kind in ("cache", "secret", "ssh"):
            try:
                m["mode"] = int(value or "", 8)
            except ValueError:
                raise ValueError(f"invalid mode {value!r}") from None
        elif key in ("uid", "gid") and kind in ("cache", "secret", "ssh"):
            if not (value or "").isdigit():
                raise ValueError(f"invalid {key} {value!r}")
            m[key] = int(value or "0")
        elif key == "required" and kind in ("secret", "ssh"):
            m["required"] = _bool(key, value)
        elif key == "size" and kind == "tmpfs":
            m["size"] = _size(value or "")
        elif key == "env" and kind == "secret":
            m["env"] = value
        else:
            raise ValueError(f"unexpected key {key!r} for mount type {kind}")
    if kind == "secret" and not m.get("target") and not m.get("env"):
        m["target"] = "/run/secrets/" + str(m.get("id") or m.get("source") or "")
        if m["target"] == "/run/secrets/":
            raise ValueError("secret mount needs an id or a target")
    if kind == "ssh" and not m.get("target"):
        m["target"] = "/run/buildkit/ssh_agent.0"
    if not m.get("target") and kind != "secret":
        raise ValueError("mount target must be specified")
    return Mount(**m)  # type: ignore[arg-type]


__all__ = ["parse_mount"]
