"""Global options before the command: -H/--host, --version, and dispatch modules."""

from __future__ import annotations

from dockyard.cli import main


def test_host_forms():
    for argv in (["-H", "tcp://h:1", "ps"], ["--host", "tcp://h:1", "ps"],
                 ["--host=tcp://h:1", "ps"], ["-Htcp://h:1", "ps"]):
        g, rest = main._split_globals(argv)
        assert g.host == "tcp://h:1" and rest == ["ps"]


def test_version_flag(capsys):
    assert main.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("dockyard version ")


def test_container_words_are_in_the_table():
    for word in ("run", "create", "ps", "rm", "exec", "logs", "inspect", "volume",
                 "network", "system", "info", "version", "events", "container"):
        assert word in main.COMMANDS


def test_unreachable_host_is_reported(tmp_path, capsys):
    assert main.main(["-H", f"unix://{tmp_path}/none.sock", "ps"]) == 1
    assert "Cannot connect to the dockyard daemon at unix://" in capsys.readouterr().err


def test_command_help_exits_0(capsys):
    assert main.main(["run", "--help"]) == 0
    out = capsys.readouterr().out
    assert "Usage:  dockyard run [OPTIONS] IMAGE [COMMAND] [ARG...]" in out
    assert "--publish list" in out


def test_tls_options(monkeypatch, tmp_path):
    g, rest = main._split_globals(["--tlsverify", "--tlscacert", "/ca.pem",
                                   "--tlscert=/c.pem", "--tlskey", "/k.pem", "-H",
                                   "tcp://h:2376", "ps"])
    assert g.tls == {"verify": True, "ca": "/ca.pem", "cert": "/c.pem", "key": "/k.pem"}
    assert rest == ["ps"]
    from dockyard.cli.client import TLSOptions

    (tmp_path / "ca.pem").write_text("x")
    monkeypatch.setenv("DOCKYARD_CERT_PATH", str(tmp_path))
    opts = TLSOptions(tls=True)
    assert opts.enabled and not opts.verify
    assert opts.ca == str(tmp_path / "ca.pem") and opts.cert == "" and opts.key == ""
    assert TLSOptions.from_env() is None
    monkeypatch.setenv("DOCKYARD_TLS_VERIFY", "1")
    assert TLSOptions.from_env().verify
