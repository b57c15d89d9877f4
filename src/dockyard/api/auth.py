"""``POST /auth``: check credentials against a registry (what ``docker login`` asks).

The daemon does not store credentials (clients keep them and send
``X-Registry-Auth`` with each pull/push); it only says whether the registry
accepts them.
"""

from __future__ import annotations

from aiohttp import web

from dockyard.api.app import Route, backend_of, json_response
from dockyard.api.params import parse_json_body
from dockyard.errors import InvalidArgument


def registry_domain(server: str | None) -> str:
    """``https://index.docker.io/v1/`` -> docker.io; ``http://host:5000/x`` -> host:5000."""
    if not server:
        return "docker.io"
    s = server.strip()
    for prefix in ("https://", "http://"):
        s = s.removeprefix(prefix)
    s = s.split("/", 1)[0]
    if s in ("index.docker.io", "registry-1.docker.io", "docker.io", ""):
        return "docker.io"
    return s


async def auth(request: web.Request) -> web.Response:
    from dockyard.registry.credentials import Credential
    from dockyard.registry.login import check_login

    backend = backend_of(request)
    doc = parse_json_body(await request.read(), "auth config")
    if not isinstance(doc, dict):
        raise InvalidArgument("auth config must be a JSON object")
    user = doc.get("username") or ""
    secret = doc.get("password") or ""
    token = doc.get("identitytoken") or ""
    if token:
        cred = Credential("<token>", token)
    elif user and secret:
        cred = Credential(user, secret)
    else:
        raise InvalidArgument("username and password are required")
    domain = registry_domain(doc.get("serveraddress"))
    await check_login(domain, cred, backend.registry_config)
    return json_response({"Status": "Login Succeeded", "IdentityToken": ""})


ROUTES: list[Route] = [("POST", "/auth", auth)]

__all__ = ["ROUTES", "registry_domain"]
