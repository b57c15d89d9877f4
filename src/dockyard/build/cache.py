"""The build cache: step key -> the build state after that step, in SQLite.

A key is a sha256 over the parent state's key, the instruction (its expanded
fields, not its line), the build args a RUN sees, and the *content* digests of
what the step reads (context files, a URL's bytes, another stage's result) -
never mtimes. The value is the state (config, history, layers, the intermediate
image id) as JSON. Layers live in the image store as intermediate images (like
docker's legacy builder), so GC keeps them; a hit whose blobs are gone is a miss.

The database is ``<data_root>/build/cache.db`` (WAL), so the cache survives
restarts of the CLI and the daemon.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS steps (
    key TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    created REAL NOT NULL,
    used REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS file_hashes (
    path TEXT PRIMARY KEY,
    stamp TEXT NOT NULL,
    digest TEXT NOT NULL
);
"""


def step_key(*parts: Any) -> str:
    """A stable digest of JSON-able parts."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class BuildCache:
    def __init__(self, data_root: str | os.PathLike[str]) -> None:
        self.dir = Path(data_root) / "build"
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.dir / "cache.db", timeout=30, isolation_level=None,
                                   check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT state FROM steps WHERE key = ?", (key,)).fetchone()
            if row is None:
                return None
            self._db.execute("UPDATE steps SET used = ? WHERE key = ?", (time.time(), key))
        return json.loads(row[0])

    def put(self, key: str, state: dict[str, Any]) -> None:
        now = time.time()
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO steps VALUES (?, ?, ?, ?)",
                             (key, json.dumps(state, sort_keys=True), now, now))

    def forget(self, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM steps WHERE key = ?", (key,))

    def entries(self) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            rows = self._db.execute("SELECT key, state FROM steps").fetchall()
        return [(k, json.loads(s)) for k, s in rows]

    def clear(self) -> list[str]:
        with self._lock:
            keys = [k for (k,) in self._db.execute("SELECT key FROM steps").fetchall()]
            self._db.execute("DELETE FROM steps")
            self._db.execute("DELETE FROM file_hashes")
        return keys

    # --- file content digests, remembered by (size, mtime, inode, ctime) --------------
    def file_digest(self, path: str, st: os.stat_result) -> str:
        """sha256 of a file's content. A file whose size, mtime, ctime and inode are
        unchanged is not read again; any of them changing means a re-read, so a
        ``touch`` costs a hash but never a cache miss (the content decides)."""
        stamp = f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}:{st.st_dev}"
        with self._lock:
            row = self._db.execute("SELECT stamp, digest FROM file_hashes WHERE path = ?",
                                   (path,)).fetchone()
        if row is not None and row[0] == stamp:
            return row[1]
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        digest = h.hexdigest()
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO file_hashes VALUES (?, ?, ?)",
                             (path, stamp, digest))
        return digest


__all__ = ["BuildCache", "step_key"]
