"""dockyard: a container engine in Python.

Rooms (sub-packages) and what each owns are described in docs/architecture.md.
This top-level module stays empty of imports on purpose: the CLI, the shim and the
runtime import only what they need, because interpreter start-up is on every
container's hot path.
"""

__version__ = "0.1.0"
