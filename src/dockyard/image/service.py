"""The images engine: one object the CLI (and later the daemon's API) calls.

It owns the data root's image store and, lazily, the snapshotter, and wires the
rooms together: loads, imports and bootstraps unpack their layers before the
image is recorded; ``rmi`` and ``prune`` decide what to forget and then run GC.
Results are dataclasses; the Docker JSON shapes live in dockershape.py.

Docker's rules kept here: ``rmi NAME:TAG`` of an image with other names only
untags; ``rmi ID`` of an image named in several repositories needs ``-f``; an
image that is another's parent, or (later, with containers) in use, is refused;
``prune`` removes dangling images, ``prune -a`` every image no container uses.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from dockyard.errors import Conflict, InvalidArgument
from dockyard.image import gc
from dockyard.image import manifest as mf
from dockyard.image import reference as refs
from dockyard.image.digest import Digest
from dockyard.image.importer import ImportOptions, LayerSpec
from dockyard.image.store import ImageRecord, ImageStore, Lease, NewImage

DEFAULT_ROOT = "/var/lib/dockyard"


def data_root(explicit: str | None = None) -> Path:
    return Path(explicit or os.environ.get("DOCKYARD_ROOT") or DEFAULT_ROOT)


@dataclass(frozen=True)
class ImageFilters:
    dangling: bool | None = None
    labels: tuple[str, ...] = ()          # "key" or "key=value"
    references: tuple[str, ...] = ()      # glob patterns on repo[:tag]
    before: str | None = None
    since: str | None = None

    @classmethod
    def parse(cls, items: Sequence[str]) -> ImageFilters:
        dangling, labels, references, before, since = None, [], [], None, None
        for item in items:
            key, eq, value = item.partition("=")
            if not eq:
                raise InvalidArgument(f"bad format of filter (expected name=value): {item!r}")
            key = key.strip().lower()
            if key == "dangling":
                if value.lower() not in ("true", "false", "1", "0"):
                    raise InvalidArgument(f"invalid filter 'dangling={value}'")
                dangling = value.lower() in ("true", "1")
            elif key == "label":
                labels.append(value)
            elif key == "reference":
                references.append(value)
            elif key == "before":
                before = value
            elif key == "since":
                since = value
            else:
                raise InvalidArgument(f"invalid filter '{key}'")
        return cls(dangling, tuple(labels), tuple(references), before, since)


@dataclass(frozen=True)
class ImageSummary:
    record: ImageRecord
    config: mf.ImageConfig
    containers: int = 0


@dataclass(frozen=True)
class RemoveEvent:
    kind: str   # "Untagged" or "Deleted"
    value: str


@dataclass(frozen=True)
class PruneReport:
    events: tuple[RemoveEvent, ...]
    space_reclaimed: int


@dataclass(frozen=True)
class DiskUsage:
    images: int
    active_images: int
    images_size: int
    reclaimable: int
    layers_size: int
    details: tuple[ImageSummary, ...] = field(default=())


CONTAINER_PIN = "container:"   # pin owner prefix: "container:<id>"


@dataclass(frozen=True)
class ContainerUse:
    container_id: str
    running: bool


class ImageService:
    """Image commands over one data root."""

    def __init__(self, root: str | os.PathLike[str] | None = None,
                 in_use: Callable[[Digest], int] | None = None,
                 is_running: Callable[[str], bool] | None = None) -> None:
        self.root = data_root(os.fspath(root) if root is not None else None)
        self.store = ImageStore(self.root)
        self._snapshotter = None
        # Containers pin their image in the store ("container:<id>", "image", id), so
        # the users of an image are known with or without a daemon; a daemon tells
        # which of them run (a running user is a conflict even with force).
        self._in_use = in_use or (lambda image_id: len(self.container_users(image_id)))
        self._is_running = is_running or (lambda _cid: False)

    def container_users(self, image_id: Digest) -> list[ContainerUse]:
        """The containers made from this image, oldest first."""
        owners = self.store.pin_owners_of("image", str(image_id))
        ids = [o.partition(":")[2] for o in owners if o.startswith(CONTAINER_PIN)]
        return [ContainerUse(cid, self._is_running(cid)) for cid in ids]

    def close(self) -> None:
        self.store.close()

    @property
    def snapshotter(self):
        if self._snapshotter is None:
            from dockyard.image.snapshots import default_snapshotter

            self._snapshotter = default_snapshotter(self.store.snapshots_root)
        return self._snapshotter

    def _unpack(self, new: NewImage, specs: Sequence[LayerSpec], lease: Lease) -> None:
        from dockyard.image.unpack import unpack_layers

        if specs:
            unpack_layers(self.store, self.snapshotter, specs, lease)

    # --- bringing images in -------------------------------------------------------

    def load(self, path: str | None, stream: BinaryIO | None = None,
             platform: mf.Platform | None = None):
        from dockyard.image import loader

        if path is not None:
            return loader.load_path(self.store, path, self._unpack, platform)
        assert stream is not None
        return loader.load_stream(self.store, stream, self._unpack, platform)

    def import_image(self, source: str, opts: ImportOptions, stdin: BinaryIO) -> ImageRecord:
        from dockyard.image import importer

        return importer.import_source(self.store, source, opts, stdin, self._unpack)

    def bootstrap_busybox(self, tag: str, busybox: str | None = None) -> ImageRecord:
        from dockyard.image import bootstrap

        return bootstrap.bootstrap_busybox(self.store, tag, busybox, self._unpack)

    def bootstrap_debian(self, suite: str, tag: str | None, mirror: str) -> ImageRecord:
        from dockyard.image import bootstrap

        return bootstrap.bootstrap_debian(self.store, suite, tag, mirror, self._unpack)

    def after_pull(self, rec: ImageRecord) -> str | None:
        """Unpack a pulled image now (returns its top snapshot name)."""
        from dockyard.image.unpack import ensure_unpacked

        return ensure_unpacked(self.store, self.snapshotter, rec)

    @contextmanager
    def mounted_view(self, name: str) -> Iterator[Path]:
        """Mount a read-only view of an image's root filesystem in a temp dir.

        For checks and exports; the mount, the view snapshot and the directory
        are removed on exit, errors included."""
        import tempfile
        import uuid

        from dockyard.image.mount import mount_all, unmount

        rec = self.store.resolve(name)
        top = self.after_pull(rec)
        key = f"view-{uuid.uuid4().hex[:16]}"
        with self.store.lease() as lease:
            lease.add_snapshot(key)
            mounts = self.snapshotter.view(key, top)
            target = Path(tempfile.mkdtemp(prefix="view-"))
            try:
                mount_all(mounts, target)
                try:
                    yield target
                finally:
                    unmount(target, mounts)
            finally:
                self.snapshotter.remove(key)
                target.rmdir()

    def save(self, names: Sequence[str], out: BinaryIO) -> None:
        from dockyard.image import archive

        archive.save_to_stream(self.store, names, out)

    def save_layout(self, names: Sequence[str], directory: Path) -> None:
        from dockyard.image import archive

        archive.save_to_layout(self.store, names, directory)

    # --- looking ------------------------------------------------------------------

    def config_of(self, rec: ImageRecord) -> mf.ImageConfig:
        return mf.parse_config(self.store.content.read_bytes(rec.id))

    def inspect(self, name: str) -> ImageSummary:
        rec = self.store.resolve(name)
        return ImageSummary(rec, self.config_of(rec), self._in_use(rec.id))

    def list_images(self, all_images: bool = False,
                    filters: ImageFilters | None = None) -> list[ImageSummary]:
        filters = filters or ImageFilters()
        records = self.store.list()
        parents = {r.parent for r in records if r.parent is not None}
        before = created_timestamp(self.store.resolve(filters.before).created) \
            if filters.before else None
        since = created_timestamp(self.store.resolve(filters.since).created) \
            if filters.since else None
        out = []
        for rec in records:
            if not all_images and rec.dangling and rec.id in parents:
                continue  # an intermediate image: only -a shows it
            if filters.dangling is not None and rec.dangling != filters.dangling:
                continue
            if before is not None and not created_timestamp(rec.created) < before:
                continue
            if since is not None and not created_timestamp(rec.created) > since:
                continue
            if filters.references and not _matches_reference(rec, filters.references):
                continue
            config = self.config_of(rec)
            if filters.labels and not _matches_labels(config, filters.labels):
                continue
            out.append(ImageSummary(rec, config, self._in_use(rec.id)))
        out.sort(key=lambda s: (created_timestamp(s.record.created), s.record.added),
                 reverse=True)
        return out

    def history(self, name: str) -> list[tuple[mf.HistoryEntry, str, int]]:
        """(entry, layer id or "<missing>", layer size), newest first, as docker shows."""
        rec = self.store.resolve(name)
        config = self.config_of(rec)
        from dockyard.image.unpack import layer_specs

        specs = layer_specs(self.store, rec)
        sizes = []
        for spec, chain in zip(specs, mf.chain_ids([x.diff_id for x in specs]), strict=True):
            row = self.store.get_layer(chain)
            sizes.append(row.size if row is not None and row.size
                         else self.store.content.info(spec.blob).size)
        rows: list[tuple[mf.HistoryEntry, str, int]] = []
        layer_iter = iter(sizes)
        history = config.history or tuple(mf.HistoryEntry() for _ in config.diff_ids)
        for i, entry in enumerate(history):
            size = 0 if entry.empty_layer else next(layer_iter, 0)
            rows.append((entry, str(rec.id) if i == len(history) - 1 else "<missing>", size))
        return list(reversed(rows))

    # --- naming and removing -----------------------------------------------------

    def tag(self, source: str, target: str) -> None:
        rec = self.store.resolve(source)
        ref = refs.parse(target)
        if ref.digest is not None:
            raise InvalidArgument(f"refusing to create a tag with a digest reference: {target}")
        self.store.tag(ref.with_default_tag(), rec.id)

    def remove(self, name: str, force: bool = False, prune_layers: bool = True
               ) -> list[RemoveEvent]:
        """``rmi``: by name, remove that name (and, for a tag, the digest references
        of its repository no other tag keeps); delete the image once no name is left.
        By id: delete the image with all its names (``force`` needed when they span
        several repositories). Children and containers in use always refuse."""
        rec = self.store.resolve(name)
        users = self.container_users(rec.id)
        events: list[RemoveEvent] = []
        by_name = _names_reference(name, rec)
        removed_name = False
        if by_name is not None:
            if users and not force and _single_reference(rec):
                # dockerd's rule: the untag would leave a container's image dangling
                raise Conflict(f'conflict: unable to remove repository reference "{name}" '
                               f"(must force) - container {users[0].container_id[:12]} is "
                               f"using its referenced image {rec.short_id}")
            events += self._untag(name, rec)
            rec = self.store.get(rec.id)
            if events and (rec.repo_tags or rec.repo_digests):
                return events  # other names keep the image
            removed_name = True
        else:
            repos = {t.rsplit(":", 1)[0] for t in rec.repo_tags}
            if len(repos) > 1 and not force:
                raise Conflict(f"conflict: unable to delete {rec.short_id} (must be forced) "
                               "- image is referenced in multiple repositories")
        conflict = _delete_conflict(rec, self.store.children(rec.id), users, force)
        if conflict is not None:
            if removed_name and users:
                # dockerd: a forced untag of a used image keeps the image, now
                # nameless, for its containers, and reports only the untag
                return events + self._untag_all(rec)
            raise conflict
        for tag in rec.repo_tags:
            events.append(RemoveEvent("Untagged", refs.parse(tag).familiar()))
        for d in rec.repo_digests:
            events.append(RemoveEvent("Untagged", refs.parse(d).familiar()))
        self.store.delete_image(rec.id)
        events.append(RemoveEvent("Deleted", str(rec.id)))
        if prune_layers:
            result = self.collect()
            events += [RemoveEvent("Deleted", str(c)) for c in result.layers]
        return events

    def _untag_all(self, rec: ImageRecord) -> list[RemoveEvent]:
        events = []
        for name in (*rec.repo_tags, *rec.repo_digests):
            ref = refs.parse(name)
            self.store.untag(ref)
            events.append(RemoveEvent("Untagged", ref.familiar()))
        return events

    def _untag(self, name: str, rec: ImageRecord) -> list[RemoveEvent]:
        ref = refs.parse(name)
        if ref.digest is not None:
            self.store.untag(ref)
            return [RemoveEvent("Untagged", ref.familiar())]
        ref = ref.with_default_tag()
        if len(rec.repo_tags) + len(rec.repo_digests) == 1:
            return []  # its only name: the deletion below reports it
        self.store.untag(ref)
        events = [RemoveEvent("Untagged", ref.familiar())]
        others = [t for t in rec.repo_tags
                  if t != ref.tagged and refs.parse(t).name == ref.name]
        if not others:
            for d in rec.repo_digests:
                dref = refs.parse(d)
                if dref.name == ref.name:
                    self.store.untag(dref)
                    events.append(RemoveEvent("Untagged", dref.familiar()))
        return events

    def prune(self, all_images: bool = False,
              filters: ImageFilters | None = None) -> PruneReport:
        filters = filters or ImageFilters()
        events: list[RemoveEvent] = []
        candidates = self.list_images(all_images=True, filters=filters)
        before = sum(b.size for b in self.store.content.list())
        for s in candidates:
            rec = s.record
            if s.containers or self.store.children(rec.id):
                continue
            if not all_images and not rec.dangling:
                continue
            events += self.remove(str(rec.id), force=True, prune_layers=False)
        result = self.collect()
        events += [RemoveEvent("Deleted", str(c)) for c in result.layers]
        after = sum(b.size for b in self.store.content.list())
        return PruneReport(tuple(events), max(0, before - after) + 0)

    def collect(self) -> gc.GCResult:
        snap = self.snapshotter if self.store.snapshots_root.exists() else None
        return gc.collect(self.store, snap)

    def disk_usage(self) -> DiskUsage:
        summaries = self.list_images(all_images=True)
        total = sum(s.record.size for s in summaries)
        active = [s for s in summaries if s.containers]
        layers = sum(b.size for b in self.store.content.list())
        reclaim = sum(s.record.size for s in summaries if not s.containers)
        return DiskUsage(len(summaries), len(active), total, reclaim, layers,
                         tuple(summaries))


def created_timestamp(created: str | None) -> float:
    """Seconds since the epoch of an RFC 3339 time (nanoseconds allowed); 0 if unknown."""
    import datetime as _dt

    if not created:
        return 0.0
    text = created.strip().replace("Z", "+00:00").replace("z", "+00:00")
    if "." in text:  # Python reads at most microseconds
        head, _, tail = text.partition(".")
        frac = "".join(c for c in tail if c.isdigit())
        text = f"{head}.{frac[:6]}{tail[len(frac):]}"
    try:
        parsed = _dt.datetime.fromisoformat(text)
    except ValueError:
        return 0.0
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_dt.UTC)
    return parsed.timestamp()


def _single_reference(rec: ImageRecord) -> bool:
    """At most one tag, and every name in one repository (dockerd's isSingleReference)."""
    names = [*rec.repo_tags, *rec.repo_digests]
    repos = {refs.parse(n).name for n in names}
    return len(rec.repo_tags) <= 1 and len(repos) <= 1


def _delete_conflict(rec: ImageRecord, children: Sequence[Digest],
                     users: Sequence[ContainerUse], force: bool) -> Conflict | None:
    """dockerd's delete conflicts: hard ones (children, a running container) even with
    force, soft ones (a stopped container) without it."""
    running = next((u for u in users if u.running), None)
    stopped = next((u for u in users if not u.running), None)
    if children:
        hard, why = True, "image has dependent child images"
    elif running is not None:
        hard, why = True, f"image is being used by running container {running.container_id[:12]}"
    elif stopped is not None and not force:
        hard, why = False, f"image is being used by stopped container {stopped.container_id[:12]}"
    else:
        return None
    verdict = "cannot be forced" if hard else "must be forced"
    return Conflict(f"conflict: unable to delete {rec.short_id} ({verdict}) - {why}")


def _names_reference(text: str, rec: ImageRecord) -> str | None:
    """The familiar name ``text`` denotes when it is a name (not an id) of ``rec``."""
    if refs.is_image_id_prefix(text) and rec.id.hex.startswith(text.removeprefix("sha256:")):
        return None
    try:
        ref = refs.parse(text)
    except InvalidArgument:
        return None
    if ref.digest is not None:
        return ref.familiar()
    return ref.with_default_tag().familiar()


def _matches_reference(rec: ImageRecord, patterns: Sequence[str]) -> bool:
    for tag in rec.repo_tags:
        ref = refs.parse(tag)
        for pat in patterns:
            candidates = [ref.familiar(), ref.familiar_name, str(ref), ref.name]
            if any(fnmatch.fnmatchcase(c, pat) for c in candidates):
                return True
    return False


def _matches_labels(config: mf.ImageConfig, wanted: Sequence[str]) -> bool:
    labels = config.config.labels
    for item in wanted:
        key, eq, value = item.partition("=")
        if key not in labels or (eq and labels[key] != value):
            return False
    return True


__all__ = [
    "CONTAINER_PIN",
    "DEFAULT_ROOT",
    "ContainerUse",
    "DiskUsage",
    "ImageFilters",
    "ImageService",
    "ImageSummary",
    "PruneReport",
    "RemoveEvent",
    "created_timestamp",
    "data_root",
]
