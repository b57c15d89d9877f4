"""Garbage collection: a pure mark-and-sweep, then the store deletes.

:func:`unreachable` knows nothing about disks: it takes roots, a "references of"
function and the set of everything that exists, and returns what nothing reaches
(containerd's ``pkg/gc`` in spirit). :func:`collect` feeds it from the image store,
the content store and the snapshotter, under the store's exclusive lock, then
removes what it found: blobs, layer records and snapshots (children first).

Node kinds: ``image`` (id), ``blob`` (digest), ``layer`` (chain id),
``snapshot`` (name).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from dockyard.errors import DockyardError
from dockyard.image.digest import Digest
from dockyard.image.store import ImageStore

Node = tuple[str, str]


def unreachable(roots: Iterable[Node], references: Callable[[Node], Iterable[Node]],
                universe: Iterable[Node]) -> set[Node]:
    """Everything in ``universe`` that no path from ``roots`` reaches."""
    seen: set[Node] = set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        stack.extend(n for n in references(node) if n not in seen)
    return set(universe) - seen


class _Named(Protocol):
    name: str


class SnapshotRemover(Protocol):
    """The part of a snapshotter GC needs: every snapshot (by name), and removal."""

    def walk(self) -> Iterable[_Named]: ...

    def remove(self, key: str) -> None: ...


@dataclass(frozen=True)
class GCResult:
    blobs: tuple[Digest, ...]
    snapshots: tuple[str, ...]
    layers: tuple[Digest, ...]
    bytes_freed: int


def collect(store: ImageStore, snapshotter: SnapshotRemover | None,
            dry_run: bool = False) -> GCResult:
    """Delete every blob, layer record and snapshot no image or live lease needs."""
    with store.exclusive():
        store.drop_dead_leases()
        images = store.list()
        layers = {str(layer.chain_id): layer for layer in store.list_layers()}
        edges: dict[Node, list[Node]] = {}
        for img in images:
            node = ("image", str(img.id))
            edges[node] = [("blob", str(b.digest)) for b in img.blobs]
            edges[node] += [("layer", str(c)) for c in img.chain_ids]
        for chain, layer in layers.items():
            out = [("snapshot", layer.snapshot)]
            if layer.parent is not None:
                out.append(("layer", str(layer.parent)))
            edges[("layer", chain)] = out
        roots: list[Node] = [("image", str(i.id)) for i in images]
        roots += list(store.leased())
        universe: set[Node] = {("blob", str(b.digest)) for b in store.content.list()}
        universe |= {("layer", c) for c in layers}
        if snapshotter is not None:
            universe |= {("snapshot", s.name) for s in snapshotter.walk()}
        dead = unreachable(roots, lambda n: edges.get(n, ()), universe)
        return _sweep(store, snapshotter, dead, layers, dry_run)


def _sweep(store: ImageStore, snapshotter: SnapshotRemover | None, dead: set[Node],
           layers: dict, dry_run: bool) -> GCResult:
    blobs = sorted(Digest.parse(n) for k, n in dead if k == "blob")
    dead_layers = sorted(Digest.parse(n) for k, n in dead if k == "layer")
    snaps = sorted(n for k, n in dead if k == "snapshot")
    freed = 0
    if dry_run:
        return GCResult(tuple(blobs), tuple(snaps), tuple(dead_layers), 0)
    for chain in dead_layers:
        store.remove_layer(chain)
    for d in blobs:
        try:
            freed += store.content.info(d).size
            store.content.delete(d)
        except DockyardError:
            pass
    removed = _remove_snapshots(snapshotter, snaps) if snapshotter else []
    return GCResult(tuple(blobs), tuple(removed), tuple(dead_layers), freed)


def _remove_snapshots(snapshotter: SnapshotRemover, names: list[str]) -> list[str]:
    """Remove children before parents: retry what a snapshotter refuses while
    another removal in the batch can still unblock it."""
    pending, removed = list(names), []
    while pending:
        progress, left = False, []
        for name in pending:
            try:
                snapshotter.remove(name)
                removed.append(name)
                progress = True
            except DockyardError:
                left.append(name)
        if not progress:
            break
        pending = left
    return removed


__all__ = ["GCResult", "SnapshotRemover", "collect", "unreachable"]
