"""Build image archives by hand for tests: honest ones and liars."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def layer_tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def config_for(diff_ids: list[str], cmd=("sh",)) -> bytes:
    return json.dumps({
        "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": list(cmd), "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{d}" for d in diff_ids]},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": f"step {i}"}
                    for i in range(len(diff_ids))],
    }).encode()


def write_tar(path: Path, members: dict[str, bytes | tuple[str, str]]) -> Path:
    """members: name -> bytes (a file) or ("sym"|"lnk", target)."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, value in members.items():
            info = tarfile.TarInfo(name)
            if isinstance(value, tuple):
                info.type = tarfile.SYMTYPE if value[0] == "sym" else tarfile.LNKTYPE
                info.linkname = value[1]
                tar.addfile(info)
            else:
                info.size = len(value)
                tar.addfile(info, io.BytesIO(value))
    return path


def old_docker_archive(layers: list[bytes], tags=("old/app:1",)) -> dict:
    """Docker <= 24 ``docker save`` layout: <id>/layer.tar dirs, <hex>.json config."""
    diff_ids = [sha(x) for x in layers]
    cfg = config_for(diff_ids)
    members: dict = {}
    paths = []
    for i, data in enumerate(layers):
        lid = sha(f"v1-{i}".encode())
        members[f"{lid}/VERSION"] = b"1.0"
        members[f"{lid}/json"] = json.dumps({"id": lid}).encode()
        members[f"{lid}/layer.tar"] = data
        paths.append(f"{lid}/layer.tar")
    members[f"{sha(cfg)}.json"] = cfg
    members["manifest.json"] = json.dumps(
        [{"Config": f"{sha(cfg)}.json", "RepoTags": list(tags), "Layers": paths}]).encode()
    members["repositories"] = b"{}"
    return members


def oci_archive(layers: list[bytes], name="docker.io/library/oci:1", gz=False) -> dict:
    blobs = [gzip.compress(x, mtime=0) if gz else x for x in layers]
    cfg = config_for([sha(x) for x in layers])
    mtype = "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if gz else "")
    man = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": f"sha256:{sha(cfg)}", "size": len(cfg)},
        "layers": [{"mediaType": mtype, "digest": f"sha256:{sha(b)}", "size": len(b)}
                   for b in blobs]}).encode()
    index = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": f"sha256:{sha(man)}", "size": len(man),
                       "annotations": {"io.containerd.image.name": name,
                                       "org.opencontainers.image.ref.name": "1"}}]}).encode()
    members: dict = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}', "index.json": index,
                     f"blobs/sha256/{sha(cfg)}": cfg, f"blobs/sha256/{sha(man)}": man}
    for b in blobs:
        members[f"blobs/sha256/{sha(b)}"] = b
    return members
