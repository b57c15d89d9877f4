"""Durable container records: one SQLite (WAL) row per container.

Why SQLite: a container's state must survive ``kill -9`` of the daemon and a new
daemon must find every container as it was last reported; each change is one
transaction, committed before the API answers. The name is a UNIQUE column, so
two concurrent creates (or a create racing a rename) can never share a name:
the database decides, not a check-then-write in Python.

The record itself is one JSON document (``doc``); ``name``, ``image_id`` and
``status`` are copied into columns for lookups and filters.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dockyard.engine.model import ContainerRecord, ContainerState
from dockyard.errors import Conflict, InvalidArgument, NotFound

_SCHEMA = """
CREATE TABLE IF NOT EXISTS containers (
    id       TEXT PRIMARY KEY,
    name     TEXT NOT NULL UNIQUE,
    image_id TEXT NOT NULL,
    status   TEXT NOT NULL,
    created  TEXT NOT NULL,
    doc      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS containers_image ON containers(image_id);
"""


def name_conflict(name: str, holder: str) -> Conflict:
    return Conflict(f'Conflict. The container name "/{name}" is already in use by container '
                    f'"{holder}". You have to remove (or rename) that container to be able '
                    "to reuse that name.")


class ContainerStore:
    """Thread-safe: one connection behind a lock (calls are sub-millisecond)."""

    def __init__(self, path: Path, data_root: str, exec_root: str) -> None:
        self.path = path
        self.data_root = data_root
        self.exec_root = exec_root
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None,
                                   check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")   # WAL: durable across a daemon crash
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _load(self, doc: str) -> ContainerRecord:
        return ContainerRecord.from_row(json.loads(doc), self.data_root, self.exec_root)

    # --- writes ------------------------------------------------------------------------

    def add(self, rec: ContainerRecord) -> None:
        """Insert a new record; Conflict (docker's words) when the name is taken."""
        with self._tx() as db:
            row = db.execute("SELECT id FROM containers WHERE name = ?", (rec.name,)).fetchone()
            if row is not None:
                raise name_conflict(rec.name, row[0])
            db.execute("INSERT INTO containers VALUES (?, ?, ?, ?, ?, ?)",
                       (rec.id, rec.name, rec.image_id, rec.state.status, rec.created,
                        json.dumps(rec.to_row())))

    def save(self, rec: ContainerRecord) -> None:
        """Write the whole record (its name must be its own already)."""
        with self._tx() as db:
            cur = db.execute("UPDATE containers SET status = ?, doc = ? WHERE id = ?",
                             (rec.state.status, json.dumps(rec.to_row()), rec.id))
            if cur.rowcount == 0:
                raise NotFound(f"No such container: {rec.id}")

    def update_state(self, cid: str, **fields: object) -> ContainerRecord:
        """Change State fields (and ``restart_count``, ``manually_stopped`` ...) in one
        transaction; returns the new record."""
        with self._tx() as db:
            rec = self._get_locked(db, cid)
            for key, value in fields.items():
                if hasattr(rec.state, key):
                    setattr(rec.state, key, value)
                elif hasattr(rec, key) and key not in ("id", "name", "state"):
                    setattr(rec, key, value)
                else:
                    raise InvalidArgument(f"unknown container field {key!r}")
            db.execute("UPDATE containers SET status = ?, doc = ? WHERE id = ?",
                       (rec.state.status, json.dumps(rec.to_row()), rec.id))
            return rec

    def set_state(self, cid: str, state: ContainerState) -> None:
        with self._tx() as db:
            rec = self._get_locked(db, cid)
            rec.state = state
            db.execute("UPDATE containers SET status = ?, doc = ? WHERE id = ?",
                       (state.status, json.dumps(rec.to_row()), cid))

    def rename(self, cid: str, new_name: str) -> str:
        """Returns the old name; Conflict when ``new_name`` is taken."""
        with self._tx() as db:
            rec = self._get_locked(db, cid)
            row = db.execute("SELECT id FROM containers WHERE name = ?", (new_name,)).fetchone()
            if row is not None:
                raise name_conflict(new_name, row[0])
            old = rec.name
            rec.name = new_name
            db.execute("UPDATE containers SET name = ?, doc = ? WHERE id = ?",
                       (new_name, json.dumps(rec.to_row()), cid))
            return old

    def remove(self, cid: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM containers WHERE id = ?", (cid,))

    # --- reads -------------------------------------------------------------------------

    def _get_locked(self, db: sqlite3.Connection, cid: str) -> ContainerRecord:
        row = db.execute("SELECT doc FROM containers WHERE id = ?", (cid,)).fetchone()
        if row is None:
            raise NotFound(f"No such container: {cid}")
        return self._load(row[0])

    def get(self, cid: str) -> ContainerRecord:
        with self._lock:
            return self._get_locked(self._db, cid)

    def exists(self, cid: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM containers WHERE id = ?",
                                    (cid,)).fetchone() is not None

    def name_taken(self, name: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM containers WHERE name = ?",
                                    (name,)).fetchone() is not None

    def resolve(self, ref: str) -> ContainerRecord:
        """Docker's lookup order: full id, exact name (with or without "/"), unique id
        prefix. NotFound "No such container: <ref>"; an ambiguous prefix is 400."""
        if not ref:
            raise NotFound("No such container: ")
        with self._lock:
            db = self._db
            row = db.execute("SELECT doc FROM containers WHERE id = ?", (ref,)).fetchone()
            if row is None:
                name = ref[1:] if ref.startswith("/") else ref
                row = db.execute("SELECT doc FROM containers WHERE name = ?",
                                 (name,)).fetchone()
            if row is None and all(c in "0123456789abcdef" for c in ref):
                like = ref.replace("%", "").replace("_", "") + "%"
                rows = db.execute("SELECT doc FROM containers WHERE id LIKE ? LIMIT 2",
                                  (like,)).fetchall()
                if len(rows) > 1:
                    raise InvalidArgument(f"multiple IDs found with provided prefix: {ref}")
                row = rows[0] if rows else None
            if row is None:
                raise NotFound(f"No such container: {ref}")
            return self._load(row[0])

    def list(self) -> list[ContainerRecord]:
        """Every record, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT doc FROM containers ORDER BY created DESC, rowid DESC").fetchall()
        return [self._load(r[0]) for r in rows]

    def ids(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT id FROM containers").fetchall()]

    def count_using(self, image_id: str) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM containers WHERE image_id = ?",
                                    (image_id,)).fetchone()[0]

    def users_of(self, image_id: str) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute(
                "SELECT id FROM containers WHERE image_id = ? ORDER BY created",
                (image_id,)).fetchall()]


__all__ = ["ContainerStore", "name_conflict"]
