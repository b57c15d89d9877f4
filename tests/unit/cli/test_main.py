"""The command table routes words, loads modules lazily and maps errors to exit codes."""

from __future__ import annotations

import sys

from dockyard.cli import main


def test_help_lists_every_command(capsys):
    assert main.main(["--help"]) == 0
    out = capsys.readouterr().out
    for word in main.COMMANDS:
        assert word in out


def test_unknown_command_is_a_usage_error(capsys):
    assert main.main(["frobnicate"]) == main.EXIT_USAGE
    assert "not a dockyard command" in capsys.readouterr().err


def test_unknown_global_option(capsys):
    assert main.main(["--nope", "images"]) == main.EXIT_USAGE


def test_missing_command_module_is_reported(monkeypatch, capsys):
    monkeypatch.setitem(main.COMMANDS, "zzz", ("dockyard.cli.commands.zzz_missing", "x"))
    assert main.main(["zzz"]) == main.EXIT_UNAVAILABLE
    assert "not available" in capsys.readouterr().err


def test_engine_errors_become_exit_1(tmp_path, capsys):
    assert main.main(["--data-root", str(tmp_path), "image", "inspect", "nothere"]) == 1
    assert "No such image: nothere" in capsys.readouterr().err
    assert main.main(["--data-root", str(tmp_path), "tag", "Bad Name", "x"]) == 1


def test_images_on_an_empty_root(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DOCKYARD_ROOT", str(tmp_path))
    assert main.main(["images"]) == 0
    assert capsys.readouterr().out.split() == ["REPOSITORY", "TAG", "IMAGE", "ID",
                                               "CREATED", "SIZE"]
    assert (tmp_path / "image" / "metadata.db").exists()


def test_image_commands_do_not_import_heavy_modules(tmp_path):
    import subprocess

    code = ("import sys; from dockyard.cli import main; "
            f"main.main(['--data-root', {str(tmp_path)!r}, 'images', '-q']); "
            "bad = [m for m in ('jsonschema', 'aiohttp', 'rich') if m in sys.modules]; "
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr
