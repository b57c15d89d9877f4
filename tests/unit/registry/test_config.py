"""daemon.json registry settings: insecure registries, loopback, mirrors."""

from __future__ import annotations

import json

import pytest

from dockyard.errors import InvalidArgument
from dockyard.registry.config import RegistryConfig


def test_loopback_is_insecure_by_default():
    c = RegistryConfig()
    for host in ("127.0.0.1:5000", "localhost:5000", "127.3.2.1", "[::1]:5000", "localhost"):
        assert c.is_insecure(host), host
    assert not c.is_insecure("registry.example.com:5000")
    assert not c.is_insecure("10.0.0.1:5000")


def test_insecure_registries_by_name_and_cidr(tmp_path):
    p = tmp_path / "daemon.json"
    p.write_text(json.dumps({"insecure-registries": ["reg.local:5000", "10.1.0.0/16"],
                             "registry-mirrors": ["https://mirror.example/"]}))
    c = RegistryConfig.load(p)
    assert c.is_insecure("reg.local:5000") and not c.is_insecure("reg.local:5001")
    assert c.is_insecure("10.1.2.3:443") and not c.is_insecure("10.2.0.1")
    assert c.endpoints("reg.local:5000") == ["https://reg.local:5000", "http://reg.local:5000"]
    assert c.endpoints("docker.io") == ["https://mirror.example",
                                        "https://registry-1.docker.io"]
    assert c.endpoints("quay.io") == ["https://quay.io"]


def test_missing_file_is_defaults(tmp_path):
    assert RegistryConfig.load(tmp_path / "none.json") == RegistryConfig()


@pytest.mark.parametrize("doc", ['{"insecure-registries": "x"}', '{"registry-mirrors": ["m"]}',
                                 '{"insecure-registries": ["300.1.0.0/99"]}', "[", "[]"])
def test_bad_config_is_a_clear_error(tmp_path, doc):
    p = tmp_path / "daemon.json"
    p.write_text(doc)
    with pytest.raises(InvalidArgument):
        RegistryConfig.load(p)
