"""Manifests as the registry sees them: media types, descriptors, platforms.

Pure functions over bytes, shared by the client (what to fetch next, which
platform) and the server (what a pushed manifest references). Both OCI and Docker
schema2 forms are understood; Docker schema1 is refused (gone from docker itself).
"""

from __future__ import annotations

import json
import platform as _platform
from dataclasses import dataclass, field

from dockyard.errors import InvalidArgument, NotFound
from dockyard.image.digest import Digest

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"

IMAGE_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = IMAGE_TYPES + INDEX_TYPES
# What the client offers in Accept, most preferred first.
ACCEPT = ", ".join(MANIFEST_TYPES)


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str | None = None

    @classmethod
    def parse(cls, text: str) -> Platform:
        """``os/arch[/variant]`` as ``--platform`` takes it."""
        parts = text.strip().lower().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise InvalidArgument(f"invalid platform {text!r}: expected OS/ARCH[/VARIANT]")
        arch = _ARCH_ALIASES.get(parts[1], parts[1])
        variant = parts[2] if len(parts) == 3 else None
        if arch == "arm64" and variant == "v8":
            variant = None
        return cls(parts[0], arch, variant)

    @classmethod
    def host(cls) -> Platform:
        machine = _platform.machine().lower()
        arch = _ARCH_ALIASES.get(machine, machine)
        return cls("linux", arch, "v7" if arch == "arm" else None)

    def __str__(self) -> str:
        return f"{self.os}/{self.architecture}" + (f"/{self.variant}" if self.variant else "")


_ARCH_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm",
                 "armel": "arm", "i386": "386", "i686": "386"}


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    platform: Platform | None = None
    artifact_type: str | None = None
    annotations: dict[str, str] | None = field(default=None, hash=False, compare=False)

    def to_json(self) -> dict:
        out: dict = {"mediaType": self.media_type, "digest": str(self.digest),
                     "size": self.size}
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform:
            out["platform"] = {"os": self.platform.os,
                               "architecture": self.platform.architecture}
            if self.platform.variant:
                out["platform"]["variant"] = self.platform.variant
        return out


@dataclass(frozen=True)
class Manifest:
    """A parsed image manifest (``config`` + ``layers``) or index (``manifests``)."""

    media_type: str
    config: Descriptor | None = None
    layers: tuple[Descriptor, ...] = ()
    manifests: tuple[Descriptor, ...] = ()
    subject: Descriptor | None = None
    artifact_type: str | None = None
    annotations: dict[str, str] | None = field(default=None, hash=False, compare=False)

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES

    def references(self) -> tuple[Descriptor, ...]:
        """Every descriptor this manifest needs (not its subject)."""
        return ((self.config,) if self.config else ()) + self.layers + self.manifests


def _descriptor(obj: object, where: str) -> Descriptor:
    if not isinstance(obj, dict):
        raise InvalidArgument(f"{where}: descriptor must be an object")
    mt, dg, size = obj.get("mediaType"), obj.get("digest"), obj.get("size")
    if not isinstance(mt, str) or not mt:
        raise InvalidArgument(f"{where}: mediaType missing")
    if not isinstance(dg, str):
        raise InvalidArgument(f"{where}: digest missing")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InvalidArgument(f"{where}: size must be a non-negative integer")
    plat = None
    p = obj.get("platform")
    if p is not None:
        if not isinstance(p, dict) or not isinstance(p.get("os"), str) or \
                not isinstance(p.get("architecture"), str):
            raise InvalidArgument(f"{where}: platform needs os and architecture")
        plat = Platform(p["os"], p["architecture"], p.get("variant") or None)
    ann = obj.get("annotations")
    if ann is not None and not (isinstance(ann, dict)
                                and all(isinstance(v, str) for v in ann.values())):
        raise InvalidArgument(f"{where}: annotations must map strings to strings")
    at = obj.get("artifactType")
    return Descriptor(mt, Digest.parse(dg), size, plat, at if isinstance(at, str) else None,
                      ann)


def parse(body: bytes, content_type: str | None = None) -> Manifest:
    """Parse and check a manifest; InvalidArgument says what is wrong.

    The media type comes from the body's ``mediaType`` or, failing that, from
    ``content_type``; the two must agree when both are given."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidArgument(f"manifest is not valid JSON: {e}") from None
    if not isinstance(doc, dict):
        raise InvalidArgument("manifest must be a JSON object")
    if doc.get("schemaVersion") != 2:
        raise InvalidArgument("unsupported manifest schemaVersion (only 2 is accepted)")
    ct = (content_type or "").split(";")[0].strip() or None
    mt = doc.get("mediaType")
    if mt is not None and not isinstance(mt, str):
        raise InvalidArgument("mediaType must be a string")
    if mt and ct and ct in MANIFEST_TYPES and mt != ct:
        raise InvalidArgument(f"mediaType {mt} does not match Content-Type {ct}")
    media_type = mt or ct
    if media_type not in MANIFEST_TYPES:
        # An OCI manifest may omit mediaType; tell image from index by shape.
        if media_type is None or media_type == "application/json":
            media_type = OCI_INDEX if "manifests" in doc else OCI_MANIFEST
        else:
            raise InvalidArgument(f"unsupported manifest media type {media_type!r}")
    subject = _descriptor(doc["subject"], "subject") if doc.get("subject") is not None else None
    at = doc.get("artifactType")
    ann = doc.get("annotations") if isinstance(doc.get("annotations"), dict) else None
    if media_type in INDEX_TYPES:
        items = doc.get("manifests")
        if not isinstance(items, list):
            raise InvalidArgument("index: manifests must be a list")
        return Manifest(media_type, manifests=tuple(
            _descriptor(m, f"manifests[{i}]") for i, m in enumerate(items)),
            subject=subject, artifact_type=at if isinstance(at, str) else None,
            annotations=ann)
    config = _descriptor(doc.get("config"), "config")
    layers = doc.get("layers")
    if not isinstance(layers, list):
        raise InvalidArgument("manifest: layers must be a list")
    return Manifest(media_type, config, tuple(
        _descriptor(lyr, f"layers[{i}]") for i, lyr in enumerate(layers)),
        subject=subject, artifact_type=at if isinstance(at, str) else None, annotations=ann)


def select_platform(index: Manifest, wanted: Platform) -> Descriptor:
    """The index entry for ``wanted`` (variant-tolerant as docker is), or NotFound."""
    exact = [d for d in index.manifests if d.platform and d.platform.os == wanted.os
             and d.platform.architecture == wanted.architecture]
    if wanted.variant:
        same = [d for d in exact if d.platform and d.platform.variant == wanted.variant]
        exact = same or [d for d in exact if d.platform and not d.platform.variant]
    if not exact:
        offered = ", ".join(str(d.platform) for d in index.manifests if d.platform) or "none"
        raise NotFound(f"no matching manifest for {wanted} in the manifest list entries "
                       f"(offered: {offered})")
    return exact[0]


__all__ = [
    "ACCEPT", "DOCKER_CONFIG", "DOCKER_LAYER_GZIP", "DOCKER_LIST", "DOCKER_MANIFEST",
    "IMAGE_TYPES", "INDEX_TYPES", "MANIFEST_TYPES", "OCI_CONFIG", "OCI_EMPTY", "OCI_INDEX",
    "OCI_LAYER", "OCI_LAYER_GZIP", "OCI_LAYER_ZSTD", "OCI_MANIFEST", "Descriptor", "Manifest",
    "Platform", "parse", "select_platform",
]
