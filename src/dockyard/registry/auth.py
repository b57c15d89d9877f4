"""Registry authentication as pure logic: challenges in, requests to make out.

The client asks :meth:`Authenticator.headers` before each request, and on a 401
hands the ``WWW-Authenticate`` header to :meth:`Authenticator.challenge`, which
says what to do next: retry with Basic, fetch a token (a :class:`TokenRequest`
the caller performs, then gives to :meth:`Authenticator.token_response`), or give
up. No I/O here, so a sync or an async caller can drive it (STYLE section 9).

Tokens are cached per (realm, service, scope) until they expire.
"""

from __future__ import annotations

import base64
import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

from dockyard.errors import Unauthorized
from dockyard.registry.credentials import Credential

_PARAM_RE = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?')


@dataclass(frozen=True)
class Challenge:
    scheme: str                 # lower-case: "bearer", "basic"
    params: dict[str, str] = field(default_factory=dict, hash=False)


def parse_www_authenticate(header: str) -> list[Challenge]:
    """Parse one ``WWW-Authenticate`` value into its challenges (usually one)."""
    out: list[Challenge] = []
    rest = header.strip()
    while rest:
        m = re.match(r"([A-Za-z][A-Za-z0-9_-]*)\s*", rest)
        if not m:
            break
        scheme = m.group(1).lower()
        rest = rest[m.end():]
        params: dict[str, str] = {}
        while rest:
            pm = _PARAM_RE.match(rest)
            if not pm or (pm.group(2) is None and pm.group(3) is None):
                break
            # A bare word followed by a space (not '=') starts the next challenge.
            value = pm.group(2) if pm.group(2) is not None else pm.group(3)
            params[pm.group(1).lower()] = re.sub(r"\\(.)", r"\1", value)
            rest = rest[pm.end():]
        out.append(Challenge(scheme, params))
        rest = rest.lstrip(", ")
    return out


@dataclass(frozen=True)
class TokenRequest:
    """GET ``url`` (with ``headers``); hand the JSON body to ``token_response``."""

    url: str
    headers: dict[str, str]
    key: tuple[str, str, str]


def basic_header(cred: Credential) -> str:
    return "Basic " + base64.b64encode(f"{cred.username}:{cred.secret}".encode()).decode()


class Authenticator:
    """Auth state for one registry host."""

    def __init__(self, credential: Credential | None) -> None:
        self.credential = credential
        self._tokens: dict[tuple[str, str, str], tuple[str, float]] = {}
        self._bearer: dict[str, tuple[str, str]] = {}  # scope -> realm, service
        self._basic = False

    def headers(self, scope: str | None) -> dict[str, str]:
        """Authorization to send up front (what an earlier challenge taught us)."""
        if self._basic and self.credential:
            return {"Authorization": basic_header(self.credential)}
        realm_service = self._bearer.get(scope or "") or self._bearer.get("*")
        if realm_service:
            tok = self._tokens.get((*realm_service, scope or ""))
            if tok and tok[1] > time.monotonic():
                return {"Authorization": f"Bearer {tok[0]}"}
        return {}

    def challenge(self, header: str | None, scope: str | None,
                  sent: str | None = None) -> TokenRequest | str:
        """React to a 401 for a request that carried Authorization ``sent``.

        Returns a TokenRequest to perform, or ``"retry"`` when the next attempt
        will carry better credentials; raises Unauthorized when what we have was
        already tried. (Knowing what was sent keeps parallel requests, which all
        meet the first 401 together, from mistaking each other's retry for a
        rejection.)"""
        challenges = parse_www_authenticate(header or "")
        for ch in challenges:
            if ch.scheme == "bearer" and ch.params.get("realm"):
                realm = ch.params["realm"]
                service = ch.params.get("service", "")
                wanted = scope or ch.params.get("scope", "")
                key = (realm, service, wanted)
                cached = self._tokens.get(key)
                if cached and cached[1] > time.monotonic():
                    if sent != f"Bearer {cached[0]}":
                        self._bearer[scope or ""] = (realm, service)
                        return "retry"
                    raise Unauthorized(self._denied())
                self._bearer[scope or ""] = (realm, service)
                # One ``scope`` parameter per scope, as docker sends them.
                query = [("service", service)] if service else []
                query += [("scope", s) for s in wanted.split()]
                hdrs = {"Authorization": basic_header(self.credential)} if self.credential else {}
                sep = "&" if "?" in realm else "?"
                url = realm + (sep + urlencode(query) if query else "")
                return TokenRequest(url, hdrs, key)
            if ch.scheme == "basic":
                if self.credential is None or sent == basic_header(self.credential):
                    raise Unauthorized(self._denied())
                self._basic = True
                return "retry"
        raise Unauthorized(self._denied())

    def token_response(self, req: TokenRequest, status: int, body: object) -> None:
        if status in (401, 403):
            raise Unauthorized(f"{self._denied()} (token server said {status})")
        if status != 200 or not isinstance(body, dict):
            raise Unauthorized(f"token server {req.url.split('?')[0]} answered {status}")
        token = body.get("token") or body.get("access_token")
        if not isinstance(token, str) or not token:
            raise Unauthorized(f"token server {req.url.split('?')[0]} sent no token")
        ttl = body.get("expires_in")
        ttl = ttl if isinstance(ttl, int) and ttl > 0 else 60
        self._tokens[req.key] = (token, time.monotonic() + max(ttl - 10, 5))

    def _denied(self) -> str:
        if self.credential is None:
            return "authentication required: run 'dockyard login' for this registry"
        return "unauthorized: the registry rejected the stored credentials"


__all__ = ["Authenticator", "Challenge", "TokenRequest", "basic_header",
           "parse_www_authenticate"]
