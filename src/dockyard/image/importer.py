"""``dockyard import``: a single-layer image from a rootfs tar; ``export`` of a tree.

``import`` takes a tar (plain, gzip or zstd) from a file, a URL or stdin, stores
it as the image's only layer exactly as given (so its blob digest is what the
user sent), and writes a config built from ``--change`` instructions the way
``docker import --change`` does (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD,
SHELL, STOPSIGNAL, USER, VOLUME, WORKDIR).

The tar is not trusted: its entries are only ever written by img-layers' safe
extraction when the layer is unpacked; before the image is recorded the caller's
``before_record`` hook unpacks it (the CLI does), and without one the stream is
walked once by the bounded tar reader so a non-tar is refused up front.
"""

from __future__ import annotations

import datetime as _dt
import json
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import BinaryIO

from dockyard.errors import InvalidArgument, NotFound
from dockyard.image import manifest as mf
from dockyard.image import mediatypes as mt
from dockyard.image import reference as refs
from dockyard.image.digest import Digest
from dockyard.image.layerdigest import ingest_layer
from dockyard.image.store import BlobRef, ImageRecord, ImageStore, Lease, NewImage


@dataclass(frozen=True)
class LayerSpec:
    """One layer of an image as unpack.py needs it."""

    blob: Digest
    media_type: str
    diff_id: Digest


# Runs after every blob is stored and before the image is recorded (unpack), with
# the lease of the job, so what it creates is protected from GC as it goes.
BeforeRecord = Callable[[NewImage, Sequence[LayerSpec], Lease], None]


@dataclass(frozen=True)
class ImportOptions:
    reference: str | None = None
    changes: tuple[str, ...] = ()
    message: str | None = None
    platform: mf.Platform | None = None
    source_name: str = "-"
    created: str | None = None  # RFC 3339; now when None
    history_by: str = ""


def now_rfc3339() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def import_stream(store: ImageStore, stream: BinaryIO, opts: ImportOptions,
                  before_record: BeforeRecord | None = None) -> ImageRecord:
    ref = _target_ref(opts.reference)
    container = apply_changes(mf.ContainerConfig(), opts.changes)
    plat = (opts.platform or mf.Platform.host()).normalized()
    created = opts.created or now_rfc3339()
    with store.lease() as lease:
        layer = ingest_layer(store.content, stream)
        lease.add_blob(layer.blob)
        if before_record is None:
            _check_tar(store, layer.blob)
        config = mf.ImageConfig(
            plat.architecture, plat.os, (layer.diff_id,), container,
            (mf.HistoryEntry(created, opts.history_by or None, None,
                             opts.message or f"Imported from {opts.source_name}"),),
            created=created, variant=plat.variant, comment=opts.message)
        return record_single_layer(store, lease, config, layer.blob, layer.size,
                                   layer.media_type, layer.uncompressed_size, before_record,
                                   [ref] if ref is not None else [])


def record_single_layer(store: ImageStore, lease: Lease, config: mf.ImageConfig, blob: Digest,
                        blob_size: int, media_type: str, uncompressed: int,
                        before_record: BeforeRecord | None,
                        tags: Sequence[refs.Reference] = ()) -> ImageRecord:
    """Store config + manifest for one stored layer blob and record the image
    (with ``tags``, in the same transaction)."""
    cfg_bytes = config.to_bytes()
    cfg_digest = Digest.of_bytes(cfg_bytes)
    lease.add_blob(cfg_digest)
    store.content.put_bytes(cfg_bytes, cfg_digest)
    man = mf.new_manifest(mf.Descriptor(mt.OCI_CONFIG, cfg_digest, len(cfg_bytes)),
                          [mf.Descriptor(media_type, blob, blob_size)])
    man_bytes = man.to_bytes()
    man_digest = Digest.of_bytes(man_bytes)
    lease.add_blob(man_digest)
    store.content.put_bytes(man_bytes, man_digest)
    new = NewImage(cfg_digest, man_digest, man.media_type, mf.chain_ids(config.diff_ids),
                   (BlobRef(man_digest, "manifest"), BlobRef(cfg_digest, "config"),
                    BlobRef(blob, "layer")),
                   str(config.platform), config.created, uncompressed)
    if before_record is not None:
        before_record(new, [LayerSpec(blob, media_type, config.diff_ids[0])], lease)
    return store.add_image_tagged(new, tags)[0]


def import_source(store: ImageStore, source: str, opts: ImportOptions, stdin: BinaryIO,
                  before_record: BeforeRecord | None = None) -> ImageRecord:
    """``FILE``, ``-`` (stdin) or an ``http(s)://`` URL."""
    opts = replace(opts, source_name=source if source != "-" else "-")
    if source == "-":
        return import_stream(store, stdin, opts, before_record)
    if source.startswith(("http://", "https://")):
        import urllib.request

        try:
            with urllib.request.urlopen(source, timeout=60) as resp:
                return import_stream(store, resp, opts, before_record)
        except OSError as e:
            raise NotFound(f"import {source}: {e}") from None
    try:
        f = open(source, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise NotFound(f"open {source}: no such file or directory") from None
    except IsADirectoryError:
        raise InvalidArgument(f"import {source}: is a directory (pass a tar)") from None
    with f:
        return import_stream(store, f, opts, before_record)


def _target_ref(text: str | None) -> refs.Reference | None:
    if not text:
        return None
    ref = refs.parse(text)
    if ref.digest is not None:
        raise InvalidArgument(f"import: {text!r}: cannot import to a digest reference")
    return ref.with_default_tag()


def _check_tar(store: ImageStore, blob: Digest) -> None:
    """Walk the layer's headers with the bounded reader: refuse what is not a tar."""
    from dockyard.image.tario import Source, TarLimits, TarReader

    limits = TarLimits()
    with store.content.open(blob) as f:
        reader = TarReader(Source(f, limits), limits)
        count = 0
        for _entry in reader:
            reader.skip_data()
            count += 1
    if count == 0:
        raise InvalidArgument("import: the input is not a tar archive (no entries)")


# --- --change -----------------------------------------------------------------------

_CHANGE_KEYS = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "SHELL",
                "STOPSIGNAL", "USER", "VOLUME", "WORKDIR")


def apply_changes(cfg: mf.ContainerConfig, changes: Sequence[str]) -> mf.ContainerConfig:
    """Apply Dockerfile-style instructions to a container config."""
    for change in changes:
        keyword, _, rest = change.strip().partition(" ")
        key = keyword.upper()
        rest = rest.strip()
        if key not in _CHANGE_KEYS:
            raise InvalidArgument(f"{keyword} is not a valid change command")
        if not rest:
            raise InvalidArgument(f"{key} requires at least one argument")
        cfg = _apply_one(cfg, key, rest)
    return cfg


def _apply_one(cfg: mf.ContainerConfig, key: str, rest: str) -> mf.ContainerConfig:
    if key in ("CMD", "ENTRYPOINT"):
        value = _exec_or_shell(rest, cfg.shell)
        return replace(cfg, cmd=value) if key == "CMD" else replace(cfg, entrypoint=value)
    if key == "SHELL":
        value = _json_list(rest)
        if value is None:
            raise InvalidArgument("SHELL requires the arguments to be in JSON form")
        return replace(cfg, shell=value)
    if key == "ENV":
        env = dict(e.split("=", 1) for e in cfg.env if "=" in e)
        env.update(_pairs(rest, "ENV"))
        return replace(cfg, env=tuple(f"{k}={v}" for k, v in env.items()))
    if key == "LABEL":
        labels = dict(cfg.labels)
        labels.update(_pairs(rest, "LABEL"))
        return replace(cfg, labels=labels)
    if key == "EXPOSE":
        ports = set(cfg.exposed_ports)
        for p in rest.split():
            ports.add(p if "/" in p else f"{p}/tcp")
        return replace(cfg, exposed_ports=tuple(sorted(ports)))
    if key == "VOLUME":
        vols = _json_list(rest) or tuple(rest.split())
        return replace(cfg, volumes=tuple(sorted(set(cfg.volumes) | set(vols))))
    if key == "ONBUILD":
        return replace(cfg, on_build=(*cfg.on_build, rest))
    field = {"USER": "user", "WORKDIR": "working_dir", "STOPSIGNAL": "stop_signal"}[key]
    return replace(cfg, **{field: rest})


def _json_list(text: str) -> tuple[str, ...] | None:
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(x, str) for x in value):
        return tuple(value)
    return None


def _exec_or_shell(text: str, shell: tuple[str, ...] | None) -> tuple[str, ...]:
    value = _json_list(text)
    if value is not None:
        return value
    return (*(shell or ("/bin/sh", "-c")), text)


def _pairs(text: str, key: str) -> dict[str, str]:
    try:
        words = shlex.split(text)
    except ValueError as e:
        raise InvalidArgument(f"{key}: {e}") from None
    if words and "=" not in words[0]:
        # Legacy form: ENV name value with spaces
        name, _, value = text.partition(" ")
        return {name: value.strip()}
    out = {}
    for w in words:
        name, eq, value = w.partition("=")
        if not eq or not name:
            raise InvalidArgument(f"{key} names can not be blank: {w!r}")
        out[name] = value
    return out


def export_tree(root: str, out: BinaryIO) -> Digest:
    """Write a directory tree as one tar (``export`` of a rootfs); returns its digest."""
    from dockyard.image.diff import DiffOptions, diff_dirs

    return diff_dirs(None, root, out, DiffOptions(compression="none")).diff_id


__all__ = ["BeforeRecord", "ImportOptions", "LayerSpec", "apply_changes", "export_tree",
           "import_source", "import_stream", "now_rfc3339", "record_single_layer"]
