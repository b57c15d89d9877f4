"""The images room's public face: exactly these names, all resolvable, all lazy."""

from __future__ import annotations

import subprocess
import sys

import dockyard.image as image

EXPECTED = {
    "BlobRef", "ContainerConfig", "ContentStore", "Descriptor", "Digest", "ImageConfig",
    "ImageFilters", "ImageRecord", "ImageService", "ImageStore", "ImageSummary", "Index",
    "LayerRecord", "LayerSpec", "Manifest", "MountSpec", "NewImage", "Platform", "Reference",
    "apply_layer", "chain_ids", "default_snapshotter", "ensure_unpacked", "mount_all",
    "parse_reference", "unmount",
}


def test_public_names_are_pinned_and_resolve():
    assert set(image.__all__) == EXPECTED
    for name in EXPECTED:
        assert getattr(image, name) is not None


def test_importing_the_room_imports_nothing_else():
    code = ("import sys, dockyard.image; "
            "print(sorted(m for m in sys.modules if m.startswith('dockyard.image.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr
