"""Image references: ``[domain/]path[:tag][@digest]``, Docker's way.

Why a module of its own: the CLI, the image store and the registry client must
agree on one normal form, or ``busybox``, ``library/busybox`` and
``docker.io/library/busybox:latest`` would be three different images.

Normalisation (as the Docker CLI does it):

* the first ``/``-separated component is a registry domain only if it contains
  ``.`` or ``:``, is ``localhost``, or has an upper-case letter; otherwise the
  domain is ``docker.io``;
* ``index.docker.io`` is spelled ``docker.io``;
* a one-component path on ``docker.io`` gets ``library/``;
* :meth:`Reference.familiar` undoes the last two for display (``busybox:latest``).

The tag is optional here; :meth:`Reference.with_default_tag` adds ``latest``
only when neither a tag nor a digest was given, as ``docker pull`` does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from dockyard.errors import InvalidArgument
from dockyard.image.digest import Digest

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"
# The hostname Docker's client talks to for docker.io.
DEFAULT_REGISTRY_HOST = "registry-1.docker.io"

NAME_TOTAL_LENGTH_MAX = 255

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_NAME_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_HOST = rf"(?:{_DOMAIN_NAME_COMPONENT}(?:\.{_DOMAIN_NAME_COMPONENT})*|{_IPV6})"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"

_PATH_COMPONENT_RE = re.compile(rf"^{_PATH_COMPONENT}$")
_DOMAIN_RE = re.compile(rf"^{_DOMAIN}$")
_TAG_RE = re.compile(rf"^{_TAG}$")
_HEX64_RE = re.compile(r"^[a-f0-9]{64}$")


@dataclass(frozen=True)
class Reference:
    """A normalised image reference. ``domain`` and ``path`` are always set;
    ``tag`` and ``digest`` may each be ``None``."""

    domain: str
    path: str
    tag: str | None = None
    digest: Digest | None = None

    @property
    def name(self) -> str:
        """The fully qualified repository, e.g. ``docker.io/library/busybox``."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """The repository as Docker shows it, e.g. ``busybox`` or ``me/app``."""
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        if self.path.startswith(OFFICIAL_REPO_PREFIX) and self.path.count("/") == 1:
            return self.path[len(OFFICIAL_REPO_PREFIX):]
        return self.path

    @property
    def registry_host(self) -> str:
        """Host[:port] to contact for this repository (docker.io's real host)."""
        return DEFAULT_REGISTRY_HOST if self.domain == DEFAULT_DOMAIN else self.domain

    def __str__(self) -> str:
        return self._render(self.name)

    def familiar(self) -> str:
        """The whole reference in Docker's short display form."""
        return self._render(self.familiar_name)

    def _render(self, name: str) -> str:
        out = name
        if self.tag is not None:
            out += f":{self.tag}"
        if self.digest is not None:
            out += f"@{self.digest}"
        return out

    def with_default_tag(self) -> Reference:
        """Add ``:latest`` when neither tag nor digest is given."""
        if self.tag is None and self.digest is None:
            return replace(self, tag=DEFAULT_TAG)
        return self

    def with_tag(self, tag: str) -> Reference:
        _check_tag(tag, tag)
        return replace(self, tag=tag, digest=None)

    def with_digest(self, digest: Digest) -> Reference:
        return replace(self, tag=None, digest=digest)

    def repository(self) -> Reference:
        """Only the name: no tag, no digest."""
        return replace(self, tag=None, digest=None)

    @property
    def tagged(self) -> str | None:
        """``name:tag`` when a tag is present (the key the image store files tags under)."""
        return f"{self.name}:{self.tag}" if self.tag is not None else None

    @property
    def canonical(self) -> str | None:
        """``name@digest`` when a digest is present."""
        return f"{self.name}@{self.digest}" if self.digest is not None else None


def parse(text: str) -> Reference:
    """Parse and normalise a reference as users type them (``busybox``,
    ``me/app:1``, ``localhost:5000/x@sha256:...``).

    Raises InvalidArgument naming what is wrong."""
    if not isinstance(text, str) or not text:
        raise InvalidArgument("invalid reference format: empty reference")
    if _HEX64_RE.match(text):
        raise InvalidArgument(
            f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings")
    if text != text.strip() or any(c.isspace() for c in text):
        raise InvalidArgument(f"invalid reference format: {text!r} contains whitespace")

    rest, digest = text, None
    if "@" in rest:
        rest, _, digest_text = rest.partition("@")
        if "@" in digest_text:
            raise InvalidArgument(f"invalid reference format: {text!r} has two '@'")
        try:
            digest = Digest.parse(digest_text)
        except InvalidArgument as e:
            raise InvalidArgument(f"invalid reference format {text!r}: {e.message}") from None

    tag = None
    # A ':' after the last '/' is a tag; one before it belongs to a domain port.
    last_slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > last_slash:
        rest, tag = rest[:colon], rest[colon + 1:]
        _check_tag(tag, text)

    domain, path = split_domain(rest, text)
    return Reference(domain, path, tag, digest)


def parse_repository(text: str) -> Reference:
    """Parse a repository name that must carry neither tag nor digest (``images REPO``)."""
    ref = parse(text)
    if ref.tag is not None or ref.digest is not None:
        raise InvalidArgument(f"{text!r}: expected a repository name without tag or digest")
    return ref


def split_domain(name: str, original: str | None = None) -> tuple[str, str]:
    """Split a repository name into (domain, path) with docker.io defaults."""
    original = original if original is not None else name
    if not name:
        raise InvalidArgument(f"invalid reference format {original!r}: empty repository name")
    first, sep, remainder = name.partition("/")
    if sep and (("." in first) or (":" in first) or first == "localhost"
                or first.lower() != first):
        domain, path = first, remainder
        if not _DOMAIN_RE.match(domain):
            raise InvalidArgument(f"invalid reference format {original!r}: "
                                  f"bad registry domain {domain!r}")
    else:
        domain, path = DEFAULT_DOMAIN, name
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = OFFICIAL_REPO_PREFIX + path
    _check_path(path, original)
    if len(domain) + 1 + len(path) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidArgument(f"invalid reference format {original!r}: repository name "
                              f"must not be longer than {NAME_TOTAL_LENGTH_MAX} characters")
    return domain, path


def _check_path(path: str, original: str) -> None:
    for component in path.split("/"):
        if _PATH_COMPONENT_RE.match(component):
            continue
        if component and component.lower() != component and \
                _PATH_COMPONENT_RE.match(component.lower()):
            raise InvalidArgument(
                f"invalid reference format {original!r}: repository name must be lowercase")
        raise InvalidArgument(
            f"invalid reference format {original!r}: bad repository name component "
            f"{component!r} (lowercase letters, digits and single separators '.', '_', "
            "'__', '-' only)")


def _check_tag(tag: str, original: str) -> None:
    if not _TAG_RE.match(tag):
        raise InvalidArgument(
            f"invalid reference format {original!r}: bad tag {tag!r} (up to 128 of "
            "letters, digits, '_', '.', '-'; not starting with '.' or '-')")


def is_image_id_prefix(text: str) -> bool:
    """True for something that may be a (short) image id: hex, optionally ``sha256:``."""
    body = text[len("sha256:"):] if text.startswith("sha256:") else text
    return 1 <= len(body) <= 64 and re.fullmatch(r"[a-f0-9]+", body) is not None


__all__ = [
    "DEFAULT_DOMAIN",
    "DEFAULT_REGISTRY_HOST",
    "DEFAULT_TAG",
    "Reference",
    "is_image_id_prefix",
    "parse",
    "parse_repository",
    "split_domain",
]
