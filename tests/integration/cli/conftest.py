"""Fixtures for the CLI's integration tests (see clid.py)."""

from tests.integration.cli.clid import cli, cli_daemon

__all__ = ["cli", "cli_daemon"]
