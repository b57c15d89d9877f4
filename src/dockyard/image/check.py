"""``dockyard system check``: is the image store consistent? Clean what crashes leave.

Damage (makes the check fail):

* a blob whose content no longer hashes to its name;
* an image naming a blob that is not in the content store, or a config that does
  not parse;
* a layer row whose snapshot is gone.

Leftovers of killed processes (reported, cleaned unless ``clean=False``, never
damage): ``ingest/`` entries (partial blobs, spooled archives), leases of dead
processes, ``extract-*`` snapshots no live lease protects, snapshot directories
no record names. Unreferenced blobs are garbage, not damage: ``image prune`` or
GC frees them; the check only counts them.

Cleaning runs under the store's exclusive lock, so it never races a load.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dockyard.errors import DockyardError
from dockyard.image import manifest as mf
from dockyard.image.digest import Digest
from dockyard.image.unpack import EXTRACT_PREFIX


@dataclass
class CheckReport:
    blobs_checked: int = 0
    damaged_blobs: list[Digest] = field(default_factory=list)
    missing_blobs: list[tuple[Digest, Digest]] = field(default_factory=list)  # image, blob
    bad_configs: list[Digest] = field(default_factory=list)
    missing_snapshots: list[Digest] = field(default_factory=list)  # chain ids
    unreferenced_blobs: int = 0
    cleaned_ingest: int = 0
    dead_leases: int = 0
    cleaned_extracts: list[str] = field(default_factory=list)
    cleaned_dirs: int = 0
    cleaned: bool = True

    @property
    def ok(self) -> bool:
        return not (self.damaged_blobs or self.missing_blobs or self.bad_configs
                    or self.missing_snapshots)

    def lines(self) -> list[str]:
        out = [f"blobs checked: {self.blobs_checked}"]
        out += [f"DAMAGED blob {d}: content does not match its digest"
                for d in self.damaged_blobs]
        out += [f"MISSING blob {b} (used by image {i})" for i, b in self.missing_blobs]
        out += [f"BAD config of image {i}" for i in self.bad_configs]
        out += [f"MISSING snapshot of layer {c}" for c in self.missing_snapshots]
        out.append(f"unreferenced blobs (prune frees them): {self.unreferenced_blobs}")
        verb = "cleaned" if self.cleaned else "to clean"
        out.append(f"{verb}: {self.cleaned_ingest} ingest entries, {self.dead_leases} dead "
                   f"leases, {len(self.cleaned_extracts)} abandoned extract snapshots, "
                   f"{self.cleaned_dirs} orphan snapshot directories")
        out.append("no damage found" if self.ok else "DAMAGE FOUND")
        return out


def check(service, clean: bool = True, rehash: bool = True) -> CheckReport:
    """Check (and by default clean) the store of an ImageService."""
    store = service.store
    report = CheckReport(cleaned=clean)
    snap = service.snapshotter if store.snapshots_root.exists() else None
    with store.exclusive():
        if clean:
            report.dead_leases = store.drop_dead_leases()
            report.cleaned_ingest = store.content.clean_ingest()
            if snap is not None:
                report.cleaned_extracts = _clean_extracts(store, snap)
                report.cleaned_dirs = snap.cleanup()
        else:  # count what a cleaning run would remove
            report.cleaned_ingest = len(list(store.content.ingest_dir.iterdir()))
            if snap is not None:
                leased = {n for k, n in store.leased() if k == "snapshot"}
                report.cleaned_extracts = [s.name for s in snap.walk()
                                           if s.name.startswith(EXTRACT_PREFIX)
                                           and s.name not in leased]
        present: set[Digest] = set()
        for info in store.content.list():
            present.add(info.digest)
            report.blobs_checked += 1
            if rehash and not store.content.verify(info.digest):
                report.damaged_blobs.append(info.digest)
        referenced: set[Digest] = set()
        for rec in store.list():
            for b in rec.blobs:
                referenced.add(b.digest)
                if b.digest not in present:
                    report.missing_blobs.append((rec.id, b.digest))
            if rec.id in present:
                try:
                    mf.parse_config(store.content.read_bytes(rec.id))
                except DockyardError:
                    report.bad_configs.append(rec.id)
        report.unreferenced_blobs = len(present - referenced)
        if snap is not None:
            names = {s.name for s in snap.walk()}
            report.missing_snapshots = [layer.chain_id for layer in store.list_layers()
                                        if layer.snapshot not in names]
        elif store.list_layers():
            report.missing_snapshots = [layer.chain_id for layer in store.list_layers()]
    return report


def _clean_extracts(store, snap) -> list[str]:
    leased = {name for kind, name in store.leased() if kind == "snapshot"}
    removed = []
    for info in list(snap.walk()):
        if info.name.startswith(EXTRACT_PREFIX) and info.name not in leased:
            try:
                snap.remove(info.name)
                removed.append(info.name)
            except DockyardError:
                pass
    return removed


__all__ = ["CheckReport", "check"]
