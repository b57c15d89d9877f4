"""Content digests (``sha256:<hex>``, ``sha512:<hex>``): parsing and hashing.

Why a module of its own: every room that moves content (images, registry,
build) must agree on what a valid digest is, and must never build a path from an
unchecked one.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from dockyard.errors import InvalidArgument

_ALGORITHMS = {"sha256": 64, "sha512": 128}
_DIGEST_RE = re.compile(r"^([a-z0-9]+(?:[.+_-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$")


@dataclass(frozen=True, order=True)
class Digest:
    algorithm: str
    hex: str

    @classmethod
    def parse(cls, text: str) -> Digest:
        """Parse and validate; raise InvalidArgument naming what is wrong."""
        m = _DIGEST_RE.match(text or "")
        if not m:
            raise InvalidArgument(f"invalid digest {text!r}: expected ALGORITHM:HEX")
        algorithm, value = m.group(1), m.group(2)
        if algorithm not in _ALGORITHMS:
            raise InvalidArgument(f"unsupported digest algorithm {algorithm!r} in {text!r}")
        if len(value) != _ALGORITHMS[algorithm] or not re.fullmatch(r"[0-9a-f]+", value):
            raise InvalidArgument(
                f"invalid digest {text!r}: {algorithm} wants {_ALGORITHMS[algorithm]} "
                "lowercase hex digits")
        return cls(algorithm, value)

    @classmethod
    def of_bytes(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())

    def hasher(self):
        return hashlib.new(self.algorithm)

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    @property
    def encoded(self) -> str:
        return self.hex


__all__ = ["Digest"]
