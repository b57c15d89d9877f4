"""Snapshotters: the directories image layers are unpacked into, in containerd's sense.

Vocabulary and lifecycle (the same for every implementation):

* ``prepare(key, parent)`` makes an **active** snapshot named ``key`` on top of
  the **committed** snapshot ``parent`` (or empty) and returns the mounts that
  show it read-write. Unpacking an image is, per layer: prepare on the previous
  layer, apply the layer into it, ``commit(name=chain_id, key)``.
* ``view(key, parent)`` is the read-only twin of prepare; a view is never
  committed.
* ``commit(name, key)`` turns the active ``key`` into the committed ``name``; the
  key is gone afterwards. Committed snapshots are immutable and may be parents.
* ``remove(key)`` removes an active, view or committed snapshot that nothing
  uses as a parent.
* ``mounts(key)`` describes again the mounts of an active snapshot or view;
  ``usage(key)`` is its own disk use; ``walk()`` lists every snapshot.

Snapshotters never mount (see :mod:`dockyard.image.mount`); they keep
directories and a small JSON record ``metadata.json`` under their root, written
atomically (temp file, fsync, rename) under an ``flock``. Layout::

    ROOT/metadata.json
    ROOT/snapshots/<id>/fs        the snapshot's files (overlay: its upperdir)
    ROOT/snapshots/<id>/work      overlay workdir
    ROOT/snapshots/<id>/stack<n>  helper mountpoints for very deep stacks

Ids are short numbers so that a deep overlay fits the one-page option limit (the
mounts then use paths relative to ``ROOT/snapshots``; see MountSpec.cwd).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import BinaryIO, Protocol

from dockyard.errors import Conflict, InvalidArgument, NotFound, SystemError_
from dockyard.image.diff import DiffOptions, DiffStats, diff_dirs, diff_upperdir
from dockyard.image.layers import LayerStats, Whiteouts, apply_layer
from dockyard.image.mount import MAX_MOUNT_DATA, MountSpec, is_mountpoint_under
from dockyard.image.safetar import TarOptions

OVERLAY_OPTIONS = ("index=off", "metacopy=off", "redirect_dir=off")


class Kind(Enum):
    ACTIVE = "active"
    VIEW = "view"
    COMMITTED = "committed"


@dataclass(frozen=True)
class SnapshotInfo:
    name: str
    kind: Kind
    parent: str | None
    created: float
    id: int
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Usage:
    size: int  # bytes on disk (allocated blocks; hardlinks counted once)
    inodes: int


@dataclass(frozen=True)
class LayerTarget:
    """Where to write a layer for an active snapshot, and in which whiteout form."""

    path: str
    whiteouts: Whiteouts


class Snapshotter(Protocol):
    """key = active snapshot, name = committed one; a parent is always committed.

    See the module docstring for the lifecycle. Errors: NotFound for an unknown
    key/parent, Conflict for a taken key or a removal of a parent in use,
    InvalidArgument for the wrong kind (committing a view, a parent not committed).
    """

    root: str

    def prepare(self, key: str, parent: str | None = None,
                labels: dict[str, str] | None = None) -> list[MountSpec]: ...
    def view(self, key: str, parent: str | None = None,
             labels: dict[str, str] | None = None) -> list[MountSpec]: ...
    def commit(self, name: str, key: str) -> None: ...
    def remove(self, key: str) -> None: ...
    def mounts(self, key: str) -> list[MountSpec]: ...
    def stat(self, key: str) -> SnapshotInfo: ...
    def exists(self, key: str) -> bool: ...
    def usage(self, key: str) -> Usage: ...
    def walk(self) -> Iterator[SnapshotInfo]: ...
    def layer_target(self, key: str) -> LayerTarget: ...
    def diff(self, key: str, out: BinaryIO, options: DiffOptions | None = None) -> DiffStats: ...


class _Base:
    """Bookkeeping shared by the implementations: records, ids, directories."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.path.abspath(root)
        self.snap_dir = os.path.join(self.root, "snapshots")
        os.makedirs(self.snap_dir, exist_ok=True)
        self._meta_path = os.path.join(self.root, "metadata.json")
        self._lock_path = os.path.join(self.root, "lock")

    # -- records --------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self):
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield self._load()
        finally:
            os.close(fd)

    def _load(self) -> dict:
        try:
            with open(self._meta_path) as f:
                return json.load(f)
        except FileNotFoundError:
            return {"version": 1, "next_id": 1, "snapshots": {}}

    def _save(self, meta: dict) -> None:
        tmp = f"{self._meta_path}.tmp{os.getpid()}"
        with open(tmp, "w") as f:
            json.dump(meta, f, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._meta_path)
        dfd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    @staticmethod
    def _info(name: str, rec: dict) -> SnapshotInfo:
        return SnapshotInfo(name=name, kind=Kind(rec["kind"]), parent=rec.get("parent"),
                            created=rec["created"], id=rec["id"], labels=rec.get("labels", {}))

    def _get(self, meta: dict, key: str) -> dict:
        try:
            return meta["snapshots"][key]
        except KeyError:
            raise NotFound(f"snapshot {key!r} not found") from None

    def dir_of(self, snap_id: int) -> str:
        return os.path.join(self.snap_dir, str(snap_id))

    def fs_of(self, snap_id: int) -> str:
        return os.path.join(self.snap_dir, str(snap_id), "fs")

    def _chain(self, meta: dict, parent: str | None) -> list[int]:
        """Ids of ``parent`` and its ancestors, nearest first."""
        ids = []
        while parent is not None:
            rec = self._get(meta, parent)
            ids.append(rec["id"])
            parent = rec.get("parent")
        return ids

    # -- lifecycle ------------------------------------------------------------------------
    def _create(self, key: str, parent: str | None, kind: Kind,
                labels: dict[str, str] | None) -> list[MountSpec]:
        if not key or "\0" in key:
            raise InvalidArgument(f"invalid snapshot key {key!r}")
        with self._locked() as meta:
            if key in meta["snapshots"]:
                raise Conflict(f"snapshot {key!r} already exists")
            if parent is not None:
                prec = self._get(meta, parent)
                if prec["kind"] != Kind.COMMITTED.value:
                    raise InvalidArgument(f"parent {parent!r} is not a committed snapshot")
            snap_id = meta["next_id"]
            meta["next_id"] = snap_id + 1
            path = self.dir_of(snap_id)
            try:
                os.mkdir(path, 0o700)
                os.mkdir(os.path.join(path, "fs"), 0o755)
                self._populate(meta, snap_id, parent, kind)
                meta["snapshots"][key] = {
                    "id": snap_id, "kind": kind.value, "parent": parent,
                    "created": time.time(), "labels": dict(labels or {})}
                self._save(meta)
            except BaseException:
                shutil.rmtree(path, ignore_errors=True)
                raise
            return self._mounts(meta, key)

    def _populate(self, meta: dict, snap_id: int, parent: str | None, kind: Kind) -> None:
        """Fill a new snapshot's directory (implementation-specific)."""

    def prepare(self, key: str, parent: str | None = None,
                labels: dict[str, str] | None = None) -> list[MountSpec]:
        return self._create(key, parent, Kind.ACTIVE, labels)

    def view(self, key: str, parent: str | None = None,
             labels: dict[str, str] | None = None) -> list[MountSpec]:
        return self._create(key, parent, Kind.VIEW, labels)

    def commit(self, name: str, key: str) -> None:
        if not name or "\0" in name:
            raise InvalidArgument(f"invalid snapshot name {name!r}")
        with self._locked() as meta:
            rec = self._get(meta, key)
            if rec["kind"] != Kind.ACTIVE.value:
                raise InvalidArgument(f"snapshot {key!r} is {rec['kind']}, not active")
            if name in meta["snapshots"]:
                raise Conflict(f"snapshot {name!r} already exists")
            rec = dict(rec, kind=Kind.COMMITTED.value)
            del meta["snapshots"][key]
            meta["snapshots"][name] = rec
            self._save(meta)

    def remove(self, key: str) -> None:
        with self._locked() as meta:
            rec = self._get(meta, key)
            users = [n for n, r in meta["snapshots"].items() if r.get("parent") == key]
            if users:
                raise Conflict(f"snapshot {key!r} is the parent of {sorted(users)[:3]}")
            path = self.dir_of(rec["id"])
            busy = is_mountpoint_under(path)
            if busy:
                raise Conflict(f"snapshot {key!r} is still mounted at {busy[0]}")
            del meta["snapshots"][key]
            self._save(meta)  # the record goes first: a crash leaves an orphan dir only
        shutil.rmtree(path, ignore_errors=True)

    def cleanup(self) -> int:
        """Remove directories no record names (left by a crash); returns how many."""
        with self._locked() as meta:
            known = {str(r["id"]) for r in meta["snapshots"].values()}
            n = 0
            for entry in os.listdir(self.snap_dir):
                path = os.path.join(self.snap_dir, entry)
                if entry not in known and not is_mountpoint_under(path):
                    shutil.rmtree(path, ignore_errors=True)
                    n += 1
            return n

    def stat(self, key: str) -> SnapshotInfo:
        return self._info(key, self._get(self._load(), key))

    def exists(self, key: str) -> bool:
        return key in self._load()["snapshots"]

    def walk(self) -> Iterator[SnapshotInfo]:
        meta = self._load()
        for name in sorted(meta["snapshots"]):
            yield self._info(name, meta["snapshots"][name])

    def mounts(self, key: str) -> list[MountSpec]:
        return self._mounts(self._load(), key)

    def _mounts(self, meta: dict, key: str) -> list[MountSpec]:
        raise NotImplementedError

    def usage(self, key: str) -> Usage:
        rec = self._get(self._load(), key)
        return _usage(self.fs_of(rec["id"]))

    def _active(self, key: str) -> dict:
        meta = self._load()
        rec = self._get(meta, key)
        if rec["kind"] != Kind.ACTIVE.value:
            raise InvalidArgument(f"snapshot {key!r} is {rec['kind']}, not active")
        return rec


def _bind(path: str, readonly: bool) -> MountSpec:
    return MountSpec("bind", path, ("rbind", "ro" if readonly else "rw"))


class OverlaySnapshotter(_Base):
    """Each snapshot's ``fs`` is one overlay layer; active ones are upperdirs."""

    def __init__(self, root: str | os.PathLike[str], *,
                 max_option_bytes: int = MAX_MOUNT_DATA) -> None:
        super().__init__(root)
        self.max_option_bytes = max_option_bytes

    def _populate(self, meta: dict, snap_id: int, parent: str | None, kind: Kind) -> None:
        os.mkdir(os.path.join(self.dir_of(snap_id), "work"), 0o700)

    def _mounts(self, meta: dict, key: str) -> list[MountSpec]:
        rec = self._get(meta, key)
        kind = Kind(rec["kind"])
        if kind is Kind.COMMITTED:
            raise InvalidArgument(f"snapshot {key!r} is committed: make a view to mount it")
        lowers = self._chain(meta, rec.get("parent"))
        if kind is Kind.ACTIVE:
            if not lowers:
                return [_bind(self.fs_of(rec["id"]), readonly=False)]
            return self._overlay(rec["id"], lowers, upper=True)
        if not lowers:
            return [_bind(self.fs_of(rec["id"]), readonly=True)]
        if len(lowers) == 1:
            return [_bind(self.fs_of(lowers[0]), readonly=True)]
        return self._overlay(rec["id"], lowers, upper=False)

    def _options(self, lower: list[str], sid: int, upper: bool, rel: bool) -> tuple[str, ...]:
        base = "" if rel else self.snap_dir + "/"
        opts = [f"lowerdir={':'.join(base + p for p in lower)}"]
        if upper:
            opts += [f"upperdir={base}{sid}/fs", f"workdir={base}{sid}/work"]
        return (*opts, *OVERLAY_OPTIONS) if upper else (*opts, "ro")

    def _fits(self, opts: tuple[str, ...]) -> bool:
        return len(MountSpec("overlay", "overlay", opts).data.encode()) <= self.max_option_bytes

    def _overlay(self, sid: int, lower_ids: list[int], upper: bool) -> list[MountSpec]:
        lower = [f"{i}/fs" for i in lower_ids]
        for rel in (False, True):
            opts = self._options(lower, sid, upper, rel)
            if self._fits(opts):
                return [MountSpec("overlay", "overlay", opts, cwd=self.snap_dir if rel else None)]
        # Still too long: mount groups of lowers as read-only overlays at helper
        # mountpoints inside this snapshot's directory, and stack on those.
        helpers: list[MountSpec] = []
        stacked: list[str] = []
        group: list[str] = []
        for path in [*lower, None]:
            candidate = [*group, path] if path is not None else group
            if path is not None and self._fits(self._options(candidate, sid, False, True)) \
                    and len(candidate) < 400:
                group = candidate
                continue
            if len(group) == 1:
                stacked.append(group[0])
            elif group:
                n = len(helpers)
                where = os.path.join(self.dir_of(sid), f"stack{n}")
                os.makedirs(where, exist_ok=True)
                helpers.append(MountSpec("overlay", "overlay",
                                         self._options(group, sid, False, True),
                                         target=where, cwd=self.snap_dir))
                stacked.append(f"{sid}/stack{n}")
            group = [path] if path is not None else []
        opts = self._options(stacked, sid, upper, True)
        if not self._fits(opts):
            raise InvalidArgument(f"overlay stack of {len(lower)} layers is too deep to mount")
        return [*helpers, MountSpec("overlay", "overlay", opts, cwd=self.snap_dir)]

    def layer_target(self, key: str) -> LayerTarget:
        rec = self._active(key)
        form = Whiteouts.OVERLAY if rec.get("parent") else Whiteouts.FLAT
        return LayerTarget(self.fs_of(rec["id"]), form)

    def diff(self, key: str, out: BinaryIO, options: DiffOptions | None = None) -> DiffStats:
        rec = self._active(key)
        return diff_upperdir(self.fs_of(rec["id"]), out, options)


class CopySnapshotter(_Base):
    """Each snapshot is a full copy of its parent (``cp -a``); works on any filesystem."""

    def _populate(self, meta: dict, snap_id: int, parent: str | None, kind: Kind) -> None:
        if parent is None or kind is Kind.VIEW:
            return
        src = self.fs_of(self._get(meta, parent)["id"])
        r = subprocess.run(["cp", "-a", "--reflink=auto", f"{src}/.", self.fs_of(snap_id)],
                           capture_output=True, text=True)
        if r.returncode:
            raise SystemError_(f"copying snapshot {parent!r} failed: {r.stderr.strip()}")

    def _mounts(self, meta: dict, key: str) -> list[MountSpec]:
        rec = self._get(meta, key)
        kind = Kind(rec["kind"])
        if kind is Kind.COMMITTED:
            raise InvalidArgument(f"snapshot {key!r} is committed: make a view to mount it")
        if kind is Kind.VIEW and rec.get("parent"):
            return [_bind(self.fs_of(self._get(meta, rec["parent"])["id"]), readonly=True)]
        return [_bind(self.fs_of(rec["id"]), readonly=kind is Kind.VIEW)]

    def layer_target(self, key: str) -> LayerTarget:
        return LayerTarget(self.fs_of(self._active(key)["id"]), Whiteouts.FLAT)

    def diff(self, key: str, out: BinaryIO, options: DiffOptions | None = None) -> DiffStats:
        meta = self._load()
        rec = self._active(key)
        lower = self.fs_of(self._get(meta, rec["parent"])["id"]) if rec.get("parent") else None
        return diff_dirs(lower, self.fs_of(rec["id"]), out, options)


def apply_to_snapshot(snapshotter: Snapshotter, key: str, stream: BinaryIO, *,
                      options: TarOptions | None = None, **kw) -> LayerStats:
    """Apply a layer straight into an active snapshot's directory (no mount needed)."""
    target = snapshotter.layer_target(key)
    return apply_layer(stream, target.path, whiteouts=target.whiteouts, options=options, **kw)


# root -> the snapshotter kind chosen for it. Choosing probes an overlay mount (~30 ms);
# a long-lived process (the daemon: every create, start and rm) asks again and again,
# and the answer for one directory does not change while it runs.
_CHOSEN: dict[str, type[Snapshotter]] = {}


def default_snapshotter(root: str | os.PathLike[str]) -> Snapshotter:
    """Overlay where this kernel and filesystem can mount it, else copies."""
    key = os.path.realpath(root)
    kind = _CHOSEN.get(key)
    if kind is None:
        from dockyard.image.mount import overlay_supported

        os.makedirs(root, exist_ok=True)
        overlay = os.geteuid() == 0 and overlay_supported(root)
        kind = _CHOSEN[key] = OverlaySnapshotter if overlay else CopySnapshotter
    return kind(root)


def _usage(path: str) -> Usage:
    size = inodes = 0
    seen: set[int] = set()
    for top, dirs, files in os.walk(path):
        for name in dirs + files:
            st = os.lstat(os.path.join(top, name))
            inodes += 1
            if st.st_nlink > 1 and not stat.S_ISDIR(st.st_mode):
                if st.st_ino in seen:
                    continue
                seen.add(st.st_ino)
            size += st.st_blocks * 512
    return Usage(size, inodes)


__all__ = [
    "OVERLAY_OPTIONS", "CopySnapshotter", "Kind", "LayerTarget", "OverlaySnapshotter",
    "SnapshotInfo", "Snapshotter", "Usage", "apply_to_snapshot", "default_snapshotter",
]
