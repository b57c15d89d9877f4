"""Unpack an image's layers into snapshots, one committed snapshot per chain id.

Per layer, bottom first: if the chain is already unpacked (a ``layers`` row whose
snapshot exists) skip it; otherwise prepare an active snapshot ``extract-...`` on
the parent chain, apply the layer blob into it with img-layers' safe extraction
(whiteouts in the snapshotter's form), check the diff_id, commit it under the
chain id's name and record the layer row. Any failure removes the active
snapshot; a crash leaves an ``extract-*`` snapshot that GC and ``system check``
remove (it is not named by any layer row, nor by a live lease).

Idempotent and safe to run twice at once: a commit that loses the race to
another unpacker of the same chain just uses the winner's snapshot.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from dockyard.errors import Conflict, DockyardError, InvalidArgument, NotFound
from dockyard.image import manifest as mf
from dockyard.image.digest import Digest
from dockyard.image.importer import LayerSpec
from dockyard.image.store import ImageRecord, ImageStore, LayerRecord, Lease

EXTRACT_PREFIX = "extract-"


def snapshot_name(chain: Digest) -> str:
    return str(chain)


def unpack_layers(store: ImageStore, snapshotter, layers: Sequence[LayerSpec],
                  lease: Lease | None = None) -> list[LayerRecord]:
    """Make sure every chain of ``layers`` is a committed snapshot; returns the rows."""
    from dockyard.image.safetar import TarOptions
    from dockyard.image.snapshots import apply_to_snapshot

    # Image layers keep setuid/setgid bits, as docker does (su, passwd, ping...).
    # Device nodes stay skipped: containers get /dev from the runtime.
    options = TarOptions(keep_setuid=True)

    chains = mf.chain_ids([layer.diff_id for layer in layers])
    out: list[LayerRecord] = []
    parent: Digest | None = None
    for spec, chain in zip(layers, chains, strict=True):
        name = snapshot_name(chain)
        existing = store.get_layer(chain)
        if existing is not None and _exists(snapshotter, existing.snapshot):
            out.append(existing)
            parent = chain
            continue
        if lease is not None:
            lease.add_snapshot(name)
        size = 0
        if not _exists(snapshotter, name):
            key = f"{EXTRACT_PREFIX}{uuid.uuid4().hex[:16]}"
            if lease is not None:
                lease.add_snapshot(key)
            snapshotter.prepare(key, snapshot_name(parent) if parent else None,
                                {"dockyard.chain": str(chain)})
            try:
                with store.content.open(spec.blob) as f:
                    # The store verified the blob's digest at ingest; the diff_id
                    # (checked here) covers the content, so the blob is not hashed again.
                    stats = apply_to_snapshot(snapshotter, key, f, options=options,
                                              expected_diff_id=spec.diff_id, hash_blob=False)
                size = stats.size
                try:
                    snapshotter.commit(name, key)
                except Conflict:
                    if not _exists(snapshotter, name):
                        raise
                    snapshotter.remove(key)  # another unpacker won: use its snapshot
            except BaseException:
                try:
                    snapshotter.remove(key)
                except DockyardError:
                    pass
                raise
        row = LayerRecord(chain, spec.diff_id, parent, size, name)
        store.add_layer(row)
        out.append(row)
        parent = chain
    return out


def layer_specs(store: ImageStore, rec: ImageRecord) -> list[LayerSpec]:
    """Read an image's manifest and config back into LayerSpecs."""
    man = mf.parse(store.content.read_bytes(rec.manifest_digest), rec.manifest_media_type)
    if not isinstance(man, mf.Manifest):
        raise InvalidArgument(f"image {rec.id}: stored manifest is not a manifest")
    config = mf.parse_config(store.content.read_bytes(man.config.digest))
    if len(config.diff_ids) != len(man.layers):
        raise InvalidArgument(f"image {rec.id}: manifest and config disagree on layers")
    return [LayerSpec(d.digest, d.media_type, diff)
            for d, diff in zip(man.layers, config.diff_ids, strict=True)]


def ensure_unpacked(store: ImageStore, snapshotter, rec: ImageRecord) -> str | None:
    """Unpack ``rec`` if needed; returns the top snapshot's name (None: no layers)."""
    specs = layer_specs(store, rec)
    if not specs:
        return None
    with store.lease() as lease:
        rows = unpack_layers(store, snapshotter, specs, lease)
    unpacked = sum(r.size for r in rows)
    if all(r.size for r in rows) and unpacked != rec.size:
        store.set_size(rec.id, unpacked)  # a pull recorded compressed sizes
    return rows[-1].snapshot


def _exists(snapshotter, name: str) -> bool:
    try:
        snapshotter.stat(name)
        return True
    except NotFound:
        return False


__all__ = ["EXTRACT_PREFIX", "ensure_unpacked", "layer_specs", "snapshot_name",
           "unpack_layers"]
