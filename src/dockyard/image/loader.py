"""``dockyard load``: docker-archives (old and new) and OCI archives/layouts in.

Accepted input, detected by content:

* an OCI image layout (``oci-layout`` + ``index.json`` + ``blobs/``), as a
  directory or a tar; Docker 25+ ``docker save`` output is also one, and then its
  ``manifest.json`` supplies the tags;
* a docker-archive (``manifest.json`` with ``Config``/``Layers`` paths; Docker
  <= 24 writes ``<id>/layer.tar`` directories and ``<hex>.json`` configs).

Trust nothing: every blob is checked against the digest and size that names it;
configs named ``<hex>.json`` or ``blobs/sha256/<hex>`` must hash to that name;
each layer's uncompressed digest must equal the config's diff_id; paths inside
manifest.json may not leave the archive (archive_source.clean_name), and nothing
from the archive is ever extracted by name. Blobs are written under a lease and
the image rows are recorded last, in one transaction, so a load killed at any
point leaves only ingest leftovers and unreferenced blobs (``system check``
cleans those), never a half-recorded image.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from dockyard.errors import DigestMismatch, InvalidArgument, NotFound
from dockyard.image import manifest as mf
from dockyard.image import mediatypes as mt
from dockyard.image import reference as refs
from dockyard.image.archive_source import DirSource, Source, TarSource, clean_name, read_small
from dockyard.image.digest import Digest
from dockyard.image.importer import BeforeRecord, LayerSpec
from dockyard.image.layerdigest import IngestedLayer, ingest_layer
from dockyard.image.store import BlobRef, ImageStore, Lease, NewImage

MAX_IMAGES = 10_000
MAX_LAYERS = 1_000
_HEX_NAME = re.compile(r"^(?:blobs/sha256/)?([a-f0-9]{64})(?:\.json)?$")

ANNOTATION_IMAGE_NAME = "io.containerd.image.name"
ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"


@dataclass(frozen=True)
class LoadedImage:
    id: Digest
    tags: tuple[str, ...]                        # familiar form, as docker prints
    replaced: tuple[tuple[str, Digest], ...] = ()  # tag -> image it used to name


@dataclass(frozen=True)
class LoadResult:
    images: tuple[LoadedImage, ...]




def load_path(store: ImageStore, path: str | os.PathLike[str],
              before_record: BeforeRecord | None = None,
              platform: mf.Platform | None = None) -> LoadResult:
    """Load a tar archive (any compression) or an OCI layout directory."""
    p = Path(path)
    if p.is_dir():
        src: Source = DirSource(p)
    elif p.exists():
        with open(p, "rb") as f:
            compression = mt.sniff_compression(f.read(8))
        if compression != "none":
            # Random access into a compressed tar re-inflates from the start on
            # every backward seek: inflate it once into the ingest area instead.
            with open(p, "rb") as f:
                return _load_compressed(store, f, compression, before_record, platform)
        src = TarSource(p)
    else:
        raise NotFound(f"open {path}: no such file or directory")
    try:
        return _load(store, src, before_record, platform)
    finally:
        src.close()


def _load_compressed(store: ImageStore, raw: BinaryIO, compression: str,
                     before_record: BeforeRecord | None,
                     platform: mf.Platform | None) -> LoadResult:
    spool_dir = tempfile.mkdtemp(prefix="load-", dir=store.content.ingest_dir)
    try:
        spool = Path(spool_dir) / "archive.tar"
        with open(spool, "wb") as out:
            if compression == "gzip":
                import gzip

                with gzip.GzipFile(fileobj=raw) as g:
                    shutil.copyfileobj(g, out, 1 << 20)
            else:
                import zstandard

                zstandard.ZstdDecompressor().copy_stream(raw, out)
        return load_path(store, spool, before_record, platform)
    except (OSError, EOFError) as e:
        raise InvalidArgument(f"archive is not valid {compression}: {e}") from None
    finally:
        shutil.rmtree(spool_dir, ignore_errors=True)


def load_stream(store: ImageStore, stream: BinaryIO,
                before_record: BeforeRecord | None = None,
                platform: mf.Platform | None = None) -> LoadResult:
    """Load from a pipe: spool it into the content store's ingest area first (a tar
    needs random access), where an interrupted load is cleaned like any ingest."""
    spool_dir = tempfile.mkdtemp(prefix="load-", dir=store.content.ingest_dir)
    try:
        spool = Path(spool_dir) / "archive"
        with open(spool, "wb") as f:
            shutil.copyfileobj(stream, f, 1 << 20)
        return load_path(store, spool, before_record, platform)
    finally:
        shutil.rmtree(spool_dir, ignore_errors=True)


def _load(store: ImageStore, src: Source, before_record: BeforeRecord | None,
          platform: mf.Platform | None) -> LoadResult:
    is_oci = src.exists("oci-layout") and src.exists("index.json")
    if not is_oci and not src.exists("manifest.json"):
        raise InvalidArgument("not an image archive: no manifest.json (docker-archive) and "
                              "no oci-layout + index.json (OCI layout)")
    docker_tags = _docker_tags(src) if src.exists("manifest.json") else {}
    with store.lease() as lease:
        job = _Job(store, src, lease)
        found = job.oci(platform) if is_oci else job.docker_archive()
        loaded = []
        for image, names, specs in found:
            names = names + [t for t in docker_tags.get(image.id, []) if t not in names]
            if before_record is not None:
                before_record(image, specs, lease)
            rec, moved = store.add_image_tagged(image, names)
            replaced = [(name.familiar(), old) for name, old in moved]
            loaded.append(LoadedImage(rec.id, tuple(n.familiar() for n in names),
                                      tuple(replaced)))
    return LoadResult(tuple(loaded))


def _docker_tags(src: Source) -> dict[Digest, list[refs.Reference]]:
    """Config digest -> RepoTags, from manifest.json (Docker's own names)."""
    out: dict[Digest, list[refs.Reference]] = {}
    for entry in _manifest_json(src):
        cfg_digest = _digest_from_name(clean_name(entry["Config"], "manifest.json Config"))
        if cfg_digest is None:
            continue
        out.setdefault(cfg_digest, []).extend(_tags(entry.get("RepoTags")))
    return out


def _manifest_json(src: Source) -> list[dict]:
    doc = _json(read_small(src, "manifest.json", "manifest.json"), "manifest.json")
    if not isinstance(doc, list) or len(doc) > MAX_IMAGES:
        raise InvalidArgument("manifest.json: expected a list of images")
    for i, entry in enumerate(doc):
        where = f"manifest.json[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
            raise InvalidArgument(f"{where}: Config must be a path")
        layers = entry.get("Layers")
        if not isinstance(layers, list) or not all(isinstance(x, str) for x in layers):
            raise InvalidArgument(f"{where}: Layers must be a list of paths")
        if len(layers) > MAX_LAYERS:
            raise InvalidArgument(f"{where}: more than {MAX_LAYERS} layers")
        tags = entry.get("RepoTags")
        if tags is not None and (not isinstance(tags, list) or
                                 not all(isinstance(t, str) for t in tags)):
            raise InvalidArgument(f"{where}: RepoTags must be a list of strings")
    return doc


def _tags(raw: list[str] | None) -> list[refs.Reference]:
    out = []
    for text in raw or []:
        ref = refs.parse(text)
        if ref.tag is None:
            raise InvalidArgument(f"manifest.json: RepoTags entry {text!r} has no tag")
        out.append(ref.repository().with_tag(ref.tag))
    return out


def _digest_from_name(name: str) -> Digest | None:
    m = _HEX_NAME.match(name)
    return Digest("sha256", m.group(1)) if m else None


def _json(data: bytes, what: str):
    import json

    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidArgument(f"{what}: not valid JSON: {e}") from None


_Found = tuple[NewImage, list[refs.Reference], list[LayerSpec]]


def _specs(man: mf.Manifest, config: mf.ImageConfig) -> list[LayerSpec]:
    return [LayerSpec(d.digest, d.media_type, diff)
            for d, diff in zip(man.layers, config.diff_ids, strict=True)]


class _Job:
    """One load: the source, the lease, and what was already ingested."""

    def __init__(self, store: ImageStore, src: Source, lease: Lease) -> None:
        self.store = store
        self.src = src
        self.lease = lease
        self._layers: dict[str, IngestedLayer] = {}

    # --- docker-archive -------------------------------------------------------------

    def docker_archive(self) -> list[_Found]:
        out = []
        for i, entry in enumerate(_manifest_json(self.src)):
            where = f"manifest.json[{i}]"
            cfg_name = clean_name(entry["Config"], f"{where} Config")
            cfg_bytes = read_small(self.src, cfg_name, f"{where} config")
            cfg_digest = Digest.of_bytes(cfg_bytes)
            named = _digest_from_name(cfg_name)
            if named is not None and named != cfg_digest:
                raise DigestMismatch(f"{where}: config {cfg_name} has digest {cfg_digest}")
            config = mf.parse_config(cfg_bytes)
            layers = entry["Layers"]
            if len(layers) != len(config.diff_ids):
                raise InvalidArgument(f"{where}: {len(layers)} layers but the config lists "
                                      f"{len(config.diff_ids)} diff_ids")
            descs = []
            for n, (lname, diff_id) in enumerate(zip(layers, config.diff_ids, strict=True)):
                lname = clean_name(lname, f"{where} Layers[{n}]")
                layer = self._layer(lname, _digest_from_name(lname), None)
                if layer.diff_id != diff_id:
                    raise DigestMismatch(f"{where}: layer {lname} has diff_id {layer.diff_id},"
                                         f" the config says {diff_id}")
                descs.append(mf.Descriptor(layer.media_type, layer.blob, layer.size))
            self.lease.add_blob(cfg_digest)
            self.store.content.put_bytes(cfg_bytes, cfg_digest)
            man = mf.new_manifest(mf.Descriptor(mt.OCI_CONFIG, cfg_digest, len(cfg_bytes)),
                                  descs)
            man_bytes = man.to_bytes()
            man_digest = Digest.of_bytes(man_bytes)
            self.lease.add_blob(man_digest)
            self.store.content.put_bytes(man_bytes, man_digest)
            out.append((self._new_image(config, cfg_digest, man, man_digest, None),
                        _tags(entry.get("RepoTags")), _specs(man, config)))
        return out

    # --- OCI layout -----------------------------------------------------------------

    def oci(self, platform: mf.Platform | None) -> list[_Found]:
        index = mf.parse(read_small(self.src, "index.json", "index.json"))
        if not isinstance(index, mf.Index):
            raise InvalidArgument("index.json is not an image index")
        if len(index.manifests) > MAX_IMAGES:
            raise InvalidArgument(f"index.json lists more than {MAX_IMAGES} manifests")
        out = []
        for desc in index.manifests:
            names = _oci_names(desc)
            index_digest = None
            if mt.is_index(desc.media_type):
                nested = self._manifest_blob(desc)
                if not isinstance(nested, mf.Index):
                    raise InvalidArgument(f"{desc.digest}: declared an index, is not one")
                index_digest = desc.digest
                desc = mf.select_platform(nested, platform)
            elif not mt.is_manifest(desc.media_type):
                continue  # artifacts and other content: not images
            man = self._manifest_blob(desc)
            if not isinstance(man, mf.Manifest):
                raise InvalidArgument(f"{desc.digest}: declared a manifest, is not one")
            image, config = self._oci_image(man, desc.digest, index_digest)
            out.append((image, names, _specs(man, config)))
        return out

    def _manifest_blob(self, desc: mf.Descriptor) -> mf.Manifest | mf.Index:
        data = self._blob_bytes(desc)
        return mf.parse(data, desc.media_type)

    def _blob_bytes(self, desc: mf.Descriptor) -> bytes:
        name = f"blobs/{desc.digest.algorithm}/{desc.digest.hex}"
        if not self.src.exists(name):
            raise NotFound(f"archive is missing blob {desc.digest}")
        data = read_small(self.src, name, f"blob {desc.digest}")
        if len(data) != desc.size:
            raise DigestMismatch(f"blob {desc.digest}: size {len(data)}, "
                                 f"descriptor says {desc.size}")
        self.lease.add_blob(desc.digest)
        self.store.content.put_bytes(data, desc.digest)
        return data

    def _oci_image(self, man: mf.Manifest, man_digest: Digest,
                   index_digest: Digest | None) -> tuple[NewImage, mf.ImageConfig]:
        cfg_bytes = self._blob_bytes(man.config)
        config = mf.parse_config(cfg_bytes)
        if len(man.layers) != len(config.diff_ids):
            raise InvalidArgument(f"manifest {man_digest}: {len(man.layers)} layers but the "
                                  f"config lists {len(config.diff_ids)} diff_ids")
        if len(man.layers) > MAX_LAYERS:
            raise InvalidArgument(f"manifest {man_digest}: more than {MAX_LAYERS} layers")
        for desc, diff_id in zip(man.layers, config.diff_ids, strict=True):
            name = f"blobs/{desc.digest.algorithm}/{desc.digest.hex}"
            if not self.src.exists(name):
                raise NotFound(f"archive is missing layer blob {desc.digest}")
            layer = self._layer(name, desc.digest, desc.size)
            if layer.diff_id != diff_id:
                raise DigestMismatch(f"layer {desc.digest} has diff_id {layer.diff_id}, "
                                     f"the config says {diff_id}")
        return self._new_image(config, man.config.digest, man, man_digest, index_digest), config

    # --- shared ---------------------------------------------------------------------

    def _layer(self, name: str, expected: Digest | None, size: int | None) -> IngestedLayer:
        key = str(expected) if expected is not None else name
        if key not in self._layers:
            if expected is not None:
                self.lease.add_blob(expected)
            with self.src.open(name) as f:
                layer = ingest_layer(self.store.content, f, expected, size)
            self.lease.add_blob(layer.blob)
            self._layers[key] = layer
        return self._layers[key]

    def _new_image(self, config: mf.ImageConfig, cfg_digest: Digest, man: mf.Manifest,
                   man_digest: Digest, index_digest: Digest | None) -> NewImage:
        blobs = [BlobRef(man_digest, "manifest"), BlobRef(cfg_digest, "config")]
        blobs += [BlobRef(d.digest, "layer") for d in man.layers]
        if index_digest is not None:
            blobs.append(BlobRef(index_digest, "index"))
        size = sum(layer.uncompressed_size for layer in self._layers.values()
                   if layer.blob in {d.digest for d in man.layers})
        return NewImage(cfg_digest, man_digest, man.media_type,
                        mf.chain_ids(config.diff_ids), tuple(dict.fromkeys(blobs)),
                        str(config.platform), config.created, size, index_digest)


def _oci_names(desc: mf.Descriptor) -> list[refs.Reference]:
    """The name an OCI index entry carries: containerd's full name, else a ref.name
    that is itself a full reference (a bare tag names no repository: stays untagged)."""
    for key in (ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME):
        text = desc.annotations.get(key)
        if not text:
            continue
        try:
            ref = refs.parse(text)
        except InvalidArgument:
            continue
        if ref.tag is not None and (key == ANNOTATION_IMAGE_NAME or "/" in text or
                                    ":" in text):
            return [ref.repository().with_tag(ref.tag)]
    return []


__all__ = ["LoadResult", "LoadedImage", "load_path", "load_stream"]
