"""Image records in Docker's JSON shapes (``image inspect``, ``GET /images/json``).

The one place image data becomes Docker-shaped dicts, so the CLI and the
daemon's API answer alike and docker-py can read both.
"""

from __future__ import annotations

import json
from typing import Any

from dockyard.image import reference as refs
from dockyard.image.service import ImageService, ImageSummary, created_timestamp

_CONFIG_DEFAULTS: dict[str, Any] = {
    "Hostname": "", "Domainname": "", "User": "", "AttachStdin": False,
    "AttachStdout": False, "AttachStderr": False, "Tty": False, "OpenStdin": False,
    "StdinOnce": False, "Env": None, "Cmd": None, "Image": "", "Volumes": None,
    "WorkingDir": "", "Entrypoint": None, "OnBuild": None, "Labels": None,
}


def created_unix(created: str | None) -> int:
    return int(created_timestamp(created))


def inspect_json(service: ImageService, summary: ImageSummary) -> dict[str, Any]:
    rec, cfg = summary.record, summary.config
    raw = json.loads(service.store.content.read_bytes(rec.id))
    config = dict(_CONFIG_DEFAULTS)
    config.update(raw.get("config") or {})
    doc: dict[str, Any] = {
        "Id": str(rec.id),
        "RepoTags": [refs.parse(t).familiar() for t in rec.repo_tags],
        "RepoDigests": [refs.parse(d).familiar() for d in rec.repo_digests],
        "Parent": str(rec.parent) if rec.parent else "",
        "Comment": cfg.comment or "",
        "Created": cfg.created or "",
        "DockerVersion": raw.get("docker_version", ""),
        "Author": cfg.author or "",
        "Config": config,
        "Architecture": cfg.architecture,
        "Os": cfg.os,
        "Size": rec.size,
        "VirtualSize": rec.size,
        "GraphDriver": {"Name": "dockyard", "Data": None},
        "RootFS": {"Type": "layers", "Layers": [str(d) for d in cfg.diff_ids]},
        "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
        "Descriptor": {"mediaType": rec.manifest_media_type,
                       "digest": str(rec.manifest_digest)},
    }
    if cfg.variant:
        doc["Variant"] = cfg.variant
    return doc


def summary_json(summary: ImageSummary) -> dict[str, Any]:
    """One entry of ``GET /images/json``."""
    rec, cfg = summary.record, summary.config
    return {
        "Id": str(rec.id),
        "ParentId": str(rec.parent) if rec.parent else "",
        "RepoTags": [refs.parse(t).familiar() for t in rec.repo_tags],
        "RepoDigests": [refs.parse(d).familiar() for d in rec.repo_digests],
        "Created": created_unix(rec.created),
        "Size": rec.size,
        "SharedSize": -1,
        "VirtualSize": rec.size,
        "Labels": dict(cfg.config.labels) or None,
        "Containers": summary.containers if summary.containers else -1,
    }


__all__ = ["created_unix", "inspect_json", "summary_json"]
