"""Fixtures for the CLI interop tests: the integration tests' private dockyardd."""

from tests.integration.cli.clid import cli, cli_daemon

__all__ = ["cli", "cli_daemon"]
