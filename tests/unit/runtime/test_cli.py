"""Argument parsing of ``dockyard-runtime`` (runc's command line) and signal names."""

from __future__ import annotations

import json
import signal

import pytest

from dockyard.errors import InvalidArgument
from dockyard.runtime import cli
from dockyard.runtime.container.kill import parse_signal


def _parse(*argv: str):
    return cli.parse_args(list(argv))


def test_containerd_style_create():
    a = _parse("--root", "/run/x", "--log", "/l.json", "--log-format", "json",
               "--systemd-cgroup", "create", "--bundle", "/b", "--pid-file", "/p",
               "--console-socket", "/s", "--no-pivot", "--no-new-keyring", "cid")
    assert (a.root, a.log, a.log_format, a.systemd_cgroup) == ("/run/x", "/l.json", "json",
                                                              True)
    assert (a.bundle, a.pid_file, a.console_socket, a.no_pivot, a.id) == \
        ("/b", "/p", "/s", True, "cid")
    assert a.fn is cli.cmd_create


def test_defaults_and_short_options():
    a = _parse("run", "-d", "-b", "/b", "cid")
    assert a.root == "/run/dockyard-runtime" and a.detach and a.bundle == "/b"
    a = _parse("delete", "-f", "a", "b")
    assert a.force and a.ids == ["a", "b"]
    a = _parse("kill", "--all", "cid", "KILL")
    assert a.all and a.signal == "KILL"
    assert _parse("kill", "cid").signal is None  # SIGTERM when absent
    a = _parse("list", "-f", "json", "-q")
    assert a.format == "json" and a.quiet
    a = _parse("exec", "-t", "-e", "A=1", "-e", "B=2", "--cwd", "/x", "-u", "1:2",
               "--cap", "CAP_KILL", "cid", "sh", "-c", "echo -n hi")
    assert a.tty and a.env == ["A=1", "B=2"] and a.user == "1:2" and a.cap == ["CAP_KILL"]
    assert a.command == ["sh", "-c", "echo -n hi"]
    a = _parse("update", "--resources", "-", "cid")
    assert a.resources == "-"
    a = _parse("ps", "-f", "json", "cid")
    assert a.format == "json"


def test_options_with_equals_and_double_dash():
    a = _parse("--root=/r", "create", "--bundle=/b", "--", "cid")
    assert a.root == "/r" and a.bundle == "/b" and a.id == "cid"
    a = _parse("exec", "cid", "ls", "-l", "--cwd", "/x")
    assert a.command == ["ls", "-l", "--cwd", "/x"] and a.cwd is None


@pytest.mark.parametrize("argv", [
    ["create"], ["create", "--bogus", "x"], ["--root"], ["list", "-f", "yaml"],
    ["state", "a", "b"], ["update", "--memory", "lots", "x"], [],
])
def test_usage_errors_exit_2(argv, capsys):
    assert cli.main(argv) == 2
    assert "dockyard-runtime:" in capsys.readouterr().err


def test_help(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "create" in out and "--root" in out
    with pytest.raises(SystemExit):
        cli.main(["exec", "--help"])
    assert "--console-socket" in capsys.readouterr().out


def test_unknown_command_is_an_error(capsys):
    assert cli.main(["bogus"]) == 2


def test_errors_map_to_exit_1_and_json_log(tmp_path, capsys):
    log = tmp_path / "log"
    code = cli.main(["--root", str(tmp_path / "root"), "--log", str(log), "--log-format",
                     "json", "state", "missing"])
    assert code == 1
    record = json.loads(log.read_text())
    assert record["level"] == "error" and "does not exist" in record["msg"]
    assert "does not exist" in capsys.readouterr().err


def test_spec_and_features(tmp_path, capsys):
    assert cli.main(["spec", "--bundle", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "config.json").read_text())["process"]["args"] == ["sh"]
    assert cli.main(["spec", "--bundle", str(tmp_path)]) == 1  # exists: refused
    capsys.readouterr()
    assert cli.main(["features"]) == 0
    feats = json.loads(capsys.readouterr().out)
    assert "time" in feats["linux"]["namespaces"]
    assert "poststop" in feats["hooks"]


@pytest.mark.parametrize(("text", "num"), [
    ("9", 9), ("KILL", 9), ("SIGKILL", 9), ("sigterm", 15), ("hup", 1),
    ("SIGRTMIN+1", int(signal.SIGRTMIN) + 1), ("RTMAX-2", int(signal.SIGRTMAX) - 2),
])
def test_signal_parsing(text, num):
    assert parse_signal(text) == num


@pytest.mark.parametrize("text", ["0", "999", "NOPE", "SIGRTMIN+99", ""])
def test_bad_signals(text):
    with pytest.raises(InvalidArgument):
        parse_signal(text)


def test_cli_import_stays_small():
    """The hot path imports argparse/json/os/sys only; verbs load lazily."""
    import subprocess
    import sys

    code = ("import sys, dockyard.runtime.cli; "
            "bad = [m for m in ('dataclasses', 'jsonschema', 'subprocess', 'ctypes', 'argparse', "
            "'dockyard.runtime.container.create', 'typing') if m in sys.modules]; "
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == ""
