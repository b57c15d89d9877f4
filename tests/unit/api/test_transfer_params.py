"""Pull/push parameters (daemon/transfer.py): fromImage + tag, and credentials from
X-Registry-Auth."""

from __future__ import annotations

import pytest

from dockyard.daemon.transfer import credential_from, pull_reference
from dockyard.errors import InvalidArgument

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(("image", "tag", "expected"), [
    ("busybox", "", "docker.io/library/busybox"),
    ("busybox", "1.36", "docker.io/library/busybox:1.36"),
    ("busybox:1.36", "", "docker.io/library/busybox:1.36"),
    ("busybox:1.36", "1.36", "docker.io/library/busybox:1.36"),
    ("localhost:5000/a/b", "v1", "localhost:5000/a/b:v1"),
    ("busybox", DIGEST, f"docker.io/library/busybox@{DIGEST}"),
])
def test_pull_reference(image, tag, expected):
    assert str(pull_reference(image, tag)) == expected


@pytest.mark.parametrize(("image", "tag"), [("", ""), ("busybox:1", "2"), ("Bad Name", ""),
                                            ("busybox", "bad tag")])
def test_pull_reference_rejects(image, tag):
    with pytest.raises(InvalidArgument):
        pull_reference(image, tag)


def test_credentials_from_the_auth_header():
    assert credential_from({}) is None
    assert credential_from({"username": "u"}) is None
    c = credential_from({"username": "u", "password": "p"})
    assert (c.username, c.secret) == ("u", "p")
    t = credential_from({"identitytoken": "tok", "username": "u", "password": "p"})
    assert t.is_token and t.secret == "tok"


def test_an_empty_tag_on_an_untagged_name_means_every_tag():
    from dockyard.daemon.transfer import pulls_all_tags

    assert pulls_all_tags("busybox", "")
    assert not pulls_all_tags("busybox", "latest")
    assert not pulls_all_tags("busybox:1", "")
    assert not pulls_all_tags(f"busybox@{DIGEST}", "")
    assert not pulls_all_tags("", "")
