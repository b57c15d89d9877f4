"""``dockyard save``: one tar that is both a docker-archive and an OCI image layout.

As Docker 25+ writes it::

    oci-layout                     {"imageLayoutVersion": "1.0.0"}
    index.json                     one entry per (image, name), with
                                   io.containerd.image.name / org.opencontainers.image.ref.name
    blobs/sha256/<hex>             manifests, configs and layers, exactly as stored
    manifest.json                  docker-archive: Config / RepoTags / Layers as blob paths
    repositories                   legacy {repo: {tag: id}} map

Blobs are written as stored (a pulled gzip layer stays gzip; ``docker load`` and
``skopeo`` decompress), so the manifest digests of pulled images survive a
save/load round trip. The same writer fills an OCI layout *directory* (``--format
oci-dir``), which ``umoci`` and ``oci-image-tool`` read directly.

Load is in loader.py; reading archives safely is in archive_source.py.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from dockyard.errors import InvalidArgument, NotFound
from dockyard.image import manifest as mf
from dockyard.image import reference as refs
from dockyard.image.digest import Digest
from dockyard.image.store import ImageRecord, ImageStore

ANNOTATION_IMAGE_NAME = "io.containerd.image.name"
ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"


class Sink(Protocol):
    def add_bytes(self, name: str, data: bytes) -> None: ...

    def add_stream(self, name: str, src: BinaryIO, size: int) -> None: ...

    def has(self, name: str) -> bool: ...


class TarSink:
    """Writes a plain tar stream, entries sorted as added, fixed times and owners."""

    def __init__(self, out: BinaryIO) -> None:
        self._tar = tarfile.open(  # noqa: SIM115 - closed by close()
            fileobj=out, mode="w|", format=tarfile.PAX_FORMAT)
        self._names: set[str] = set()
        self._dirs: set[str] = set()

    def _dir(self, name: str) -> None:
        parent = os.path.dirname(name)
        if not parent or parent in self._dirs:
            return
        self._dir(parent)
        info = tarfile.TarInfo(parent + "/")
        info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
        self._tar.addfile(info)
        self._dirs.add(parent)

    def _info(self, name: str, size: int) -> tarfile.TarInfo:
        self._dir(name)
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = size, 0o644, 0
        self._names.add(name)
        return info

    def add_bytes(self, name: str, data: bytes) -> None:
        self._tar.addfile(self._info(name, len(data)), io.BytesIO(data))

    def add_stream(self, name: str, src: BinaryIO, size: int) -> None:
        self._tar.addfile(self._info(name, size), src)

    def has(self, name: str) -> bool:
        return name in self._names

    def close(self) -> None:
        self._tar.close()


class DirSink:
    """Writes an OCI layout directory (files created fresh, never through links)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def _open(self, name: str) -> BinaryIO:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
        return os.fdopen(fd, "wb")

    def add_bytes(self, name: str, data: bytes) -> None:
        with self._open(name) as f:
            f.write(data)
        self._publish(name)

    def add_stream(self, name: str, src: BinaryIO, size: int) -> None:
        import shutil

        with self._open(name) as f:
            shutil.copyfileobj(src, f, 1 << 20)
        self._publish(name)

    def _publish(self, name: str) -> None:
        path = self.root / name
        os.replace(path.with_name(path.name + ".tmp"), path)

    def has(self, name: str) -> bool:
        return (self.root / name).is_file()

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class SaveItem:
    """An image to save and the names (tags) to save it under."""

    image: ImageRecord
    names: tuple[refs.Reference, ...]


def plan(store: ImageStore, wanted: Sequence[str]) -> list[SaveItem]:
    """Resolve what the user typed: a tag saves that tag; an id or a digest saves
    the image untagged; a bare repository saves every tag of it (Docker's rules)."""
    if not wanted:
        raise InvalidArgument("save: name at least one image")
    items: dict[Digest, list[refs.Reference]] = {}
    records: dict[Digest, ImageRecord] = {}
    for text in wanted:
        rec = None
        names: list[refs.Reference] = []
        try:
            ref = refs.parse(text)
        except InvalidArgument:
            ref = None
        if ref is not None and ref.tag is None and ref.digest is None:
            tagged = [r for r in store.list()
                      for t in r.repo_tags if t.rsplit(":", 1)[0] == ref.name]
            for r in tagged:
                records[r.id] = r
                items.setdefault(r.id, []).extend(
                    refs.parse(t) for t in r.repo_tags if t.rsplit(":", 1)[0] == ref.name)
            if tagged:
                continue
        rec = store.resolve(text)
        if ref is not None and ref.tag is not None and not refs.is_image_id_prefix(text):
            names.append(ref)
        records[rec.id] = rec
        items.setdefault(rec.id, []).extend(names)
    return [SaveItem(records[i], tuple(dict.fromkeys(n))) for i, n in items.items()]


def write(store: ImageStore, items: Sequence[SaveItem], sink: Sink,
          docker_archive: bool = True) -> None:
    """Write blobs, then index.json and oci-layout, then manifest.json/repositories."""
    index_entries: list[mf.Descriptor] = []
    docker_entries: list[dict] = []
    repositories: dict[str, dict[str, str]] = {}
    for item in items:
        rec = item.image
        man_bytes = store.content.read_bytes(rec.manifest_digest)
        man = mf.parse(man_bytes, rec.manifest_media_type)
        if not isinstance(man, mf.Manifest):
            raise InvalidArgument(f"image {rec.id}: stored manifest is not a manifest")
        for digest in [rec.manifest_digest, man.config.digest,
                       *(d.digest for d in man.layers)]:
            _copy_blob(store, sink, digest)
        base = mf.Descriptor(rec.manifest_media_type, rec.manifest_digest, len(man_bytes),
                             platform=_platform(rec))
        if item.names:
            for name in item.names:
                index_entries.append(mf.Descriptor(
                    base.media_type, base.digest, base.size,
                    {ANNOTATION_IMAGE_NAME: str(name), ANNOTATION_REF_NAME: name.tag or ""},
                    platform=base.platform))
        else:
            index_entries.append(base)
        layer_paths = [_blob_name(d.digest) for d in man.layers]
        docker_entries.append({
            "Config": _blob_name(man.config.digest),
            "RepoTags": [n.familiar() for n in item.names] or None,
            "Layers": layer_paths,
        })
        top = man.layers[-1].digest.hex if man.layers else rec.id.hex
        for name in item.names:
            repositories.setdefault(name.familiar_name, {})[name.tag or "latest"] = top
    sink.add_bytes("index.json", mf.Index(tuple(index_entries)).to_bytes())
    sink.add_bytes("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    if docker_archive:
        sink.add_bytes("manifest.json", json.dumps(docker_entries).encode())
        if repositories:
            sink.add_bytes("repositories", json.dumps(repositories).encode())


def save_to_stream(store: ImageStore, wanted: Sequence[str], out: BinaryIO) -> None:
    sink = TarSink(out)
    try:
        write(store, plan(store, wanted), sink)
    finally:
        sink.close()


def save_to_layout(store: ImageStore, wanted: Sequence[str], directory: Path) -> None:
    """An OCI layout directory (no docker-archive files): for umoci and friends."""
    write(store, plan(store, wanted), DirSink(directory), docker_archive=False)


def _platform(rec: ImageRecord) -> mf.Platform | None:
    try:
        return mf.Platform.parse(rec.platform) if rec.platform else None
    except InvalidArgument:
        return None


def _blob_name(digest: Digest) -> str:
    return f"blobs/{digest.algorithm}/{digest.hex}"


def _copy_blob(store: ImageStore, sink: Sink, digest: Digest) -> None:
    name = _blob_name(digest)
    if sink.has(name):
        return
    try:
        size = store.content.info(digest).size
    except NotFound:
        raise NotFound(f"blob {digest} is missing from the content store; "
                       "run `dockyard system check`") from None
    with store.content.open(digest) as f:
        sink.add_stream(name, f, size)


__all__ = ["DirSink", "SaveItem", "TarSink", "plan", "save_to_layout", "save_to_stream",
           "write"]
