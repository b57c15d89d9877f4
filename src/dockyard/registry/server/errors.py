"""The distribution spec's error codes, and the one exception the server raises.

Every handler failure becomes ``RegistryError(code, message, detail)``; the app's
middleware turns it into the spec body ``{"errors": [{"code", "message", "detail"}]}``
with the status the code implies (a few codes have more than one status, so the
status can be overridden where the spec says so, e.g. 413 or 416).
"""

from __future__ import annotations

from typing import Any

# code -> default HTTP status (OCI distribution-spec "Error Codes"; distribution's
# choices where the spec leaves the status open).
STATUS: dict[str, int] = {
    "BLOB_UNKNOWN": 404,
    "BLOB_UPLOAD_INVALID": 400,
    "BLOB_UPLOAD_UNKNOWN": 404,
    "DIGEST_INVALID": 400,
    "MANIFEST_BLOB_UNKNOWN": 400,
    "MANIFEST_INVALID": 400,
    "MANIFEST_UNKNOWN": 404,
    "NAME_INVALID": 400,
    "NAME_UNKNOWN": 404,
    "SIZE_INVALID": 400,
    "UNAUTHORIZED": 401,
    "DENIED": 403,
    "UNSUPPORTED": 405,
    "TOOMANYREQUESTS": 429,
    # distribution's extension for a bad ``n`` on tags/list and _catalog.
    "PAGINATION_NUMBER_INVALID": 400,
}

MESSAGES: dict[str, str] = {
    "BLOB_UNKNOWN": "blob unknown to registry",
    "BLOB_UPLOAD_INVALID": "blob upload invalid",
    "BLOB_UPLOAD_UNKNOWN": "blob upload unknown to registry",
    "DIGEST_INVALID": "provided digest did not match uploaded content",
    "MANIFEST_BLOB_UNKNOWN": "manifest references a manifest or blob unknown to registry",
    "MANIFEST_INVALID": "manifest invalid",
    "MANIFEST_UNKNOWN": "manifest unknown to registry",
    "NAME_INVALID": "invalid repository name",
    "NAME_UNKNOWN": "repository name not known to registry",
    "SIZE_INVALID": "provided length did not match content length",
    "UNAUTHORIZED": "authentication required",
    "DENIED": "requested access to the resource is denied",
    "UNSUPPORTED": "the operation is unsupported",
    "TOOMANYREQUESTS": "too many requests",
    "PAGINATION_NUMBER_INVALID": "invalid number of results requested",
}


class RegistryError(Exception):
    """A failure the client sees as one spec error."""

    def __init__(self, code: str, detail: Any = None, *, status: int | None = None,
                 message: str | None = None, headers: dict[str, str] | None = None) -> None:
        if code not in STATUS:
            raise ValueError(f"unknown registry error code {code}")
        self.code = code
        self.status = status if status is not None else STATUS[code]
        self.message = message or MESSAGES[code]
        self.detail = detail
        self.headers = headers or {}
        super().__init__(f"{code}: {self.message}" + (f" ({detail})" if detail else ""))

    def body(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.detail is not None:
            entry["detail"] = self.detail
        return {"errors": [entry]}


__all__ = ["MESSAGES", "STATUS", "RegistryError"]
