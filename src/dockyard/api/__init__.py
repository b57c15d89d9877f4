"""The Docker Engine API over the daemon's backend: one thin module per resource.

``make_app(backend)`` (app.py) builds the aiohttp application; errors.py holds
the one table from dockyard's error kinds to Docker's status codes.
"""
