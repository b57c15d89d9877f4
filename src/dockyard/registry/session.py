"""Opening a client for a reference: settings, credentials, the HTTP session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from dockyard.registry.client import RegistryClient, new_session
from dockyard.registry.config import RegistryConfig
from dockyard.registry.credentials import CredentialStore


@asynccontextmanager
async def open_client(domain: str, *, for_push: bool = False,
                      config: RegistryConfig | None = None,
                      credentials: CredentialStore | None = None
                      ) -> AsyncIterator[RegistryClient]:
    config = config or RegistryConfig.load()
    cred = (credentials or CredentialStore()).get(domain)
    async with new_session() as session:
        yield RegistryClient(domain, session, config=config, credential=cred,
                             for_push=for_push)


__all__ = ["open_client"]
