"""Media type classification and compression sniffing."""

from __future__ import annotations

import gzip

from dockyard.image import mediatypes as mt


def test_classification():
    assert mt.is_index(mt.OCI_INDEX) and mt.is_index(mt.DOCKER_MANIFEST_LIST)
    assert mt.is_manifest(mt.OCI_MANIFEST) and mt.is_manifest(mt.DOCKER_MANIFEST)
    assert not mt.is_manifest(mt.OCI_INDEX)
    assert mt.is_config(mt.DOCKER_CONFIG)
    assert mt.layer_compression(mt.DOCKER_LAYER_GZIP) == "gzip"
    assert mt.layer_compression(mt.OCI_LAYER_ZSTD) == "zstd"
    assert mt.layer_compression(mt.OCI_LAYER) == "none"
    assert mt.layer_compression("text/plain") == "unknown"
    assert mt.layer_type("gzip") == mt.OCI_LAYER_GZIP
    assert mt.layer_type("none", docker=True) == mt.DOCKER_LAYER


def test_sniff():
    assert mt.sniff_compression(gzip.compress(b"x")) == "gzip"
    assert mt.sniff_compression(b"\x28\xb5\x2f\xfd rest") == "zstd"
    assert mt.sniff_compression(b"plain tar") == "none"
