"""Manifests, indexes and configs: parse strictly, build schema-valid documents."""

from __future__ import annotations

import json

import pytest

from dockyard.errors import InvalidArgument, NotFound
from dockyard.image import manifest as mf
from dockyard.image import mediatypes as mt
from dockyard.image.digest import Digest
from tests.support.shared import SPECS as SHARED_SPECS

SPECS = SHARED_SPECS / "oci-image"
D1 = Digest.of_bytes(b"one")
D2 = Digest.of_bytes(b"two")


def _validator(schema_name: str):
    """A Draft 4 validator for one OCI schema; $refs resolve by file name."""
    import jsonschema
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    def retrieve(uri: str) -> Resource:
        doc = json.loads((SPECS / uri.rsplit("/", 1)[-1]).read_text())
        return Resource.from_contents(doc, default_specification=DRAFT4)

    schema = json.loads((SPECS / schema_name).read_text())
    return jsonschema.Draft4Validator(schema, registry=Registry(retrieve=retrieve),
                                      format_checker=jsonschema.FormatChecker())


def _desc(media_type=mt.OCI_LAYER_GZIP, digest=D1, size=3, **kw) -> mf.Descriptor:
    return mf.Descriptor(media_type, digest, size, **kw)


def test_built_manifest_is_schema_valid_and_round_trips():
    m = mf.new_manifest(_desc(mt.OCI_CONFIG, D2, 10), [_desc()],
                        annotations={"org.opencontainers.image.ref.name": "x"})
    data = m.to_bytes()
    _validator("image-manifest-schema.json").validate(json.loads(data))
    back = mf.parse(data)
    assert back == m


def test_built_index_is_schema_valid_and_round_trips():
    idx = mf.Index((_desc(mt.OCI_MANIFEST, D1, 5,
                          platform=mf.Platform("linux", "amd64")),))
    data = idx.to_bytes()
    _validator("image-index-schema.json").validate(json.loads(data))
    assert mf.parse(data, mt.OCI_INDEX) == idx


def test_built_config_is_schema_valid_and_parses_back():
    cfg = mf.ImageConfig(
        "amd64", "linux", (D1, D2),
        mf.ContainerConfig(env=("PATH=/bin",), cmd=("sh",), labels={"a": "b"},
                           exposed_ports=("80/tcp",), working_dir="/w"),
        (mf.HistoryEntry("2024-01-01T00:00:00Z", "import"),),
        created="2024-01-01T00:00:00Z")
    doc = json.loads(cfg.to_bytes())
    _validator("config-schema.json").validate(doc)
    assert mf.parse_config(cfg.to_bytes()) == cfg


def test_docker_schema2_manifest_parses():
    doc = {"schemaVersion": 2, "mediaType": mt.DOCKER_MANIFEST,
           "config": {"mediaType": mt.DOCKER_CONFIG, "digest": str(D1), "size": 1},
           "layers": [{"mediaType": mt.DOCKER_LAYER_GZIP, "digest": str(D2), "size": 2}]}
    m = mf.parse(json.dumps(doc).encode())
    assert isinstance(m, mf.Manifest) and m.is_docker
    assert m.layers[0].digest == D2


@pytest.mark.parametrize(("doc", "words"), [
    ({"schemaVersion": 1, "fsLayers": []}, "schema 1"),
    ({"schemaVersion": 3, "config": {}, "layers": []}, "schemaVersion"),
    ({"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST, "layers": []}, "config"),
    ({"schemaVersion": 2, "config": {"mediaType": mt.OCI_CONFIG, "digest": "sha256:x",
                                     "size": 1}, "layers": []}, "digest"),
    ({"schemaVersion": 2, "config": {"mediaType": mt.OCI_CONFIG, "digest": str(D1),
                                     "size": -1}, "layers": []}, "size"),
    ({"schemaVersion": 2, "config": {"mediaType": "bad", "digest": str(D1),
                                     "size": 1}, "layers": []}, "media type"),
    ({"schemaVersion": 2, "config": {"mediaType": mt.OCI_CONFIG, "digest": str(D1),
                                     "size": 1}, "layers": {}}, "layers"),
    ({"schemaVersion": 2, "mediaType": "text/plain"}, "unsupported"),
])
def test_bad_manifests_are_refused(doc, words):
    with pytest.raises(InvalidArgument) as err:
        mf.parse(json.dumps(doc).encode())
    assert words in str(err.value)


def test_declared_media_type_must_agree_with_transport():
    m = mf.new_manifest(_desc(mt.OCI_CONFIG), [_desc()])
    with pytest.raises(InvalidArgument, match="given as"):
        mf.parse(m.to_bytes(), mt.OCI_INDEX)


def test_not_json_and_not_object_are_refused():
    with pytest.raises(InvalidArgument, match="JSON"):
        mf.parse(b"{nope")
    with pytest.raises(InvalidArgument, match="object"):
        mf.parse(b"[]")


def _index(*plats):
    return mf.Index(tuple(
        _desc(mt.OCI_MANIFEST, Digest.of_bytes(str(i).encode()), 1, platform=p)
        for i, p in enumerate(plats)))


def test_select_platform_default_and_requested():
    idx = _index(mf.Platform("unknown", "unknown"), mf.Platform("linux", "arm", "v6"),
                 mf.Platform("linux", "arm", "v7"), mf.Platform("linux", "amd64"),
                 mf.Platform("linux", "arm64", "v8"))
    assert mf.select_platform(idx, mf.Platform("linux", "amd64")).platform.architecture \
        == "amd64"
    assert mf.select_platform(idx, mf.Platform.parse("linux/arm/v6")).platform.variant == "v6"
    assert mf.select_platform(idx, mf.Platform.parse("linux/arm")).platform.variant == "v7"
    assert mf.select_platform(idx, mf.Platform.parse("linux/arm64")).platform.variant == "v8"
    with pytest.raises(NotFound, match="offered"):
        mf.select_platform(idx, mf.Platform.parse("linux/s390x"))


def test_platform_parse_errors():
    with pytest.raises(InvalidArgument):
        mf.Platform.parse("linux")
    with pytest.raises(InvalidArgument):
        mf.Platform.parse("linux//x")


def test_chain_ids_follow_the_spec():
    a, b, c = (Digest.of_bytes(x) for x in (b"a", b"b", b"c"))
    chains = mf.chain_ids([a, b, c])
    assert chains[0] == a
    assert chains[1] == Digest.of_bytes(f"{a} {b}".encode())
    assert chains[2] == Digest.of_bytes(f"{chains[1]} {c}".encode())
    assert mf.chain_ids([]) == ()


def test_config_rejects_bad_rootfs():
    with pytest.raises(InvalidArgument, match="rootfs"):
        mf.parse_config(b'{"architecture":"amd64","os":"linux"}')
    with pytest.raises(InvalidArgument, match="diff_ids"):
        mf.parse_config(b'{"rootfs":{"type":"layers","diff_ids":["nope"]}}')
