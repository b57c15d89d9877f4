"""The registry commands as ``dockyard`` parses them (through cli.main's table)."""

from __future__ import annotations

import json

from dockyard.cli.main import main


def test_every_registry_word_is_in_the_command_table(capsys):
    from dockyard.cli.main import COMMANDS
    for word in ("pull", "push", "login", "logout", "manifest", "registry"):
        assert COMMANDS[word][0] == "dockyard.cli.commands.registry"
    try:
        main(["registry", "--help"])
    except SystemExit as e:
        assert e.code == 0
    assert "serve" in capsys.readouterr().out


def test_tls_flags_go_together(tmp_path, capsys):
    rc = main(["--data-root", str(tmp_path), "registry", "serve", "--tls-cert", "x.pem"])
    assert rc == 2 and "go together" in capsys.readouterr().err


def test_push_refuses_a_digest_reference(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DOCKYARD_DAEMON_CONFIG", str(tmp_path / "none.json"))
    rc = main(["--data-root", str(tmp_path), "push", "127.0.0.1:1/x@sha256:" + "a" * 64])
    assert rc == 1 and "not a digest" in capsys.readouterr().err


def test_bad_reference_and_platform_are_clear_errors(tmp_path, capsys):
    assert main(["--data-root", str(tmp_path), "pull", "UPPER/Case"]) == 1
    assert "invalid reference" in capsys.readouterr().err
    assert main(["--data-root", str(tmp_path), "pull", "--platform", "linux", "x"]) == 1
    assert "invalid platform" in capsys.readouterr().err


def test_gc_on_an_empty_storage(tmp_path, capsys):
    assert main(["--data-root", str(tmp_path), "registry", "gc"]) == 0
    assert "removed 0 blobs" in capsys.readouterr().out
    assert (tmp_path / "registry" / "content").is_dir()


def test_logout_when_not_logged_in(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps({"auths": {}}))
    assert main(["logout", "127.0.0.1:5000"]) == 0
    assert "Not logged in" in capsys.readouterr().out
