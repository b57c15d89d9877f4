"""Who may talk to the registry server: nobody checked, Basic with a bcrypt
htpasswd file, or Bearer tokens that this server issues itself.

Token mode is what docker's client expects from a Docker Hub-like registry: a
401 with ``WWW-Authenticate: Bearer realm=".../token",service=...,scope=...``, a
GET on the realm with Basic credentials, and a JSON ``{"token": ...}`` back. Our
tokens are HMAC-signed (key made at start-up), carry the user, the granted
scopes and an expiry; nothing else needs to read them.

Pure logic (no aiohttp here): the app asks :meth:`Authorizer.check` with the
request's Authorization header and the scope it needs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import bcrypt

from dockyard.errors import InvalidArgument
from dockyard.registry.server.errors import RegistryError


def load_htpasswd(path: str | Path) -> dict[str, bytes]:
    """``user:$2y$...`` lines -> {user: hash}; only bcrypt entries are accepted
    (as distribution does), anything else is refused with the line number."""
    users: dict[str, bytes] = {}
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, hashed = line.partition(":")
        if not sep or not user:
            raise InvalidArgument(f"{path}:{n}: expected USER:HASH")
        if not hashed.startswith(("$2y$", "$2a$", "$2b$")):
            raise InvalidArgument(f"{path}:{n}: only bcrypt hashes are supported "
                                  "(create with htpasswd -B)")
        users[user] = hashed.encode()
    return users


def parse_basic(header: str | None) -> tuple[str, str] | None:
    if not header or header[:6].lower() != "basic ":
        return None
    try:
        raw = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = raw.partition(":")
    return (user, password) if sep else None


@dataclass
class Authorizer:
    """``mode`` is ``none``, ``basic`` or ``token``."""

    mode: str = "none"
    users: dict[str, bytes] | None = None
    realm: str = "dockyard"
    service: str = "dockyard"
    token_ttl: int = 300

    def __post_init__(self) -> None:
        self._key = secrets.token_bytes(32)
        self._verified: dict[str, float] = {}

    def _password_ok(self, user: str, password: str) -> bool:
        # bcrypt is slow on purpose and docker sends Basic on every request:
        # remember a good pair (by a keyed hash) for a minute.
        key = hmac.new(self._key, f"{user}\0{password}".encode(), hashlib.sha256).hexdigest()
        if self._verified.get(key, 0) > time.monotonic():
            return True
        hashed = (self.users or {}).get(user)
        if hashed is None:
            bcrypt.checkpw(b"x", _dummy_hash())  # same cost either way
            return False
        try:
            ok = bcrypt.checkpw(password.encode(), hashed)
        except ValueError:
            return False
        if ok:
            self._verified[key] = time.monotonic() + 60
        return ok

    def check(self, authorization: str | None, scope: str | None, token_realm: str) -> str | None:
        """The user name (``None`` when anonymous is allowed) or RegistryError(UNAUTHORIZED)."""
        if self.mode == "none":
            return None
        if self.mode == "basic":
            creds = parse_basic(authorization)
            if creds and self._password_ok(*creds):
                return creds[0]
            raise RegistryError("UNAUTHORIZED", headers={
                "WWW-Authenticate": f'Basic realm="{self.realm}"'})
        # token
        problem = ""
        if authorization and authorization[:7].lower() == "bearer ":
            claims = self._verify_token(authorization[7:].strip())
            if claims is not None and (scope is None or _granted(claims["access"], scope)):
                return claims["sub"]
            # RFC 6750's error codes, as distribution sends them: clients treat a
            # token that lacks the scope as "denied" and do not retry.
            problem = "invalid_token" if claims is None else "insufficient_scope"
        challenge = f'Bearer realm="{token_realm}",service="{self.service}"'
        if scope:
            challenge += f',scope="{scope}"'
        if problem:
            challenge += f',error="{problem}"'
        raise RegistryError("UNAUTHORIZED", headers={"WWW-Authenticate": challenge})

    # --- the token endpoint's logic -----------------------------------------------
    def issue_token(self, authorization: str | None, scopes: list[str]) -> dict:
        creds = parse_basic(authorization)
        if authorization is None:
            # Anonymous, like Docker Hub: a token that grants nothing. The registry
            # then answers the request itself with 401 UNAUTHORIZED, which clients
            # treat as final (docker retries a failed token fetch with back-off).
            return self._token_doc("", [])
        if creds is None or not self._password_ok(*creds):
            raise RegistryError("UNAUTHORIZED", headers={
                "WWW-Authenticate": f'Basic realm="{self.realm}"'})
        # Every authenticated user may pull and push every repository (as
        # distribution's htpasswd mode); scopes name what the token carries.
        access = []
        for s in scopes:
            parts = s.split(":")
            if len(parts) >= 3 and parts[0] in ("repository", "registry"):
                access.append({"type": parts[0], "name": ":".join(parts[1:-1]),
                               "actions": [a for a in parts[-1].split(",") if a]})
        return self._token_doc(creds[0], access)

    def _token_doc(self, user: str, access: list[dict]) -> dict:
        now = int(time.time())
        claims = {"sub": user, "access": access, "exp": now + self.token_ttl, "iat": now}
        token = self._sign(claims)
        return {"token": token, "access_token": token, "expires_in": self.token_ttl,
                "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))}

    def _sign(self, claims: dict) -> str:
        body = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode())
        sig = base64.urlsafe_b64encode(hmac.new(self._key, body, hashlib.sha256).digest())
        return (body + b"." + sig).decode()

    def _verify_token(self, token: str) -> dict | None:
        body, _, sig = token.encode().partition(b".")
        want = base64.urlsafe_b64encode(hmac.new(self._key, body, hashlib.sha256).digest())
        if not hmac.compare_digest(want, sig):
            return None
        try:
            claims = json.loads(base64.urlsafe_b64decode(body))
        except (ValueError, binascii.Error):
            return None
        if not isinstance(claims, dict) or claims.get("exp", 0) < time.time():
            return None
        return claims


_DUMMY: list[bytes] = []


def _dummy_hash() -> bytes:
    if not _DUMMY:
        _DUMMY.append(bcrypt.hashpw(b"dummy", bcrypt.gensalt(10)))
    return _DUMMY[0]


def _granted(access: list[dict], scope: str) -> bool:
    """Does ``access`` (token claims) cover every action of ``scope``?"""
    parts = scope.split(":")
    typ, name, actions = parts[0], ":".join(parts[1:-1]), parts[-1].split(",")
    for entry in access:
        if entry.get("type") == typ and entry.get("name") == name:
            have = set(entry.get("actions", []))
            if "*" in have or all(a in have for a in actions):
                return True
    return False


__all__ = ["Authorizer", "load_htpasswd", "parse_basic"]
