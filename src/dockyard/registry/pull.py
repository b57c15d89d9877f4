"""``dockyard pull``: manifest (index -> platform), then blobs in parallel, then
the image is recorded in the ImageStore.

Every blob is verified by the content store writer (size and digest) before it
becomes visible; blobs already present are skipped. All writes happen inside an
ImageStore lease, so a concurrent GC never takes a blob between its download
and the record that names it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dockyard.errors import DigestMismatch, InvalidArgument
from dockyard.image import reference as refs
from dockyard.image.digest import Digest
from dockyard.image.importer import LayerSpec
from dockyard.image.manifest import chain_ids, parse_config
from dockyard.image.store import BlobRef, ImageStore, NewImage
from dockyard.registry import manifest as mf
from dockyard.registry.client import RegistryClient
from dockyard.registry.progress import ProgressEvent, Reporter, quiet
from dockyard.registry.session import open_client

PARALLEL_DOWNLOADS = 3

# unpack(bottom layers, lease id): blocking, run in a worker thread (see pull_image).
Unpacker = Callable[[Sequence[LayerSpec], str], None]


@dataclass(frozen=True)
class PullResult:
    reference: str
    digest: Digest          # what the reference resolved to (index or manifest)
    image_id: Digest
    downloaded: int         # blobs fetched (0: image was up to date)


def short(d: Digest) -> str:
    return d.hex[:12]


async def _fetch_manifest(client: RegistryClient, images: ImageStore, repo: str,
                          reference: str, size: int | None = None) -> mf.Manifest:
    got = await client.get_manifest(repo, reference)
    if size is not None and len(got.body) != size:
        raise DigestMismatch(f"manifest {got.digest}: {len(got.body)} bytes, "
                             f"descriptor says {size}")
    if not images.content.exists(got.digest):
        images.content.put_bytes(got.body, got.digest)
    try:
        return mf.parse(got.body, got.media_type)
    except InvalidArgument as e:
        raise InvalidArgument(f"manifest {repo}@{got.digest}: {e.message}") from None


async def pull_image(ref: refs.Reference, images: ImageStore, client: RegistryClient, *,
                     platform: mf.Platform | None = None,
                     report: Reporter = quiet, unpack: Unpacker | None = None) -> PullResult:
    """Pull one image into ``images``. With ``unpack``, layers are unpacked while
    later ones still download: it is called in a worker thread, in order and
    never twice at once, with the bottom N layers once all N are present (and
    the id of the pull's lease, to protect what it makes)."""
    ref = ref.with_default_tag()
    reference = str(ref.digest) if ref.digest else ref.tag or "latest"
    tag_note = f"{ref.tag}: " if ref.tag and not ref.digest else ""
    report(ProgressEvent("", f"{tag_note}Pulling from {ref.familiar_name}"))
    with images.lease() as lease:
        top = await client.get_manifest(ref.path, reference)
        lease.add_blob(top.digest)
        if not images.content.exists(top.digest):
            images.content.put_bytes(top.body, top.digest)
        parsed = mf.parse(top.body, top.media_type)
        manifest_digest, manifest_type, index_digest = top.digest, top.media_type, None
        blob_refs = []
        if parsed.is_index:
            index_digest = top.digest
            blob_refs.append(BlobRef(top.digest, "index"))
            chosen = mf.select_platform(parsed, platform or mf.Platform.host())
            lease.add_blob(chosen.digest)
            parsed = await _fetch_manifest(client, images, ref.path, str(chosen.digest),
                                           chosen.size)
            manifest_digest, manifest_type = chosen.digest, parsed.media_type
        if parsed.is_index or parsed.config is None:
            raise InvalidArgument(f"{ref}: nested index or manifest without config")
        blob_refs.append(BlobRef(manifest_digest, "manifest"))
        blob_refs.append(BlobRef(parsed.config.digest, "config"))
        blob_refs.extend(BlobRef(d.digest, "layer") for d in parsed.layers)
        for b in blob_refs:
            lease.add_blob(b.digest)
        # The config first: its diff_ids let layers be unpacked as they arrive.
        downloaded = await _fetch_blobs(client, images, ref.path, [parsed.config], report,
                                        is_config=True)
        config = parse_config(images.content.read_bytes(parsed.config.digest))
        if len(config.diff_ids) != len(parsed.layers):
            raise InvalidArgument(f"{ref}: config has {len(config.diff_ids)} diff_ids for "
                                  f"{len(parsed.layers)} layers")
        specs = [LayerSpec(d.digest, d.media_type, diff)
                 for d, diff in zip(parsed.layers, config.diff_ids, strict=True)]
        downloaded += await _fetch_blobs(client, images, ref.path, list(parsed.layers), report,
                                         unpack=(lambda n: unpack(specs[:n], lease.id))
                                         if unpack else None)
        size = sum(d.size for d in parsed.layers)
        plat = "/".join(p for p in (config.os, config.architecture, config.variant) if p)
        record = images.add_image(NewImage(
            id=parsed.config.digest, manifest_digest=manifest_digest,
            manifest_media_type=manifest_type, chain_ids=chain_ids(config.diff_ids),
            blobs=tuple(blob_refs), platform=plat, created=config.created, size=size,
            index_digest=index_digest))
    if ref.tag and not ref.digest:
        images.tag(ref, record.id)
    images.add_repo_digest(ref.repository(),
                           top.digest, record.id)
    report(ProgressEvent("", f"Digest: {top.digest}"))
    shown = ref.familiar()
    report(ProgressEvent("", f"Status: Downloaded newer image for {shown}" if downloaded
                         else f"Status: Image is up to date for {shown}"))
    return PullResult(str(ref), top.digest, record.id, downloaded)


async def _fetch_blobs(client: RegistryClient, images: ImageStore, repo: str,
                       descs: list[mf.Descriptor], report: Reporter, *,
                       is_config: bool = False,
                       unpack: Callable[[int], None] | None = None) -> int:
    """Download ``descs`` in parallel (skipping present blobs); returns how many
    were fetched. ``unpack(n)`` runs as soon as the bottom ``n`` are all here."""
    sem = asyncio.Semaphore(PARALLEL_DOWNLOADS)
    note = quiet if is_config else report
    ready = [asyncio.Event() for _ in descs]
    failed = False
    fetched = 0

    async def one(i: int, desc: mf.Descriptor) -> None:
        nonlocal fetched
        sid = short(desc.digest)
        if images.content.exists(desc.digest):
            note(ProgressEvent(sid, "Already exists"))
            ready[i].set()
            return
        note(ProgressEvent(sid, "Waiting"))
        async with sem:
            done = 0

            def moved(n: int) -> None:
                nonlocal done
                done += n
                note(ProgressEvent(sid, "Downloading", done, desc.size))
            await client.fetch_blob(repo, desc, images.content, moved)
            fetched += 1
        note(ProgressEvent(sid, "Download complete"))
        ready[i].set()

    async def unpacker() -> None:
        loop = asyncio.get_running_loop()
        for i, ev in enumerate(ready):
            await ev.wait()
            if failed:
                return
            await loop.run_in_executor(None, unpack, i + 1)
            note(ProgressEvent(short(descs[i].digest), "Pull complete"))

    tasks = [asyncio.create_task(one(i, d)) for i, d in enumerate(descs)]
    if unpack is not None:
        tasks.append(asyncio.create_task(unpacker()))
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        failed = True
        for ev in ready:
            ev.set()       # let the unpacker see the failure and stop
        raise
    finally:
        # Download tasks can be cancelled; an unpack running in a worker thread
        # can't, so it is waited for (nothing of ours runs on after we return).
        for t in tasks[:len(descs)]:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if unpack is None:
        for d in descs:
            note(ProgressEvent(short(d.digest), "Pull complete"))
    return fetched


async def pull(name: str, images: ImageStore, *, all_tags: bool = False,
               platform: str | None = None, report: Reporter = quiet,
               unpack: Unpacker | None = None) -> list[PullResult]:
    ref = refs.parse(name)
    plat = mf.Platform.parse(platform) if platform else None
    async with open_client(ref.domain) as client:
        if not all_tags:
            return [await pull_image(ref, images, client, platform=plat, report=report,
                                     unpack=unpack)]
        if ref.tag or ref.digest:
            raise InvalidArgument("tag can't be used with --all-tags/-a")
        tags = await client.tags(ref.path)
        return [await pull_image(ref.with_tag(t), images, client, platform=plat,
                                 report=report, unpack=unpack) for t in tags]


def snapshot_unpacker(root: str, snapshotter) -> tuple[Unpacker, ImageStore]:
    """An Unpacker over the image room's unpack_layers. It gets an ImageStore
    (SQLite connection) of its own, since it runs in a worker thread while the
    pull uses the caller's; the caller closes the returned store."""
    from dockyard.image.store import Lease
    from dockyard.image.unpack import unpack_layers

    worker = ImageStore(root)

    def unpack(specs: Sequence[LayerSpec], lease_id: str) -> None:
        unpack_layers(worker, snapshotter, list(specs), Lease(worker, lease_id))
    return unpack, worker


def pull_cli(name: str, *, root: str, all_tags: bool, platform: str | None,
             quiet: bool) -> int:
    """Pull, then unpack the layers into snapshots (as ``docker pull`` extracts)."""
    from dockyard.image.service import ImageService
    from dockyard.registry.progress import TerminalProgress
    service = ImageService(root)
    unpack, worker = snapshot_unpacker(str(service.root), service.snapshotter)
    try:
        images = service.store
        if quiet:
            results = asyncio.run(pull(name, images, all_tags=all_tags, platform=platform,
                                       unpack=unpack))
        else:
            with TerminalProgress() as bars:
                results = asyncio.run(pull(name, images, all_tags=all_tags,
                                           platform=platform, report=bars, unpack=unpack))
        for r in results:
            service.after_pull(images.get(r.image_id))   # a no-op when all is unpacked
    finally:
        worker.close()
        service.close()
    for r in results:
        print(refs.parse(r.reference).familiar())
    return 0


async def fetch_manifest_doc(name: str, verbose: bool = False) -> object:
    import json
    ref = refs.parse(name).with_default_tag()
    reference = str(ref.digest) if ref.digest else ref.tag or "latest"
    async with open_client(ref.domain) as client:
        top = await client.get_manifest(ref.path, reference)
        doc = json.loads(top.body)
        if not verbose:
            return doc
        parsed = mf.parse(top.body, top.media_type)
        if not parsed.is_index:
            return {"Ref": str(ref), "Descriptor": {"mediaType": top.media_type,
                    "digest": str(top.digest), "size": len(top.body)},
                    "SchemaV2Manifest": doc}
        out = []
        for d in parsed.manifests:
            sub = await client.get_manifest(ref.path, str(d.digest))
            out.append({"Ref": f"{ref.name}@{d.digest}", "Descriptor": d.to_json(),
                        "SchemaV2Manifest": json.loads(sub.body)})
        return out


def inspect_manifest(name: str, verbose: bool = False) -> object:
    return asyncio.run(fetch_manifest_doc(name, verbose))


__all__ = ["PullResult", "Unpacker", "inspect_manifest", "pull", "pull_cli", "pull_image",
           "snapshot_unpacker"]
