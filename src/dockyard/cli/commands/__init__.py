"""One module per command group; see dockyard.cli.main.COMMANDS."""
