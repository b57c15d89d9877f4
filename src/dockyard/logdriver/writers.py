"""Pick the writer for a container's log configuration."""

from __future__ import annotations

from dockyard.errors import InvalidArgument


class NullWriter:
    """The ``none`` driver: output still reaches attached clients, nothing is kept."""

    driver = "none"

    def write(self, stream: str, data: bytes, t_ns: int | None = None) -> None:
        pass

    def write_many(self, stream: str, messages: list[bytes], t_ns: int) -> None:
        pass

    def close(self) -> None:
        pass


def open_writer(driver: str, path: str, max_size: int | None = None, max_file: int = 1):
    """A writer with ``write(stream, data, t_ns=None)``, ``write_many(stream, messages,
    t_ns)`` (messages read together: batched writes) and ``close()``."""
    if driver in ("none", ""):
        return NullWriter()
    if driver not in ("json-file", "local"):
        raise InvalidArgument(f'unknown log driver "{driver}" (supported: json-file, '
                              "local, none)")
    if not path:
        raise InvalidArgument(f"log driver {driver!r} needs a log path")
    if driver == "json-file":
        from dockyard.logdriver.jsonfile import JsonFileWriter

        return JsonFileWriter(path, max_size, max_file)
    from dockyard.logdriver.local import LocalWriter

    return LocalWriter(path, max_size, max_file)
