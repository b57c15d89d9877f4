"""The ONE table from dockyard's error kinds to Docker's status codes and bodies.

Every handler raises :mod:`dockyard.errors` kinds; the middleware in ``app.py``
calls :func:`error_response` once. dockerd answers ``{"message": "..."}`` with the
status of the error's class (``errdefs``), and docker-py / the docker CLI read
both, so we keep its wording. A user's mistake is never a 500: only
``SystemError_`` and errors nobody classified (bugs) are.
"""

from __future__ import annotations

from typing import Any

from dockyard import errors as e

# Most specific first: the first class the error is an instance of wins.
STATUS_BY_KIND: tuple[tuple[type[e.DockyardError], int], ...] = (
    (e.UnsafeContent, 400),
    (e.InvalidArgument, 400),
    (e.DigestMismatch, 400),
    (e.NotFound, 404),
    (e.Conflict, 409),
    (e.NotModified, 304),
    (e.Unauthorized, 401),
    (e.Forbidden, 403),
    (e.Unavailable, 503),
    (e.SystemError_, 500),
)

PAGE_NOT_FOUND = "page not found"


def status_for(err: BaseException) -> int:
    """The HTTP status for ``err``; 500 for anything unclassified."""
    for kind, status in STATUS_BY_KIND:
        if isinstance(err, kind):
            return status
    return 500


def message_for(err: BaseException) -> str:
    if isinstance(err, e.DockyardError):
        return err.message
    return str(err) or type(err).__name__


def error_body(message: str) -> dict[str, Any]:
    """Docker's error body."""
    return {"message": message}


def stream_error(message: str) -> dict[str, Any]:
    """An error in a streamed JSON-message response (headers already sent: the
    status is 200, so the error travels in-band, as dockerd's jsonmessage does)."""
    return {"errorDetail": {"message": message}, "error": message}


__all__ = ["PAGE_NOT_FOUND", "STATUS_BY_KIND", "error_body", "message_for", "status_for",
           "stream_error"]
