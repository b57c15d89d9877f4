"""The one exception tree every dockyard room raises.

A closed set of kinds, in the spirit of containerd's errdefs. Rooms raise these;
the API maps each kind to an HTTP status once (``api/errors.py``), the CLIs map
them to exit codes once. Lower-library errors (OSError, JSON, HTTP) are translated
where they are caught, with the cause chained, never leaked raw across a room.

    DockyardError
    ├── NotFound            no such container / image / blob / network ...   (404)
    ├── Conflict            name or id in use, wrong state for the operation (409)
    ├── InvalidArgument     the caller's input is wrong (bad JSON, bad path)  (400)
    │   └── UnsafeContent   a tar / path that would escape its root          (400)
    ├── NotModified         already in the asked-for state                    (304)
    ├── Unauthorized        credentials missing or rejected                   (401)
    ├── Forbidden           authenticated but not allowed                     (403)
    ├── Unavailable         a dependency is not there (kernel feature, peer)  (503)
    ├── DigestMismatch      content does not match its digest or size         (400)
    └── SystemError_        the machine failed us (a syscall, the disk)       (500)
"""

from __future__ import annotations


class DockyardError(Exception):
    """Base of every error dockyard raises on purpose."""

    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DockyardError):
    status = 404


class Conflict(DockyardError):
    status = 409


class InvalidArgument(DockyardError):
    status = 400


class UnsafeContent(InvalidArgument):
    """Content (a tar entry, a path, a link) that would reach outside its root."""


class NotModified(DockyardError):
    status = 304


class Unauthorized(DockyardError):
    status = 401


class Forbidden(DockyardError):
    status = 403


class Unavailable(DockyardError):
    status = 503


class DigestMismatch(DockyardError):
    status = 400


class SystemError_(DockyardError):
    status = 500


__all__ = [
    "Conflict",
    "DigestMismatch",
    "DockyardError",
    "Forbidden",
    "InvalidArgument",
    "NotFound",
    "NotModified",
    "SystemError_",
    "Unauthorized",
    "Unavailable",
    "UnsafeContent",
]
