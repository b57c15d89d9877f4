"""``dockyard login`` / ``logout``: check credentials against the registry, then
keep them where docker keeps them (``~/.docker/config.json`` or its helper)."""

from __future__ import annotations

import asyncio
import getpass
import sys

from dockyard.errors import InvalidArgument
from dockyard.registry.client import RegistryClient, new_session
from dockyard.registry.config import RegistryConfig
from dockyard.registry.credentials import Credential, CredentialStore


def _domain(server: str | None) -> str:
    if not server:
        return "docker.io"
    s = server
    for prefix in ("https://", "http://"):
        if s.startswith(prefix):
            s = s[len(prefix):]
    s = s.split("/", 1)[0]
    return "docker.io" if s in ("index.docker.io", "registry-1.docker.io") else s


async def check_login(domain: str, cred: Credential,
                      config: RegistryConfig | None = None) -> None:
    """Raise Unauthorized unless the registry accepts ``cred``."""
    async with new_session() as session:
        client = RegistryClient(domain, session, config=config or RegistryConfig.load(),
                                credential=cred, for_push=True)
        await client.request("GET", "/v2/", None)


def login(server: str | None, cred: Credential, store: CredentialStore | None = None) -> str:
    domain = _domain(server)
    asyncio.run(check_login(domain, cred))
    (store or CredentialStore()).store(domain, cred)
    return domain


def login_cli(server: str | None, username: str | None, password: str | None,
              password_stdin: bool) -> int:
    if password_stdin:
        if password:
            raise InvalidArgument("--password and --password-stdin are mutually exclusive")
        if not username:
            raise InvalidArgument("must provide --username with --password-stdin")
        password = sys.stdin.read().rstrip("\r\n")
    if not username:
        username = input("Username: ").strip()
    if not password:
        password = getpass.getpass("Password: ")
    if not username or not password:
        raise InvalidArgument("username and password are required")
    login(server, Credential(username, password))
    print("Login Succeeded")
    return 0


def logout_cli(server: str | None) -> int:
    domain = _domain(server)
    if CredentialStore().erase(domain):
        print(f"Removing login credentials for {domain}")
    else:
        print(f"Not logged in to {domain}")
    return 0


__all__ = ["check_login", "login", "login_cli", "logout_cli"]
