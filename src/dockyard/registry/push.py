"""``dockyard push``: blobs first (skip what the registry has, mount what another
repository of the same registry has, upload the rest, in parallel), then the
manifest; the digest is printed at the end as docker does.

Mount sources come from what the ImageStore knows: the image's other repo tags
and repo digests on the same registry.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from dockyard.errors import InvalidArgument
from dockyard.image import reference as refs
from dockyard.image.digest import Digest
from dockyard.image.store import ImageRecord, ImageStore
from dockyard.registry import manifest as mf
from dockyard.registry.client import RegistryClient
from dockyard.registry.progress import ProgressEvent, Reporter, quiet
from dockyard.registry.session import open_client

PARALLEL_UPLOADS = 3


@dataclass(frozen=True)
class PushResult:
    reference: str
    digest: Digest
    size: int
    uploaded: int
    mounted: int


def _mount_sources(record: ImageRecord, target: refs.Reference) -> list[str]:
    """Repository paths on ``target``'s registry that already hold this image."""
    out = []
    for name in (*record.repo_tags, *record.repo_digests):
        try:
            r = refs.parse(name)
        except InvalidArgument:
            continue
        if r.domain == target.domain and r.path != target.path and r.path not in out:
            out.append(r.path)
    return out


async def push_image(ref: refs.Reference, images: ImageStore, client: RegistryClient, *,
                     chunk_size: int = 0, report: Reporter = quiet) -> PushResult:
    if ref.digest is not None:
        raise InvalidArgument("push takes NAME[:TAG], not a digest reference")
    ref = ref.with_default_tag()
    record = images.resolve(str(ref))
    body = images.content.read_bytes(record.manifest_digest)
    parsed = mf.parse(body, record.manifest_media_type)
    if parsed.is_index or parsed.config is None:
        raise InvalidArgument(f"{ref}: local manifest is not an image manifest")
    report(ProgressEvent("", f"The push refers to repository [{ref.name}]"))
    sources = _mount_sources(record, ref)
    counts = {"uploaded": 0, "mounted": 0}
    sem = asyncio.Semaphore(PARALLEL_UPLOADS)

    async def one(desc: mf.Descriptor, is_layer: bool) -> None:
        sid = desc.digest.hex[:12]
        note = report if is_layer else quiet
        async with sem:
            if await client.blob_exists(ref.path, desc.digest,
                                        f"repository:{ref.path}:pull,push"):
                note(ProgressEvent(sid, "Layer already exists"))
                return
            location = None
            for src in sources:
                location = await client.mount(ref.path, desc.digest, src)
                if location is None:
                    counts["mounted"] += 1
                    note(ProgressEvent(sid, f"Mounted from {src}"))
                    return
                break   # the registry opened an upload instead: use it
            if location is None:
                location = await client.start_upload(ref.path)
            done = 0

            def moved(n: int) -> None:
                nonlocal done
                done += n
                note(ProgressEvent(sid, "Pushing", done, desc.size))
            await client.upload(ref.path, location, desc.digest, desc.size,
                                lambda: images.content.open(desc.digest), chunk_size, moved)
            counts["uploaded"] += 1
            note(ProgressEvent(sid, "Pushed"))

    descs = [(d, True) for d in parsed.layers] + [(parsed.config, False)]
    tasks = [asyncio.create_task(one(d, is_layer)) for d, is_layer in descs]
    try:
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    digest = await client.put_manifest(ref.path, ref.tag or "latest", body, parsed.media_type)
    images.add_repo_digest(ref.repository(), digest, record.id)
    report(ProgressEvent("", f"{ref.tag}: digest: {digest} size: {len(body)}"))
    return PushResult(str(ref), digest, len(body), counts["uploaded"], counts["mounted"])


async def push(name: str, images: ImageStore, *, chunk_size: int = 0,
               report: Reporter = quiet) -> PushResult:
    ref = refs.parse(name)
    async with open_client(ref.domain, for_push=True) as client:
        return await push_image(ref, images, client, chunk_size=chunk_size, report=report)


def push_cli(name: str, *, root: str, quiet: bool, chunk_size: int = 0) -> int:
    from dockyard.registry.progress import TerminalProgress
    images = ImageStore(root)
    try:
        if quiet:
            result = asyncio.run(push(name, images, chunk_size=chunk_size))
        else:
            with TerminalProgress() as bars:
                result = asyncio.run(push(name, images, chunk_size=chunk_size, report=bars))
    finally:
        images.close()
    tag = refs.parse(result.reference).tag
    print(f"{tag}: digest: {result.digest} size: {result.size}")
    return 0


__all__ = ["PushResult", "push", "push_cli", "push_image"]
