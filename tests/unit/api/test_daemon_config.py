"""``dockyardd``'s settings (daemon/config.py): dockerd's rules for daemon.json.
(Kept here because this session owns tests/unit/api only; tests/unit/daemon/ is
its natural home.)"""

from __future__ import annotations

import json

import pytest

from dockyard.daemon import config
from dockyard.errors import InvalidArgument


def test_defaults(tmp_path, monkeypatch):
    monkeypatch.delenv("DOCKYARD_ROOT", raising=False)
    cfg = config.merge({}, str(tmp_path / "absent.json"))
    assert cfg.hosts == ["unix:///run/dockyard/dockyard.sock"]
    assert cfg.data_root == "/var/lib/dockyard" and cfg.exec_root == "/run/dockyard"
    assert cfg.pidfile == "/run/dockyard/dockyardd.pid" and cfg.log_level == "info"


def test_dockyard_root_env_sets_the_default_data_root(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKYARD_ROOT", str(tmp_path / "r"))
    assert config.merge({}, str(tmp_path / "absent.json")).data_root == str(tmp_path / "r")


def test_file_values_are_used(tmp_path):
    f = tmp_path / "daemon.json"
    f.write_text(json.dumps({"data-root": str(tmp_path / "d"), "log-level": "debug",
                             "hosts": ["tcp://127.0.0.1:2375"], "labels": ["a=b"]}))
    cfg = config.merge({}, str(f))
    assert cfg.data_root == str(tmp_path / "d") and cfg.log_level == "debug"
    assert cfg.hosts == ["tcp://127.0.0.1:2375"] and cfg.labels == ["a=b"]


def test_unknown_keys_are_errors(tmp_path):
    f = tmp_path / "daemon.json"
    f.write_text(json.dumps({"data-rot": "/x", "zzz": 1}))
    with pytest.raises(InvalidArgument, match="don't match any configuration option: "
                                              "data-rot, zzz"):
        config.merge({}, str(f))


def test_flag_and_file_naming_one_setting_is_an_error(tmp_path):
    f = tmp_path / "daemon.json"
    f.write_text(json.dumps({"data-root": "/file"}))
    with pytest.raises(InvalidArgument, match=r"data-root: \(from flag: /flag, from file: "
                                              r"/file\)"):
        config.merge({"data_root": "/flag"}, str(f))


@pytest.mark.parametrize("text", ["{", "[]", json.dumps({"debug": "yes"}),
                                  json.dumps({"hosts": "unix:///x"}),
                                  json.dumps({"insecure-registries": ["10.0.0.0/99"]}),
                                  json.dumps({"log-level": "chatty"}),
                                  json.dumps({"labels": ["nolabel"]})])
def test_bad_files_are_invalid_argument(tmp_path, text):
    f = tmp_path / "daemon.json"
    f.write_text(text)
    with pytest.raises(InvalidArgument):
        config.merge({}, str(f))


def test_debug_means_debug_logging(tmp_path):
    assert config.merge({"debug": True}, str(tmp_path / "x.json")).log_level == "debug"


@pytest.mark.parametrize(("text", "parsed"), [
    ("unix:///run/x.sock", ("unix", "/run/x.sock")), ("/run/y.sock", ("unix", "/run/y.sock")),
    ("tcp://0.0.0.0:2375", ("tcp", "0.0.0.0:2375")), ("tcp://:2376", ("tcp", "127.0.0.1:2376")),
])
def test_parse_host(text, parsed):
    assert config.parse_host(text) == parsed


@pytest.mark.parametrize("bad", ["ftp://x", "unix://relative", "tcp://host", "tcp://h:99999",
                                 "host:1"])
def test_parse_host_rejects(bad):
    with pytest.raises(InvalidArgument):
        config.parse_host(bad)


def test_tls_settings(tmp_path):
    none = str(tmp_path / "x.json")
    cfg = config.merge({"tlsverify": True, "tlscacert": "ca", "tlscert": "c", "tlskey": "k"},
                       none)
    assert cfg.tls and cfg.tlsverify
    with pytest.raises(InvalidArgument, match="tlscacert"):
        config.merge({"tlsverify": True, "tlscert": "c", "tlskey": "k"}, none)
    with pytest.raises(InvalidArgument, match="tlscert and --tlskey"):
        config.merge({"tls": True, "tlscert": "c"}, none)
    f = tmp_path / "daemon.json"
    f.write_text(json.dumps({"tls": True, "tlscert": "c", "tlskey": "k"}))
    assert config.merge({}, str(f)).tls
