"""ImageStore: what images exist, what they are called, what they hold.

Layout under the data root (``/var/lib/dockyard`` by default)::

    content/            the blob store (content.py): manifests, configs, layers
    image/metadata.db   this module's SQLite database (WAL)
    image/lock          flock: shared while a multi-step job runs, exclusive for GC
    snapshots/          the snapshotter's directories (img-layers' snapshots.py)

Why SQLite: an image is several rows that must change together (record, tags,
digests, layer chain) and a crash must leave either all or none of them. Every
change is one transaction; blobs and snapshots are written *before* the rows that
name them, so a killed load leaves at worst unreferenced blobs and snapshots that
GC removes, never a record pointing at something missing.

Reference counts: a layer's count is the number of images whose chain holds it,
computed from the ``image_layers`` table rather than kept as a counter, so it can
never drift after a crash.

Leases: :meth:`ImageStore.lease` returns a context manager taking the shared lock
and recording a row (with the holder's pid) plus the blobs/snapshots it protects;
GC takes the lock exclusively, so it never runs in the middle of a load, pull or
import, and it also keeps everything named by a lease whose holder is alive.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from dockyard.errors import Conflict, InvalidArgument, NotFound, Unavailable
from dockyard.image import reference as refs
from dockyard.image.content import ContentStore
from dockyard.image.digest import Digest
from dockyard.pids import alive as _alive

_SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY,            -- config digest
    manifest_digest TEXT NOT NULL,
    manifest_media_type TEXT NOT NULL,
    index_digest TEXT,
    platform TEXT NOT NULL DEFAULT '',
    created TEXT,
    size INTEGER NOT NULL DEFAULT 0,
    parent TEXT,
    added REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tags (
    ref TEXT PRIMARY KEY,           -- docker.io/library/busybox:latest
    repo TEXT NOT NULL,
    tag TEXT NOT NULL,
    image_id TEXT NOT NULL REFERENCES images(id)
);
CREATE TABLE IF NOT EXISTS repo_digests (
    repo TEXT NOT NULL,
    digest TEXT NOT NULL,           -- manifest (or index) digest in that repository
    image_id TEXT NOT NULL REFERENCES images(id),
    PRIMARY KEY (repo, digest)
);
CREATE TABLE IF NOT EXISTS image_blobs (
    image_id TEXT NOT NULL REFERENCES images(id),
    digest TEXT NOT NULL,
    kind TEXT NOT NULL,             -- index, manifest, config, layer
    PRIMARY KEY (image_id, digest)
);
CREATE TABLE IF NOT EXISTS image_layers (
    image_id TEXT NOT NULL REFERENCES images(id),
    idx INTEGER NOT NULL,
    chain_id TEXT NOT NULL,
    PRIMARY KEY (image_id, idx)
);
CREATE TABLE IF NOT EXISTS layers (
    chain_id TEXT PRIMARY KEY,
    diff_id TEXT NOT NULL,
    parent TEXT,                    -- parent chain id
    size INTEGER NOT NULL DEFAULT 0,   -- uncompressed tar size
    snapshot TEXT NOT NULL          -- committed snapshot name
);
CREATE TABLE IF NOT EXISTS leases (
    id TEXT PRIMARY KEY,
    pid INTEGER NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS lease_resources (
    lease_id TEXT NOT NULL REFERENCES leases(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,             -- blob, snapshot
    name TEXT NOT NULL,
    PRIMARY KEY (lease_id, kind, name)
);
CREATE TABLE IF NOT EXISTS pins (
    owner TEXT NOT NULL,            -- who needs it, e.g. "container:<id>"
    kind TEXT NOT NULL,             -- blob, snapshot
    name TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (owner, kind, name)
);
CREATE INDEX IF NOT EXISTS tags_by_image ON tags(image_id);
CREATE INDEX IF NOT EXISTS layers_by_chain ON image_layers(chain_id);
"""


@dataclass(frozen=True)
class LayerRecord:
    chain_id: Digest
    diff_id: Digest
    parent: Digest | None
    size: int
    snapshot: str


@dataclass(frozen=True)
class BlobRef:
    digest: Digest
    kind: str  # index, manifest, config, layer


@dataclass(frozen=True)
class NewImage:
    """What a loader/puller/importer hands the store once every blob is in."""

    id: Digest
    manifest_digest: Digest
    manifest_media_type: str
    chain_ids: tuple[Digest, ...]
    blobs: tuple[BlobRef, ...]
    platform: str = ""
    created: str | None = None
    size: int = 0
    index_digest: Digest | None = None
    parent: Digest | None = None


@dataclass(frozen=True)
class ImageRecord:
    id: Digest
    manifest_digest: Digest
    manifest_media_type: str
    platform: str
    created: str | None
    size: int
    added: float
    chain_ids: tuple[Digest, ...]
    repo_tags: tuple[str, ...] = ()       # fully qualified, sorted
    repo_digests: tuple[str, ...] = ()    # name@digest, sorted
    index_digest: Digest | None = None
    parent: Digest | None = None
    blobs: tuple[BlobRef, ...] = field(default=())

    @property
    def short_id(self) -> str:
        return self.id.hex[:12]

    @property
    def dangling(self) -> bool:
        """No name at all (Docker counts digest references as names too)."""
        return not self.repo_tags and not self.repo_digests


class Lease:
    """Keeps named blobs and snapshots alive while multi-step work runs."""

    def __init__(self, store: ImageStore, lease_id: str) -> None:
        self._store = store
        self.id = lease_id

    def add_blob(self, digest: Digest) -> None:
        self._store._lease_add(self.id, "blob", str(digest))

    def add_snapshot(self, name: str) -> None:
        self._store._lease_add(self.id, "snapshot", name)


class ImageStore:
    """Image metadata over a content store. One instance per process is enough;
    SQLite's own locking makes several processes safe (WAL, busy timeout)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.meta_dir = self.root / "image"
        self.meta_dir.mkdir(parents=True, exist_ok=True)
        self.snapshots_root = self.root / "snapshots"
        self.content = ContentStore(self.root / "content")
        self._lock_path = self.meta_dir / "lock"
        self._own_leases = 0
        self._db = sqlite3.connect(self.meta_dir / "metadata.db", timeout=30,
                                   isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)
        self._upgrade()

    def _upgrade(self) -> None:
        """Bring a store made by an earlier dockyard up to this schema."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(pins)")}
        if "created" not in columns:   # pins before they were ordered
            self._db.execute("ALTER TABLE pins ADD COLUMN created REAL NOT NULL DEFAULT 0")

    def close(self) -> None:
        self._db.close()

    # --- transactions and locks ----------------------------------------------------

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @contextmanager
    def _flock(self, exclusive: bool, timeout: float = 60.0) -> Iterator[None]:
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, mode | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise Unavailable("the image store is busy (another load, pull, "
                                          "import or prune is running)") from None
                    time.sleep(0.05)
            yield
        finally:
            os.close(fd)

    @contextmanager
    def lease(self) -> Iterator[Lease]:
        """Protect what multi-step work writes until its image is recorded.

        Add a resource to the lease *before* writing it, so GC never sees it
        unprotected."""
        lease_id = uuid.uuid4().hex
        with self._flock(exclusive=False):
            with self._tx() as db:
                db.execute("INSERT INTO leases VALUES (?, ?, ?)",
                           (lease_id, os.getpid(), time.time()))
            self._own_leases += 1
            try:
                yield Lease(self, lease_id)
            finally:
                self._own_leases -= 1
                with self._tx() as db:
                    db.execute("DELETE FROM leases WHERE id = ?", (lease_id,))

    @contextmanager
    def exclusive(self, timeout: float = 60.0) -> Iterator[None]:
        """Hold the store alone (GC, check's repairs).

        Other processes' leases hold the shared lock, so this waits for them.
        Inside this process's own lease (a daemon collecting while it pulls) the
        lock cannot be upgraded; then the lease rows alone protect their
        resources, which is why resources join a lease before they are written."""
        if self._own_leases:
            yield
            return
        with self._flock(exclusive=True, timeout=timeout):
            yield

    def _lease_add(self, lease_id: str, kind: str, name: str) -> None:
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO lease_resources VALUES (?, ?, ?)",
                       (lease_id, kind, name))

    def leased(self) -> set[tuple[str, str]]:
        """(kind, name) held by leases whose process is still alive, and by pins."""
        out: set[tuple[str, str]] = self.pinned()
        for lease_id, pid in self._db.execute("SELECT id, pid FROM leases").fetchall():
            if _alive(pid):
                out.update(self._db.execute(
                    "SELECT kind, name FROM lease_resources WHERE lease_id = ?",
                    (lease_id,)).fetchall())
        return out

    # --- pins: GC roots that outlive any process ---------------------------------
    # A container's rw snapshot must survive while the container exists, whether a
    # daemon runs or not (an in-process `image prune` with no daemon up); a lease
    # dies with its pid, a pin only when its owner removes it.

    def pin(self, owner: str, kind: str, name: str) -> None:
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO pins VALUES (?, ?, ?, ?)",
                       (owner, kind, name, time.time()))

    def unpin(self, owner: str, kind: str | None = None, name: str | None = None) -> None:
        """Drop one pin, or every pin of ``owner`` when kind and name are omitted."""
        with self._tx() as db:
            if kind is None:
                db.execute("DELETE FROM pins WHERE owner = ?", (owner,))
            else:
                db.execute("DELETE FROM pins WHERE owner = ? AND kind = ? AND name = ?",
                           (owner, kind, name))

    def pinned(self, owner_prefix: str = "") -> set[tuple[str, str]]:
        """(kind, name) of every pin (of owners starting with ``owner_prefix``)."""
        rows = self._db.execute("SELECT kind, name FROM pins WHERE owner >= ? AND owner < ?",
                                (owner_prefix, owner_prefix + "\uffff")).fetchall()
        return {(k, n) for k, n in rows}

    def pin_owners(self, owner_prefix: str = "") -> set[str]:
        rows = self._db.execute("SELECT DISTINCT owner FROM pins WHERE owner >= ? "
                                "AND owner < ?", (owner_prefix, owner_prefix + "\uffff"))
        return {r[0] for r in rows.fetchall()}

    def pin_owners_of(self, kind: str, name: str) -> list[str]:
        """Who pins (kind, name), oldest pin first (e.g. the containers of an image)."""
        rows = self._db.execute("SELECT owner FROM pins WHERE kind = ? AND name = ? "
                                "ORDER BY created, owner", (kind, name)).fetchall()
        return [r[0] for r in rows]

    def drop_dead_leases(self) -> int:
        """Remove leases of processes that died (killed loads); returns how many."""
        dead = [lid for lid, pid in self._db.execute("SELECT id, pid FROM leases").fetchall()
                if not _alive(pid)]
        with self._tx() as db:
            for lid in dead:
                db.execute("DELETE FROM leases WHERE id = ?", (lid,))
        return len(dead)

    # --- images --------------------------------------------------------------------

    def add_image(self, new: NewImage) -> ImageRecord:
        """Record an image whose blobs are already in the content store.

        Its layers need not be unpacked yet: ``chain_ids`` name what unpack.py
        will make (the ``layers`` table lists what exists).

        Idempotent: recording the same id again refreshes the manifest it points to
        and keeps its tags."""
        return self.add_image_tagged(new, ())[0]

    def add_image_tagged(self, new: NewImage, tags: Sequence[refs.Reference]
                         ) -> tuple[ImageRecord, list[tuple[refs.Reference, Digest]]]:
        """:meth:`add_image` plus tags, in one transaction (a crash never leaves the
        image recorded but unnamed). Returns the record and, for each tag that moved,
        (tag, the image it named before)."""
        tags = [t.with_default_tag() for t in tags]
        for t in tags:
            if t.digest is not None:
                raise InvalidArgument(f"refusing to create a tag with a digest reference: {t}")
        for b in new.blobs:
            if not self.content.exists(b.digest):
                raise NotFound(f"cannot record image {new.id}: blob {b.digest} is missing")
        with self._tx() as db:
            db.execute(
                "INSERT INTO images (id, manifest_digest, manifest_media_type, index_digest,"
                " platform, created, size, parent, added) VALUES (?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT(id) DO UPDATE SET manifest_digest=excluded.manifest_digest,"
                " manifest_media_type=excluded.manifest_media_type,"
                " index_digest=excluded.index_digest",
                (str(new.id), str(new.manifest_digest), new.manifest_media_type,
                 _s(new.index_digest), new.platform, new.created, new.size,
                 _s(new.parent), time.time()))
            db.execute("DELETE FROM image_layers WHERE image_id = ?", (str(new.id),))
            db.executemany("INSERT INTO image_layers VALUES (?, ?, ?)",
                           [(str(new.id), i, str(c)) for i, c in enumerate(new.chain_ids)])
            db.executemany("INSERT OR REPLACE INTO image_blobs VALUES (?, ?, ?)",
                           [(str(new.id), str(b.digest), b.kind) for b in new.blobs])
            moved = []
            for t in tags:
                row = db.execute("SELECT image_id FROM tags WHERE ref = ?",
                                 (t.tagged,)).fetchone()
                if row and row[0] != str(new.id):
                    moved.append((t, Digest.parse(row[0])))
                db.execute("INSERT OR REPLACE INTO tags VALUES (?, ?, ?, ?)",
                           (t.tagged, t.name, t.tag, str(new.id)))
        return self.get(new.id), moved

    def get(self, image_id: Digest) -> ImageRecord:
        row = self._db.execute("SELECT * FROM images WHERE id = ?", (str(image_id),)).fetchone()
        if row is None:
            raise NotFound(f"No such image: {image_id}")
        return self._record(row)

    def exists(self, image_id: Digest) -> bool:
        return self._db.execute("SELECT 1 FROM images WHERE id = ?",
                                (str(image_id),)).fetchone() is not None

    def list(self) -> list[ImageRecord]:
        rows = self._db.execute("SELECT * FROM images ORDER BY added DESC, id").fetchall()
        return [self._record(r) for r in rows]

    def _record(self, row: Sequence) -> ImageRecord:
        (iid, mdig, mtype, idx, plat, created, size, parent, added) = row
        db = self._db
        chains = tuple(Digest.parse(c) for (c,) in db.execute(
            "SELECT chain_id FROM image_layers WHERE image_id = ? ORDER BY idx", (iid,)))
        tags = tuple(r for (r,) in db.execute(
            "SELECT ref FROM tags WHERE image_id = ? ORDER BY ref", (iid,)))
        digests = tuple(f"{repo}@{d}" for repo, d in db.execute(
            "SELECT repo, digest FROM repo_digests WHERE image_id = ? ORDER BY repo, digest",
            (iid,)))
        blobs = tuple(BlobRef(Digest.parse(d), k) for d, k in db.execute(
            "SELECT digest, kind FROM image_blobs WHERE image_id = ? ORDER BY kind, digest",
            (iid,)))
        return ImageRecord(Digest.parse(iid), Digest.parse(mdig), mtype, plat, created, size,
                           added, chains, tags, digests,
                           Digest.parse(idx) if idx else None,
                           Digest.parse(parent) if parent else None, blobs)

    def resolve(self, text: str | refs.Reference) -> ImageRecord:
        """Find an image as users name it: a reference (``busybox``, ``x:tag``,
        ``x@sha256:...``), a full id (``sha256:...``) or a unique id prefix."""
        if isinstance(text, refs.Reference):
            text = str(text)
        if not text:
            raise InvalidArgument("empty image name")
        if refs.is_image_id_prefix(text):
            found = self._by_id_prefix(text)
            if found is not None:
                return found
        try:
            ref = refs.parse(text)
        except InvalidArgument:
            if refs.is_image_id_prefix(text):
                raise NotFound(f"No such image: {text}") from None
            raise
        if ref.digest is not None:
            row = self._db.execute(
                "SELECT image_id FROM repo_digests WHERE repo = ? AND digest = ?",
                (ref.name, str(ref.digest))).fetchone()
            if row is None:
                row = self._db.execute(
                    "SELECT images.id FROM images JOIN tags ON tags.image_id = images.id"
                    " WHERE tags.repo = ? AND (images.manifest_digest = ?"
                    " OR images.index_digest = ?) LIMIT 1",
                    (ref.name, str(ref.digest), str(ref.digest))).fetchone()
            if row is None:
                raise NotFound(f"No such image: {ref.familiar()}")
            return self.get(Digest.parse(row[0]))
        ref = ref.with_default_tag()
        row = self._db.execute("SELECT image_id FROM tags WHERE ref = ?",
                               (ref.tagged,)).fetchone()
        if row is None:
            raise NotFound(f"No such image: {ref.familiar()}")
        return self.get(Digest.parse(row[0]))

    def _by_id_prefix(self, text: str) -> ImageRecord | None:
        body = text[len("sha256:"):] if text.startswith("sha256:") else text
        rows = self._db.execute("SELECT id FROM images WHERE id LIKE ? LIMIT 2",
                                (f"sha256:{body}%",)).fetchall()
        if len(rows) > 1:
            raise Conflict(f"image id prefix {text!r} is ambiguous")
        return self.get(Digest.parse(rows[0][0])) if rows else None

    def tag(self, ref: refs.Reference, image_id: Digest) -> Digest | None:
        """Point ``ref`` (name:tag) at an image; returns the image it pointed to before."""
        if ref.digest is not None:
            raise InvalidArgument(f"refusing to create a tag with a digest reference: {ref}")
        ref = ref.with_default_tag()
        with self._tx() as db:
            if db.execute("SELECT 1 FROM images WHERE id = ?", (str(image_id),)).fetchone() \
                    is None:
                raise NotFound(f"No such image: {image_id}")
            row = db.execute("SELECT image_id FROM tags WHERE ref = ?",
                             (ref.tagged,)).fetchone()
            db.execute("INSERT OR REPLACE INTO tags VALUES (?, ?, ?, ?)",
                       (ref.tagged, ref.name, ref.tag, str(image_id)))
        old = Digest.parse(row[0]) if row else None
        return old if old != image_id else None

    def untag(self, ref: refs.Reference) -> Digest:
        """Remove one tag (or repo digest); returns the image it named."""
        with self._tx() as db:
            if ref.digest is not None:
                row = db.execute("SELECT image_id FROM repo_digests WHERE repo = ? AND "
                                 "digest = ?", (ref.name, str(ref.digest))).fetchone()
                if row:
                    db.execute("DELETE FROM repo_digests WHERE repo = ? AND digest = ?",
                               (ref.name, str(ref.digest)))
            else:
                ref = ref.with_default_tag()
                row = db.execute("SELECT image_id FROM tags WHERE ref = ?",
                                 (ref.tagged,)).fetchone()
                if row:
                    db.execute("DELETE FROM tags WHERE ref = ?", (ref.tagged,))
        if row is None:
            raise NotFound(f"No such image: {ref.familiar()}")
        return Digest.parse(row[0])

    def add_repo_digest(self, repo: refs.Reference, digest: Digest, image_id: Digest) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO repo_digests VALUES (?, ?, ?)",
                       (repo.name, str(digest), str(image_id)))

    def delete_image(self, image_id: Digest) -> None:
        """Forget an image and its names; GC then frees what nothing else uses."""
        with self._tx() as db:
            for table in ("tags", "repo_digests", "image_blobs", "image_layers"):
                db.execute(f"DELETE FROM {table} WHERE image_id = ?", (str(image_id),))
            cur = db.execute("DELETE FROM images WHERE id = ?", (str(image_id),))
            if cur.rowcount == 0:
                raise NotFound(f"No such image: {image_id}")

    def set_size(self, image_id: Digest, size: int) -> None:
        """Replace an image's size (the unpacked size, once known)."""
        with self._tx() as db:
            db.execute("UPDATE images SET size = ? WHERE id = ?", (size, str(image_id)))

    def children(self, image_id: Digest) -> list[Digest]:
        return [Digest.parse(r) for (r,) in self._db.execute(
            "SELECT id FROM images WHERE parent = ?", (str(image_id),))]

    def record_pull(self, ref: refs.Reference, manifest_digest: Digest,
                    repo_digest: Digest | None = None,
                    index_digest: Digest | None = None) -> ImageRecord:
        """Record an image whose manifest, config and layers are already in the
        content store (the registry client wrote and verified them).

        ``ref``'s tag (if any) is pointed at the image; ``repo_digest`` (default:
        ``ref``'s digest, else the manifest digest) is recorded as ``name@digest``.
        Layers are unpacked later, on first use (unpack.ensure_unpacked), which
        also replaces the compressed size recorded here with the unpacked one."""
        from dockyard.image import manifest as mf

        man = mf.parse(self.content.read_bytes(manifest_digest))
        if not isinstance(man, mf.Manifest):
            raise InvalidArgument(f"{manifest_digest} is an index: pass the platform's "
                                  "manifest digest and the index as repo_digest")
        config = mf.parse_config(self.content.read_bytes(man.config.digest))
        if len(config.diff_ids) != len(man.layers):
            raise InvalidArgument(f"manifest {manifest_digest}: {len(man.layers)} layers, "
                                  f"config lists {len(config.diff_ids)} diff_ids")
        blobs = [BlobRef(manifest_digest, "manifest"), BlobRef(man.config.digest, "config")]
        blobs += [BlobRef(d.digest, "layer") for d in man.layers]
        if index_digest is not None:
            blobs.append(BlobRef(index_digest, "index"))
        rec = self.add_image(NewImage(
            man.config.digest, manifest_digest, man.media_type, mf.chain_ids(config.diff_ids),
            tuple(dict.fromkeys(blobs)), str(config.platform), config.created,
            sum(d.size for d in man.layers), index_digest))
        if ref.tag is not None:
            self.tag(ref.repository().with_tag(ref.tag), rec.id)
        self.add_repo_digest(ref, repo_digest or ref.digest or manifest_digest, rec.id)
        return self.get(rec.id)

    # --- layers --------------------------------------------------------------------

    def add_layer(self, layer: LayerRecord) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO layers VALUES (?, ?, ?, ?, ?)",
                       (str(layer.chain_id), str(layer.diff_id), _s(layer.parent),
                        layer.size, layer.snapshot))

    def get_layer(self, chain_id: Digest) -> LayerRecord | None:
        row = self._db.execute("SELECT * FROM layers WHERE chain_id = ?",
                               (str(chain_id),)).fetchone()
        return _layer(row) if row else None

    def list_layers(self) -> list[LayerRecord]:
        return [_layer(r) for r in self._db.execute("SELECT * FROM layers ORDER BY chain_id")]

    def layer_refcount(self, chain_id: Digest) -> int:
        """Images whose chain holds this layer (directly or as a parent)."""
        return self._db.execute("SELECT COUNT(DISTINCT image_id) FROM image_layers "
                                "WHERE chain_id = ?", (str(chain_id),)).fetchone()[0]

    def remove_layer(self, chain_id: Digest) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM layers WHERE chain_id = ?", (str(chain_id),))

    # --- gc inputs -----------------------------------------------------------------

    def all_image_blobs(self) -> list[tuple[Digest, Digest]]:
        return [(Digest.parse(i), Digest.parse(d)) for i, d in
                self._db.execute("SELECT image_id, digest FROM image_blobs")]


def _layer(row: Sequence) -> LayerRecord:
    chain, diff, parent, size, snap = row
    return LayerRecord(Digest.parse(chain), Digest.parse(diff),
                       Digest.parse(parent) if parent else None, size, snap)


def _s(d: Digest | None) -> str | None:
    return str(d) if d is not None else None


__all__ = ["BlobRef", "ImageRecord", "ImageStore", "LayerRecord", "Lease", "NewImage"]
