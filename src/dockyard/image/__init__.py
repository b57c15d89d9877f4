"""The images room: content, metadata, layers, snapshots, exchange formats.

Other rooms import the names below from ``dockyard.image`` (style rule 1). They
load lazily (PEP 562), so ``import dockyard.image`` costs nothing on the runtime's
path; ``tests/unit/image/test_public_api.py`` pins the list.

Metadata and exchange (img-store): ImageService (the engine the CLI/API call),
ImageStore and its records, Reference parsing, manifests/configs, GC, check.
Layers and snapshots (img-layers): apply_layer, chain ids, snapshotters, mounts.
"""

from __future__ import annotations

from dockyard._lazy import lazy_exports

_EXPORTS = {
    # img-store
    "ImageService": "dockyard.image.service",
    "ImageFilters": "dockyard.image.service",
    "ImageSummary": "dockyard.image.service",
    "ImageStore": "dockyard.image.store",
    "ImageRecord": "dockyard.image.store",
    "LayerRecord": "dockyard.image.store",
    "NewImage": "dockyard.image.store",
    "BlobRef": "dockyard.image.store",
    "Reference": "dockyard.image.reference",
    "parse_reference": ("dockyard.image.reference", "parse"),
    "Manifest": "dockyard.image.manifest",
    "Index": "dockyard.image.manifest",
    "ImageConfig": "dockyard.image.manifest",
    "ContainerConfig": "dockyard.image.manifest",
    "Descriptor": "dockyard.image.manifest",
    "Platform": "dockyard.image.manifest",
    "LayerSpec": "dockyard.image.importer",
    "ensure_unpacked": "dockyard.image.unpack",
    # shared foundation
    "ContentStore": "dockyard.image.content",
    "Digest": "dockyard.image.digest",
    # img-layers
    "apply_layer": "dockyard.image.layers",
    "chain_ids": "dockyard.image.layers",
    "default_snapshotter": "dockyard.image.snapshots",
    "MountSpec": "dockyard.image.mount",
    "mount_all": "dockyard.image.mount",
    "unmount": "dockyard.image.mount",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
