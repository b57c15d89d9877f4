"""Pull and push for the daemon: the registry room's client with the caller's
credentials (from ``X-Registry-Auth``) and the daemon's registry settings.

The registry room's ``pull``/``push`` read credentials from the daemon user's
``~/.docker/config.json``; a daemon must use the client's instead (dockerd does),
so this adapter opens the client itself and drives ``pull_image``/``push_image``.
Layers are unpacked while later ones download, like ``dockyard pull``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dockyard.errors import InvalidArgument

if TYPE_CHECKING:
    from dockyard.daemon.backend import Backend
    from dockyard.image.reference import Reference
    from dockyard.registry.credentials import Credential
    from dockyard.registry.progress import Reporter


@dataclass(frozen=True)
class Pulled:
    reference: str          # familiar
    image_id: str
    digest: str
    downloaded: int


def pulls_all_tags(from_image: str, tag: str) -> bool:
    """The API's rule: an empty ``tag`` with an untagged ``fromImage`` pulls every
    tag of the repository (the docker CLI always sends a tag unless ``-a``)."""
    from dockyard.image import reference as refs

    if tag or not from_image:
        return False
    ref = refs.parse(from_image)
    return ref.tag is None and ref.digest is None


@dataclass(frozen=True)
class Pushed:
    tag: str
    digest: str
    size: int


def credential_from(auth: dict[str, str]) -> Credential | None:
    from dockyard.registry.credentials import Credential

    if auth.get("identitytoken"):
        return Credential("<token>", auth["identitytoken"])
    if auth.get("registrytoken"):
        return Credential("<token>", auth["registrytoken"])
    if auth.get("username") and auth.get("password"):
        return Credential(auth["username"], auth["password"])
    return None


def pull_reference(from_image: str, tag: str) -> Reference:
    """``fromImage`` + ``tag`` as dockerd joins them (a tag may also be a digest)."""
    from dockyard.image import reference as refs

    if not from_image:
        raise InvalidArgument("fromImage or fromSrc is required")
    ref = refs.parse(from_image)
    if tag:
        if ref.tag or ref.digest:
            if ref.tag != tag and str(ref.digest) != tag:
                raise InvalidArgument(f"invalid reference: {from_image} with tag {tag}")
        elif tag.startswith("sha256:"):
            ref = refs.parse(f"{from_image}@{tag}")
        else:
            ref = refs.parse(f"{from_image}:{tag}")
    return ref


async def pull(backend: Backend, ref: Reference, cred: Credential | None,
               platform: str | None, report: Reporter, all_tags: bool = False
               ) -> list[Pulled]:
    """Pull ``ref`` (or, with ``all_tags``, every tag of its repository)."""
    from dockyard.image import manifest as mf
    from dockyard.registry.client import RegistryClient, new_session
    from dockyard.registry.pull import pull_image, snapshot_unpacker

    plat = mf.Platform.parse(platform) if platform else None
    service = await backend.run(backend.open_images)
    worker = None
    pulled: list[Pulled] = []
    try:
        # The snapshotter probes the file system (blocking): off the loop.
        unpack, worker = await backend.run(
            lambda: snapshot_unpacker(str(service.root), service.snapshotter))
        async with new_session() as session:
            client = RegistryClient(ref.domain, session, config=backend.registry_config,
                                    credential=cred)
            wanted = [ref.with_tag(t) for t in await client.tags(ref.path)] if all_tags \
                else [ref]
            for one in wanted:
                result = await pull_image(one, service.store, client, platform=plat,
                                          report=report, unpack=unpack)
                await backend.run(
                    lambda r=result: service.after_pull(service.store.get(r.image_id)))
                pulled.append(Pulled(one.with_default_tag().familiar(), str(result.image_id),
                                     str(result.digest), result.downloaded))
    finally:
        if worker is not None:
            await backend.run(worker.close)
        await backend.run(service.close)
    return pulled


async def push(backend: Backend, ref: Reference, cred: Credential | None,
               report: Reporter) -> Pushed:
    from dockyard.registry.client import RegistryClient, new_session
    from dockyard.registry.push import push_image

    service = await backend.run(backend.open_images)
    try:
        async with new_session() as session:
            client = RegistryClient(ref.domain, session, config=backend.registry_config,
                                    credential=cred, for_push=True)
            result = await push_image(ref, service.store, client, report=report)
    finally:
        await backend.run(service.close)
    return Pushed(ref.with_default_tag().tag or "latest", str(result.digest), result.size)


__all__ = ["Pulled", "Pushed", "credential_from", "pull", "pull_reference",
           "pulls_all_tags", "push"]
