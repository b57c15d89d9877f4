"""Docker's JSON for containers: ``GET /containers/{id}/json`` and list entries.

Pure functions of a :class:`ContainerRecord` (plus the time, for "Up 5 seconds"),
so the shapes are unit-tested without a daemon.
"""

from __future__ import annotations

import time
from typing import Any

from dockyard.engine.model import ContainerRecord, parse_rfc3339


def command_of(config: dict[str, Any]) -> tuple[str, list[str]]:
    """(Path, Args): the entrypoint and command joined, split at the first word."""
    argv = list(config.get("Entrypoint") or []) + list(config.get("Cmd") or [])
    if not argv:
        return "", []
    return argv[0], argv[1:]


def status_text(rec: ContainerRecord, now: float | None = None) -> str:
    """The ``STATUS`` column: "Up 3 seconds (Paused)", "Exited (0) 2 minutes ago", ..."""
    from dockyard.cli.humanize import human_duration_seconds

    now = time.time() if now is None else now
    st = rec.state
    if st.status in ("running", "paused"):
        text = "Up " + human_duration_seconds(now - parse_rfc3339(st.started_at))
        if st.status == "paused":
            return text + " (Paused)"
        health = (st.health or {}).get("Status")
        if health == "starting":
            return text + " (health: starting)"
        if health in ("healthy", "unhealthy"):
            return f"{text} ({health})"
        return text
    if st.status == "restarting":
        ago = human_duration_seconds(now - parse_rfc3339(st.finished_at))
        return f"Restarting ({st.exit_code}) {ago} ago"
    if st.status == "removing":
        return "Removal In Progress"
    if st.status == "dead":
        return "Dead"
    if st.status == "exited":
        if parse_rfc3339(st.finished_at) == 0:
            return "Exited"   # never really ran (docker shows just "Exited")
        ago = human_duration_seconds(now - parse_rfc3339(st.finished_at))
        return f"Exited ({st.exit_code}) {ago} ago"
    return "Created"


def ports_of(rec: ContainerRecord) -> list[dict[str, Any]]:
    """List entries' ``Ports``: published bindings from NetworkSettings.Ports, and the
    exposed ones without a binding."""
    out: list[dict[str, Any]] = []
    ports = (rec.network_settings or {}).get("Ports") or {}
    exposed = rec.config.get("ExposedPorts") or {}
    for key in sorted(set(ports) | set(exposed)):
        port, _, proto = key.partition("/")
        if not port.isdigit():
            continue
        bindings = ports.get(key) or []
        if not bindings:
            out.append({"PrivatePort": int(port), "Type": proto or "tcp"})
        for b in bindings:
            entry: dict[str, Any] = {"PrivatePort": int(port), "Type": proto or "tcp"}
            if b.get("HostPort"):
                entry["PublicPort"] = int(b["HostPort"])
                entry["IP"] = b.get("HostIp") or "0.0.0.0"
            out.append(entry)
    return out


def networks_of(rec: ContainerRecord) -> dict[str, Any]:
    nets = (rec.network_settings or {}).get("Networks")
    if nets is not None:
        return nets
    return {}


def summary(rec: ContainerRecord, size: tuple[int, int] | None = None,
            now: float | None = None) -> dict[str, Any]:
    path, args = command_of(rec.config)
    doc: dict[str, Any] = {
        "Id": rec.id,
        "Names": ["/" + rec.name],
        "Image": rec.image_ref,
        "ImageID": rec.image_id,
        "Command": " ".join([path, *args]) if path else "",
        "Created": int(parse_rfc3339(rec.created)),
        "Ports": ports_of(rec),
        "Labels": rec.labels,
        "State": rec.state.status,
        "Status": status_text(rec, now),
        "HostConfig": {"NetworkMode": rec.host_config.get("NetworkMode") or "default"},
        "NetworkSettings": {"Networks": networks_of(rec)},
        "Mounts": mounts_of(rec),
    }
    if size is not None:
        doc["SizeRw"], doc["SizeRootFs"] = size
    return doc


def mounts_of(rec: ContainerRecord) -> list[dict[str, Any]]:
    """Docker's ``Mounts`` (volfs's inspect_mounts: --tmpfs ones are hidden)."""
    if not rec.mounts:
        return []
    from dockyard.engine.mounts import MountPlan, inspect_mounts

    return inspect_mounts(MountPlan.from_dict(m) for m in rec.mounts)


def inspect(rec: ContainerRecord, graph_data: dict[str, str] | None = None,
            network_settings: dict[str, Any] | None = None,
            exec_ids: list[str] | None = None) -> dict[str, Any]:
    path, args = command_of(rec.config)
    files = rec.data_dir
    settings = dict(network_settings or rec.network_settings or {})
    settings.setdefault("Networks", {})
    return {
        "Id": rec.id,
        "Created": rec.created,
        "Path": path,
        "Args": args,
        "State": rec.state.to_docker(),
        "Image": rec.image_id,
        "ResolvConfPath": str(files / "resolv.conf"),
        "HostnamePath": str(files / "hostname"),
        "HostsPath": str(files / "hosts"),
        "LogPath": str(rec.log_path) if rec.log_driver == "json-file" else "",
        "Name": "/" + rec.name,
        "RestartCount": rec.restart_count,
        "Driver": rec.driver,
        "Platform": rec.platform,
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": list(exec_ids if exec_ids is not None else rec.exec_ids) or None,
        "HostConfig": rec.host_config,
        "GraphDriver": {"Data": graph_data or {}, "Name": rec.driver},
        "Mounts": mounts_of(rec),
        "Config": rec.config,
        "NetworkSettings": settings,
    }


__all__ = ["command_of", "inspect", "mounts_of", "ports_of", "status_text", "summary"]
