"""OCI / Docker schema2 manifests, indexes and image configs as typed values.

Why hand-written checks and not jsonschema here: this is on the pull, load and
run paths, so it has to be cheap to import; the unit tests check what we *build*
against the official schemas with jsonschema instead.

Parsing is strict about what matters for safety (digests, sizes, media types,
schema version, a declared media type that contradicts the one we were told) and
lenient about what real registries vary on (unknown fields, empty layer lists).
Configs are kept by the store as the exact bytes we got (their digest is the
image id); :class:`ImageConfig` is the parsed view.
"""

from __future__ import annotations

import json
import platform as _platform
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dockyard.errors import InvalidArgument
from dockyard.image import mediatypes as mt
from dockyard.image.digest import Digest

_MEDIA_TYPE_RE = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$")
MAX_MANIFEST_BYTES = 4 << 20

_GOARCH = {"x86_64": ("amd64", None), "amd64": ("amd64", None), "aarch64": ("arm64", "v8"),
           "arm64": ("arm64", "v8"), "armv7l": ("arm", "v7"), "armv6l": ("arm", "v6"),
           "i386": ("386", None), "i686": ("386", None), "ppc64le": ("ppc64le", None),
           "s390x": ("s390x", None), "riscv64": ("riscv64", None)}


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str | None = None
    os_version: str | None = None
    os_features: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Platform:
        """``os/arch[/variant]`` as given to ``--platform``."""
        parts = (text or "").strip().lower().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise InvalidArgument(f"invalid platform {text!r}: expected OS/ARCH[/VARIANT]")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None).normalized()

    @classmethod
    def host(cls) -> Platform:
        arch, variant = _GOARCH.get(_platform.machine(), (_platform.machine(), None))
        return cls("linux", arch, variant)

    def normalized(self) -> Platform:
        arch, variant = self.architecture, self.variant
        if arch in ("x86_64", "x86-64"):
            arch = "amd64"
        elif arch == "aarch64":
            arch = "arm64"
        if arch == "arm64" and variant in (None, "8"):
            variant = "v8"
        if arch == "arm" and variant in (None, "7"):
            variant = "v7"
        return Platform(self.os, arch, variant, self.os_version, self.os_features)

    def matches(self, other: Platform) -> bool:
        """Does ``other`` (an index entry) satisfy this wanted platform?"""
        a, b = self.normalized(), other.normalized()
        if (a.os, a.architecture) != (b.os, b.architecture):
            return False
        return a.variant is None or b.variant is None or a.variant == b.variant

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"architecture": self.architecture, "os": self.os}
        if self.os_version:
            d["os.version"] = self.os_version
        if self.os_features:
            d["os.features"] = list(self.os_features)
        if self.variant:
            d["variant"] = self.variant
        return d

    @classmethod
    def from_dict(cls, d: Any, where: str) -> Platform:
        if not isinstance(d, dict):
            raise InvalidArgument(f"{where}: platform must be an object")
        os_ = _str(d, "os", where, required=True)
        arch = _str(d, "architecture", where, required=True)
        feats = d.get("os.features") or []
        if not isinstance(feats, list) or not all(isinstance(f, str) for f in feats):
            raise InvalidArgument(f"{where}: os.features must be a list of strings")
        return cls(os_, arch, _str(d, "variant", where), _str(d, "os.version", where),
                   tuple(feats))


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    annotations: Mapping[str, str] = field(default_factory=dict)
    urls: tuple[str, ...] = ()
    platform: Platform | None = None
    artifact_type: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"mediaType": self.media_type, "digest": str(self.digest),
                             "size": self.size}
        if self.urls:
            d["urls"] = list(self.urls)
        if self.annotations:
            d["annotations"] = dict(self.annotations)
        if self.platform is not None:
            d["platform"] = self.platform.to_dict()
        if self.artifact_type:
            d["artifactType"] = self.artifact_type
        return d

    @classmethod
    def from_dict(cls, d: Any, where: str) -> Descriptor:
        if not isinstance(d, dict):
            raise InvalidArgument(f"{where}: descriptor must be an object")
        media_type = _str(d, "mediaType", where, required=True)
        _check_media_type(media_type, where)
        digest_text = _str(d, "digest", where, required=True)
        try:
            digest = Digest.parse(digest_text)
        except InvalidArgument as e:
            raise InvalidArgument(f"{where}: {e.message}") from None
        size = d.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InvalidArgument(f"{where}: size must be a non-negative integer")
        urls = d.get("urls") or []
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            raise InvalidArgument(f"{where}: urls must be a list of strings")
        plat = d.get("platform")
        return cls(media_type, digest, size, _annotations(d, where), tuple(urls),
                   Platform.from_dict(plat, where) if plat is not None else None,
                   _str(d, "artifactType", where))


@dataclass(frozen=True)
class Manifest:
    """An image manifest (OCI or Docker schema2: same shape, other media types)."""

    config: Descriptor
    layers: tuple[Descriptor, ...]
    media_type: str = mt.OCI_MANIFEST
    annotations: Mapping[str, str] = field(default_factory=dict)
    subject: Descriptor | None = None
    artifact_type: str | None = None

    @property
    def is_docker(self) -> bool:
        return self.media_type == mt.DOCKER_MANIFEST

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"schemaVersion": 2, "mediaType": self.media_type}
        if self.artifact_type:
            d["artifactType"] = self.artifact_type
        d["config"] = self.config.to_dict()
        d["layers"] = [layer.to_dict() for layer in self.layers]
        if self.subject is not None:
            d["subject"] = self.subject.to_dict()
        if self.annotations:
            d["annotations"] = dict(self.annotations)
        return d

    def to_bytes(self) -> bytes:
        return _dump(self.to_dict())


@dataclass(frozen=True)
class Index:
    """An OCI image index or a Docker manifest list."""

    manifests: tuple[Descriptor, ...]
    media_type: str = mt.OCI_INDEX
    annotations: Mapping[str, str] = field(default_factory=dict)
    subject: Descriptor | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"schemaVersion": 2, "mediaType": self.media_type,
                             "manifests": [m.to_dict() for m in self.manifests]}
        if self.subject is not None:
            d["subject"] = self.subject.to_dict()
        if self.annotations:
            d["annotations"] = dict(self.annotations)
        return d

    def to_bytes(self) -> bytes:
        return _dump(self.to_dict())


def parse(data: bytes, media_type: str | None = None) -> Manifest | Index:
    """Parse a manifest or index. ``media_type`` is what the transport said (a
    registry's Content-Type, a parent descriptor); a body claiming otherwise is refused."""
    doc = load_json(data, "manifest")
    declared = doc.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise InvalidArgument("manifest: mediaType must be a string")
    if media_type and declared and media_type != declared:
        raise InvalidArgument(
            f"manifest: body says mediaType {declared!r} but it was given as {media_type!r}")
    kind = declared or media_type or _infer_kind(doc)
    if kind in (mt.DOCKER_MANIFEST_V1, mt.DOCKER_MANIFEST_V1_SIGNED) or "fsLayers" in doc:
        raise InvalidArgument("Docker schema 1 manifests are not supported; "
                              "push the image again with a current client")
    if doc.get("schemaVersion") != 2:
        raise InvalidArgument(f"manifest: schemaVersion must be 2, got "
                              f"{doc.get('schemaVersion')!r}")
    if mt.is_index(kind):
        entries = doc.get("manifests")
        if not isinstance(entries, list):
            raise InvalidArgument("index: manifests must be a list")
        return Index(tuple(Descriptor.from_dict(m, f"index.manifests[{i}]")
                           for i, m in enumerate(entries)),
                     kind, _annotations(doc, "index"), _subject(doc))
    if mt.is_manifest(kind):
        if "config" not in doc:
            raise InvalidArgument("manifest: config is required")
        layers = doc.get("layers")
        if not isinstance(layers, list):
            raise InvalidArgument("manifest: layers must be a list")
        return Manifest(Descriptor.from_dict(doc["config"], "manifest.config"),
                        tuple(Descriptor.from_dict(x, f"manifest.layers[{i}]")
                              for i, x in enumerate(layers)),
                        kind, _annotations(doc, "manifest"), _subject(doc),
                        _str(doc, "artifactType", "manifest"))
    raise InvalidArgument(f"unsupported manifest media type {kind!r}")


def _infer_kind(doc: dict[str, Any]) -> str:
    if "manifests" in doc:
        return mt.OCI_INDEX
    if "config" in doc or "layers" in doc:
        return mt.OCI_MANIFEST
    return "unknown"


def select_platform(index: Index, want: Platform | None = None) -> Descriptor:
    """Pick the manifest for ``want`` (default: this host, linux/amd64 here).

    Attestation entries (``unknown/unknown``) never match. An exact variant beats
    an entry without a variant. Raises NotFound listing what the index offers."""
    from dockyard.errors import NotFound

    want = (want or Platform.host()).normalized()
    best: Descriptor | None = None
    for desc in index.manifests:
        if desc.platform is None or not mt.is_manifest(desc.media_type):
            continue
        if not want.matches(desc.platform):
            continue
        if want.variant and desc.platform.normalized().variant == want.variant:
            return desc
        if best is None:
            best = desc
    if best is None:
        offered = sorted({str(d.platform) for d in index.manifests if d.platform})
        raise NotFound(f"no matching manifest for {want} in the manifest list entries "
                       f"(offered: {', '.join(offered) or 'none'})")
    return best


# --- image configs --------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryEntry:
    created: str | None = None
    created_by: str | None = None
    author: str | None = None
    comment: str | None = None
    empty_layer: bool = False

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        for key in ("created", "created_by", "author", "comment"):
            if getattr(self, key) is not None:
                d[key] = getattr(self, key)
        if self.empty_layer:
            d["empty_layer"] = True
        return d


@dataclass(frozen=True)
class ContainerConfig:
    """The ``config`` section of an image config: defaults for containers."""

    user: str = ""
    env: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    working_dir: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    exposed_ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    stop_signal: str | None = None
    args_escaped: bool = False
    on_build: tuple[str, ...] = ()
    shell: tuple[str, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        if self.user:
            d["User"] = self.user
        if self.exposed_ports:
            d["ExposedPorts"] = {p: {} for p in self.exposed_ports}
        if self.env:
            d["Env"] = list(self.env)
        if self.entrypoint is not None:
            d["Entrypoint"] = list(self.entrypoint)
        if self.cmd is not None:
            d["Cmd"] = list(self.cmd)
        if self.volumes:
            d["Volumes"] = {v: {} for v in self.volumes}
        if self.working_dir:
            d["WorkingDir"] = self.working_dir
        if self.labels:
            d["Labels"] = dict(self.labels)
        if self.stop_signal:
            d["StopSignal"] = self.stop_signal
        if self.args_escaped:
            d["ArgsEscaped"] = True
        if self.on_build:
            d["OnBuild"] = list(self.on_build)
        if self.shell is not None:
            d["Shell"] = list(self.shell)
        return d

    @classmethod
    def from_dict(cls, d: Any) -> ContainerConfig:
        if d is None:
            return cls()
        if not isinstance(d, dict):
            raise InvalidArgument("image config: config must be an object")
        return cls(
            user=_str(d, "User", "config") or "",
            env=_strlist(d, "Env") or (),
            entrypoint=_strlist(d, "Entrypoint"),
            cmd=_strlist(d, "Cmd"),
            working_dir=_str(d, "WorkingDir", "config") or "",
            labels=_strmap(d, "Labels"),
            exposed_ports=tuple(sorted(_keys(d, "ExposedPorts"))),
            volumes=tuple(sorted(_keys(d, "Volumes"))),
            stop_signal=_str(d, "StopSignal", "config"),
            args_escaped=bool(d.get("ArgsEscaped")),
            on_build=_strlist(d, "OnBuild") or (),
            shell=_strlist(d, "Shell"),
        )


@dataclass(frozen=True)
class ImageConfig:
    architecture: str
    os: str
    diff_ids: tuple[Digest, ...]
    config: ContainerConfig = field(default_factory=ContainerConfig)
    history: tuple[HistoryEntry, ...] = ()
    created: str | None = None
    author: str | None = None
    variant: str | None = None
    os_version: str | None = None
    comment: str | None = None

    @property
    def platform(self) -> Platform:
        return Platform(self.os, self.architecture, self.variant, self.os_version)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"architecture": self.architecture}
        if self.author:
            d["author"] = self.author
        if self.comment:
            d["comment"] = self.comment
        d["config"] = self.config.to_dict()
        if self.created:
            d["created"] = self.created
        d["history"] = [h.to_dict() for h in self.history]
        d["os"] = self.os
        if self.os_version:
            d["os.version"] = self.os_version
        d["rootfs"] = {"type": "layers", "diff_ids": [str(x) for x in self.diff_ids]}
        if self.variant:
            d["variant"] = self.variant
        return d

    def to_bytes(self) -> bytes:
        return _dump(self.to_dict())


def parse_config(data: bytes) -> ImageConfig:
    doc = load_json(data, "image config")
    rootfs = doc.get("rootfs")
    if not isinstance(rootfs, dict) or rootfs.get("type") != "layers":
        raise InvalidArgument("image config: rootfs.type must be 'layers'")
    ids = rootfs.get("diff_ids") or []
    if not isinstance(ids, list):
        raise InvalidArgument("image config: rootfs.diff_ids must be a list")
    try:
        diff_ids = tuple(Digest.parse(x) if isinstance(x, str) else Digest.parse("")
                         for x in ids)
    except InvalidArgument as e:
        raise InvalidArgument(f"image config: rootfs.diff_ids: {e.message}") from None
    history_raw = doc.get("history") or []
    if not isinstance(history_raw, list) or not all(isinstance(h, dict) for h in history_raw):
        raise InvalidArgument("image config: history must be a list of objects")
    history = tuple(HistoryEntry(_str(h, "created", "history"), _str(h, "created_by", "history"),
                                 _str(h, "author", "history"), _str(h, "comment", "history"),
                                 bool(h.get("empty_layer"))) for h in history_raw)
    return ImageConfig(
        architecture=_str(doc, "architecture", "image config") or "",
        os=_str(doc, "os", "image config") or "",
        diff_ids=diff_ids,
        config=ContainerConfig.from_dict(doc.get("config")),
        history=history,
        created=_str(doc, "created", "image config"),
        author=_str(doc, "author", "image config"),
        variant=_str(doc, "variant", "image config"),
        os_version=_str(doc, "os.version", "image config"),
        comment=_str(doc, "comment", "image config"),
    )


def new_manifest(config: Descriptor, layers: Sequence[Descriptor], docker: bool = False,
                 annotations: Mapping[str, str] | None = None) -> Manifest:
    """A manifest for freshly built content; Docker media types when ``docker``."""
    return Manifest(config, tuple(layers), mt.DOCKER_MANIFEST if docker else mt.OCI_MANIFEST,
                    dict(annotations or {}))


def chain_ids(diff_ids: Sequence[Digest]) -> tuple[Digest, ...]:
    """ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)).

    The OCI image spec's definition; a chain id names a layer *with* its parents,
    which is what a snapshot holds."""
    out: list[Digest] = []
    for diff in diff_ids:
        out.append(diff if not out else
                   Digest.of_bytes(f"{out[-1]} {diff}".encode()))
    return tuple(out)


# --- helpers ----------------------------------------------------------------------------


def load_json(data: bytes, what: str) -> dict[str, Any]:
    if len(data) > MAX_MANIFEST_BYTES:
        raise InvalidArgument(f"{what}: larger than {MAX_MANIFEST_BYTES} bytes")
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidArgument(f"{what}: not valid JSON: {e}") from None
    if not isinstance(doc, dict):
        raise InvalidArgument(f"{what}: must be a JSON object")
    return doc


def _dump(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def _check_media_type(value: str, where: str) -> None:
    if not _MEDIA_TYPE_RE.match(value):
        raise InvalidArgument(f"{where}: invalid media type {value!r}")


def _str(d: dict[str, Any], key: str, where: str, required: bool = False) -> str | None:
    v = d.get(key)
    if v is None:
        if required:
            raise InvalidArgument(f"{where}: {key} is required")
        return None
    if not isinstance(v, str):
        raise InvalidArgument(f"{where}: {key} must be a string")
    return v


def _strlist(d: dict[str, Any], key: str) -> tuple[str, ...] | None:
    v = d.get(key)
    if v is None:
        return None
    if isinstance(v, str):  # some old configs carry a bare string
        return (v,)
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise InvalidArgument(f"image config: {key} must be a list of strings")
    return tuple(v)


def _strmap(d: dict[str, Any], key: str) -> dict[str, str]:
    v = d.get(key) or {}
    if not isinstance(v, dict) or not all(isinstance(x, str) for x in v.values()):
        raise InvalidArgument(f"{key} must be a map of strings")
    return dict(v)


def _keys(d: dict[str, Any], key: str) -> list[str]:
    v = d.get(key) or {}
    if not isinstance(v, dict):
        raise InvalidArgument(f"image config: {key} must be an object")
    return [str(k) for k in v]


def _annotations(d: dict[str, Any], where: str) -> dict[str, str]:
    v = d.get("annotations") or {}
    if not isinstance(v, dict) or not all(
            isinstance(k, str) and isinstance(x, str) for k, x in v.items()):
        raise InvalidArgument(f"{where}: annotations must be a map of strings")
    return v


def _subject(d: dict[str, Any]) -> Descriptor | None:
    s = d.get("subject")
    return Descriptor.from_dict(s, "subject") if s is not None else None


__all__ = [
    "ContainerConfig",
    "Descriptor",
    "HistoryEntry",
    "ImageConfig",
    "Index",
    "Manifest",
    "Platform",
    "chain_ids",
    "load_json",
    "new_manifest",
    "parse",
    "parse_config",
    "select_platform",
]
