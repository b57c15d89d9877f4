"""Small test images made here, without a registry: OCI layouts from files or
from the host's static busybox, plus raw blobs for direct store seeding.

Used by the registry tests of every tier (unit, integration, interop) and by
bench/registry.py.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tar_of(files: dict[str, bytes], mode: int = 0o644) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if name.startswith("bin/") else mode
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def busybox_tar(busybox: Path = Path("/bin/busybox")) -> bytes:
    """A tiny root: bin/busybox plus sh and echo links to it."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in ("bin", "etc", "tmp"):
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tar.addfile(info)
        data = busybox.read_bytes()
        info = tarfile.TarInfo("bin/busybox")
        info.size = len(data)
        info.mode = 0o755
        tar.addfile(info, io.BytesIO(data))
        for applet in ("sh", "echo", "cat", "ls"):
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type = tarfile.SYMTYPE
            info.linkname = "busybox"
            tar.addfile(info)
        passwd = b"root:x:0:0:root:/root:/bin/sh\n"
        info = tarfile.TarInfo("etc/passwd")
        info.size = len(passwd)
        tar.addfile(info, io.BytesIO(passwd))
    return buf.getvalue()


@dataclass
class Image:
    """An image as blobs: ``blobs`` maps digest -> bytes (layers, config, manifest)."""

    manifest: bytes
    config: bytes
    layers: list[bytes]
    media_types: list[str]
    blobs: dict[str, bytes] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return sha(self.manifest)


def make_image(layer_tars: list[bytes], compress: bool = True,
               cmd: tuple[str, ...] = ("sh",), arch: str = "amd64") -> Image:
    layers, diff_ids, types = [], [], []
    for t in layer_tars:
        diff_ids.append(sha(t))
        if compress:
            layers.append(gzip.compress(t, compresslevel=1, mtime=0))
            types.append(LAYER_GZIP)
        else:
            layers.append(t)
            types.append(LAYER_TAR)
    config = json.dumps({
        "architecture": arch, "os": "linux",
        "config": {"Cmd": list(cmd), "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": "dockyard test"} for _ in layers],
    }, sort_keys=True).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": sha(config), "size": len(config)},
        "layers": [{"mediaType": mt, "digest": sha(b), "size": len(b)}
                   for mt, b in zip(types, layers, strict=True)],
    }, sort_keys=True).encode()
    blobs = {sha(b): b for b in [*layers, config, manifest]}
    return Image(manifest, config, layers, types, blobs)


def random_layers(total: int, count: int, seed: int = 1) -> list[bytes]:
    """``count`` tars of ``total`` bytes in all, of incompressible data."""
    per = total // count
    out = []
    for i in range(count):
        rnd = hashlib.sha256(f"{seed}-{i}".encode()).digest()
        data = os.urandom(per) if seed < 0 else (rnd * (per // len(rnd) + 1))[:per]
        out.append(tar_of({f"data/layer{i}.bin": data}))
    return out


def write_oci_layout(image: Image, path: Path, tag: str = "latest") -> Path:
    """An OCI image layout directory (skopeo ``oci:PATH:TAG``, umoci)."""
    blobs = path / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    for digest, data in image.blobs.items():
        (blobs / digest.split(":", 1)[1]).write_bytes(data)
    (path / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{
        "mediaType": OCI_MANIFEST, "digest": image.digest, "size": len(image.manifest),
        "annotations": {"org.opencontainers.image.ref.name": tag}}]}
    (path / "index.json").write_text(json.dumps(index))
    return path


__all__ = ["Image", "busybox_tar", "make_image", "random_layers", "seed_store", "sha", "tar_of",
           "write_oci_layout"]


def seed_store(images, image: Image, name: str):
    """Put ``image`` into an ImageStore as if pulled, tagged ``name``; returns its record."""
    from dockyard.image import reference as refs
    from dockyard.image.digest import Digest
    from dockyard.image.manifest import chain_ids, parse_config
    from dockyard.image.store import BlobRef, NewImage

    for digest, data in image.blobs.items():
        images.content.put_bytes(data, Digest.parse(digest))
    cfg = parse_config(image.config)
    blobs = [BlobRef(Digest.parse(image.digest), "manifest"),
             BlobRef(Digest.parse(sha(image.config)), "config")]
    blobs += [BlobRef(Digest.parse(sha(b)), "layer") for b in image.layers]
    record = images.add_image(NewImage(
        id=Digest.parse(sha(image.config)), manifest_digest=Digest.parse(image.digest),
        manifest_media_type=OCI_MANIFEST, chain_ids=chain_ids(cfg.diff_ids),
        blobs=tuple(blobs), platform="linux/amd64", size=sum(map(len, image.layers))))
    images.tag(refs.parse(name), record.id)
    return record
