"""Image references normalise like Docker's and refuse bad input clearly."""

from __future__ import annotations

import pytest

from dockyard.errors import InvalidArgument
from dockyard.image import reference
from dockyard.image.digest import Digest

HEX = "a" * 64


@pytest.mark.parametrize(("text", "full", "familiar"), [
    ("busybox", "docker.io/library/busybox", "busybox"),
    ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
    ("library/busybox", "docker.io/library/busybox", "busybox"),
    ("docker.io/busybox", "docker.io/library/busybox", "busybox"),
    ("index.docker.io/busybox:x", "docker.io/library/busybox:x", "busybox:x"),
    ("me/app", "docker.io/me/app", "me/app"),
    ("me/app/sub:v1", "docker.io/me/app/sub:v1", "me/app/sub:v1"),
    ("localhost/app", "localhost/app", "localhost/app"),
    ("localhost:5000/app:t", "localhost:5000/app:t", "localhost:5000/app:t"),
    ("127.0.0.1:5000/a/b", "127.0.0.1:5000/a/b", "127.0.0.1:5000/a/b"),
    ("quay.io/coreos/etcd", "quay.io/coreos/etcd", "quay.io/coreos/etcd"),
    ("[::1]:5000/x", "[::1]:5000/x", "[::1]:5000/x"),
    ("Registry/app", "Registry/app", "Registry/app"),
    (f"busybox@sha256:{HEX}", f"docker.io/library/busybox@sha256:{HEX}",
     f"busybox@sha256:{HEX}"),
    (f"busybox:1@sha256:{HEX}", f"docker.io/library/busybox:1@sha256:{HEX}",
     f"busybox:1@sha256:{HEX}"),
    ("a_b__c-d---e/x.y", "docker.io/a_b__c-d---e/x.y", "a_b__c-d---e/x.y"),
])
def test_parse_normalises_and_renders_familiar(text, full, familiar):
    ref = reference.parse(text)
    assert str(ref) == full
    assert ref.familiar() == familiar
    # Parsing either form again gives the same reference.
    assert reference.parse(full) == ref
    assert reference.parse(familiar) == ref


def test_parts():
    ref = reference.parse(f"localhost:5000/team/app:v2@sha256:{HEX}")
    assert ref.domain == "localhost:5000"
    assert ref.path == "team/app"
    assert ref.tag == "v2"
    assert ref.digest == Digest("sha256", HEX)
    assert ref.name == "localhost:5000/team/app"
    assert ref.registry_host == "localhost:5000"
    assert ref.tagged == "localhost:5000/team/app:v2"
    assert ref.canonical == f"localhost:5000/team/app@sha256:{HEX}"


def test_docker_io_contacts_registry_1():
    assert reference.parse("busybox").registry_host == "registry-1.docker.io"


def test_default_tag_only_when_nothing_given():
    assert reference.parse("busybox").with_default_tag().tag == "latest"
    assert reference.parse("busybox:1").with_default_tag().tag == "1"
    d = reference.parse(f"busybox@sha256:{HEX}").with_default_tag()
    assert d.tag is None and d.digest is not None


def test_with_tag_and_repository():
    ref = reference.parse("busybox:1")
    assert str(ref.with_tag("2")) == "docker.io/library/busybox:2"
    assert str(ref.repository()) == "docker.io/library/busybox"
    with pytest.raises(InvalidArgument):
        ref.with_tag("-bad")


def test_deep_library_path_keeps_prefix_in_familiar_form():
    assert reference.parse("library/a/b").familiar() == "library/a/b"


@pytest.mark.parametrize(("text", "words"), [
    ("", "empty"),
    ("Busybox", "lowercase"),
    ("me/App", "lowercase"),
    ("busybox:", "bad tag"),
    ("busybox:-x", "bad tag"),
    ("busybox:" + "t" * 129, "bad tag"),
    ("busy box", "whitespace"),
    (" busybox", "whitespace"),
    ("busybox@sha256:abc", "sha256"),
    ("busybox@md5:" + "a" * 32, "unsupported"),
    ("a@b@c", "two '@'"),
    ("/busybox", "component"),
    ("me//app", "component"),
    ("me/app/", "component"),
    ("a..b", "component"),
    ("-a", "component"),
    ("a-", "component"),
    ("host_x.com:5000/app", "domain"),
    (HEX, "64-byte"),
    ("x/" + "a" * 260, "255"),
    (":tag", "empty"),
    ("@sha256:" + HEX, "empty"),
])
def test_invalid_references_are_refused_with_a_reason(text, words):
    with pytest.raises(InvalidArgument) as err:
        reference.parse(text)
    assert words in str(err.value)


def test_parse_repository_refuses_tags():
    assert reference.parse_repository("busybox").name == "docker.io/library/busybox"
    with pytest.raises(InvalidArgument):
        reference.parse_repository("busybox:1")


@pytest.mark.parametrize(("text", "ok"), [
    ("abc123", True), ("sha256:" + HEX, True), (HEX, True), ("xyz", False),
    ("", False), ("a" * 65, False),
])
def test_image_id_prefix(text, ok):
    assert reference.is_image_id_prefix(text) is ok
