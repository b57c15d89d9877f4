"""The daemon: ``dockyardd`` (main.py), its settings (config.py), serving (server.py)
and the backend the API handlers call (backend.py, transfer.py, events.py)."""
