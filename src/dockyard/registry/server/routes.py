"""Split a ``/v2/...`` path into (endpoint, repository name, argument), without I/O.

Repository names contain slashes, so a router can't use fixed segments: the
endpoint is found from the right (``.../manifests/<ref>``, ``.../blobs/uploads/<id>``,
...) and what precedes it is the name, validated against the spec's grammar.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dockyard.registry.server.errors import RegistryError

NAME_MAX = 255
_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
NAME_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
TAG_RE = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")
UPLOAD_ID_RE = re.compile(r"^[a-f0-9]{32}$")

_SUFFIXES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("blob_upload", re.compile(r"^(?P<name>.+)/blobs/uploads/(?P<arg>[^/]+)$")),
    ("blob_uploads", re.compile(r"^(?P<name>.+)/blobs/uploads/?$")),
    ("blob", re.compile(r"^(?P<name>.+)/blobs/(?P<arg>[^/]+)$")),
    ("manifest", re.compile(r"^(?P<name>.+)/manifests/(?P<arg>[^/]+)$")),
    ("tags", re.compile(r"^(?P<name>.+)/tags/list$")),
    ("referrers", re.compile(r"^(?P<name>.+)/referrers/(?P<arg>[^/]+)$")),
)


@dataclass(frozen=True)
class Route:
    # base, catalog, blob, blob_uploads, blob_upload, manifest, tags or referrers
    endpoint: str
    name: str = ""
    arg: str = ""


def check_name(name: str) -> str:
    if len(name) > NAME_MAX or not NAME_RE.match(name):
        raise RegistryError("NAME_INVALID", {"name": name[:300]})
    return name


def parse_path(path: str) -> Route | None:
    """Route for ``path`` (which starts with ``/v2``), or None when nothing matches."""
    if path in ("/v2", "/v2/"):
        return Route("base")
    if not path.startswith("/v2/"):
        return None
    rest = path[len("/v2/"):]
    if rest == "_catalog":
        return Route("catalog")
    for endpoint, pattern in _SUFFIXES:
        m = pattern.match(rest)
        if m:
            return Route(endpoint, check_name(m.group("name")), m.groupdict().get("arg") or "")
    return None


def is_tag(reference: str) -> bool:
    return TAG_RE.match(reference) is not None


__all__ = ["NAME_RE", "TAG_RE", "Route", "check_name", "is_tag", "parse_path"]
