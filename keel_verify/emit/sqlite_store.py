"""The SQLite store: the records of :mod:`keel_verify.emit.state` as rows.

A commit is one SQLite transaction, so a crash or an error leaves either all of a call's
changes or none. The database runs in WAL mode with ``synchronous=NORMAL``: a committed
call survives the process being killed (SIGKILL) at any moment; after a power loss the
last commits before it may be lost (``durable=True`` makes every commit wait for the
disk, at a cost in throughput). Checkpoints -- copying the WAL into the database file,
where the disk flushes of this mode happen -- run on a thread and connection of their
own (:class:`_Checkpointer`), so a call does not wait for the copying; the writer only
checkpoints what is left when the WAL has grown long (:data:`WRITER_CHECKPOINT_FRAMES`).
A new file gets 16 KiB pages (a batch of 100 entries is about 130 KB: a quarter of the
pages to write).

Storage is once per fact: each chain entry as its canonical bytes (the entries one call
appends share a row, newline-separated: canonical JSON never holds a raw newline), an artifact
as the canonical bytes around its chain (``artifacts``), sessions and projects as JSON.
JSON is written as UTF-8 (msgspec) and read back exactly (the emitter stores no floats),
so a session resumed after a restart hashes identically.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import msgspec

from keel_verify.emit.state import ArtifactEnvelope, Commit, ProjectState, SessionState, StoredCall

#: Bumped whenever the tables change; an older file is refused, never misread.
FORMAT_VERSION = 3
_SEPARATOR = b"\n"  # between the entries of one row (never inside canonical JSON)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS projects (project_id TEXT PRIMARY KEY, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (session_id TEXT PRIMARY KEY, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    entries BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_by_session ON entries (session_id, id);
CREATE TABLE IF NOT EXISTS atom_keys (
    session_id TEXT NOT NULL,
    atom_key TEXT NOT NULL,
    PRIMARY KEY (session_id, atom_key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS calls (
    scope_key TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    response TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS artifacts (
    session_id TEXT PRIMARY KEY,
    head BLOB NOT NULL,
    tail BLOB NOT NULL
);
"""


def _rows_of(entries: tuple[tuple[str, bytes], ...]) -> list[tuple[str, bytes]]:
    """One row per session: its entries of this commit, in order, newline-separated."""
    by_session: dict[str, list[bytes]] = {}
    for session_id, entry in entries:
        if _SEPARATOR in entry:  # pragma: no cover - canonical JSON escapes newlines
            raise ValueError("an entry's canonical bytes hold a raw newline")
        by_session.setdefault(session_id, []).append(entry)
    return [(session_id, _SEPARATOR.join(items)) for session_id, items in by_session.items()]


#: Page size of a new database file (an existing file keeps its own).
PAGE_SIZE = 16384
#: WAL pages written between two checkpoints: SQLite's own auto-checkpoint threshold.
CHECKPOINT_PAGES = 1000
#: A WAL longer than this many frames after a background checkpoint makes the writer
#: checkpoint itself after its next commit. The WAL only starts again from its beginning
#: when a write finds every frame checkpointed, which a checkpoint running beside a
#: steady writer rarely leaves; the writer's own checkpoint (little left to copy: the
#: background ones did the rest) does, so the WAL stays within about twice this.
WRITER_CHECKPOINT_FRAMES = 2 * CHECKPOINT_PAGES


class _Checkpointer:
    """PASSIVE checkpoints (they never block a writer or a reader) on a daemon thread with
    its own connection, one each time :meth:`request` is called."""

    def __init__(self, path: str) -> None:
        self._connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._wake = threading.Event()
        self._closing = False
        self.behind = False  # the WAL was still long after the last checkpoint
        self._thread = threading.Thread(target=self._run, name="keel-emit-checkpoint",
                                        daemon=True)
        self._thread.start()

    def request(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._closing:
                return
            try:  # (busy, frames in the WAL, frames checkpointed)
                _, frames, _ = self._connection.execute(
                    "PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            except sqlite3.Error:  # pragma: no cover - an I/O error: the next one catches up
                continue
            self.behind = frames > WRITER_CHECKPOINT_FRAMES

    def close(self) -> None:
        self._closing = True
        self._wake.set()
        self._thread.join()
        self._connection.close()


class StoreFormatError(Exception):
    """The file is a database of another keel-emit storage format."""


_dump = msgspec.json.Encoder().encode  # compact UTF-8 JSON; the emitter stores no floats


class SQLiteStore:
    """``path`` is a file, or ``":memory:"`` for a private in-memory database."""

    def __init__(self, path: str | Path = ":memory:", *, durable: bool = False) -> None:
        self.path = str(path)
        # One connection shared by the server's threads; the lock serialises its use.
        self._connection = sqlite3.connect(self.path, check_same_thread=False,
                                           isolation_level=None)
        self._lock = threading.Lock()
        self._checkpointer: _Checkpointer | None = None
        self._unchecked_pages = 0  # written to the WAL since the last checkpoint request
        with self._lock:
            execute = self._connection.execute
            in_memory = self.path == ":memory:"
            execute(f"PRAGMA page_size={PAGE_SIZE}")  # before the file's first write
            execute("PRAGMA journal_mode=MEMORY" if in_memory else "PRAGMA journal_mode=WAL")
            execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            tables = execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
            version = execute("PRAGMA user_version").fetchone()[0]
            if tables and version != FORMAT_VERSION:
                self._connection.close()
                raise StoreFormatError(
                    f"{self.path} holds keel-emit storage format {version}, not "
                    f"{FORMAT_VERSION}; use a new --db file")
            self._connection.executescript(_SCHEMA)
            execute(f"PRAGMA user_version = {FORMAT_VERSION}")
            self._page_size = int(execute("PRAGMA page_size").fetchone()[0])
            if not in_memory:
                execute("PRAGMA wal_autocheckpoint=0")
                self._checkpointer = _Checkpointer(self.path)

    def _one(self, sql: str, *params: Any) -> Any:
        with self._lock:
            return self._connection.execute(sql, params).fetchone()

    def get_session(self, session_id: str) -> SessionState | None:
        row = self._one("SELECT state FROM sessions WHERE session_id = ?", session_id)
        return None if row is None else SessionState.from_json(json.loads(row[0]))

    def get_project(self, project_id: str) -> ProjectState | None:
        row = self._one("SELECT state FROM projects WHERE project_id = ?", project_id)
        return None if row is None else ProjectState.from_json(json.loads(row[0]))

    def get_call(self, scope_key: str) -> StoredCall | None:
        row = self._one("SELECT request_hash, response FROM calls WHERE scope_key = ?",
                        scope_key)
        return None if row is None else StoredCall(row[0], json.loads(row[1]))

    def known_atoms(self, session_id: str, atom_keys: Iterable[str]) -> set[str]:
        keys = list(atom_keys)
        if not keys:
            return set()
        marks = ",".join("?" * len(keys))
        with self._lock:
            rows = self._connection.execute(
                f"SELECT atom_key FROM atom_keys WHERE session_id = ? AND atom_key IN ({marks})",
                (session_id, *keys)).fetchall()
        return {row[0] for row in rows}

    def entry_bytes(self, session_id: str) -> list[bytes]:
        with self._lock:
            rows = self._connection.execute(
                "SELECT entries FROM entries WHERE session_id = ? ORDER BY id", (session_id,)
            ).fetchall()
        return [entry for row in rows for entry in bytes(row[0]).split(_SEPARATOR)]

    def chain_array(self, session_id: str) -> bytes:
        with self._lock:
            rows = self._connection.execute(
                "SELECT entries FROM entries WHERE session_id = ? ORDER BY id", (session_id,)
            ).fetchall()
        return b"[" + b",".join(bytes(row[0]).replace(_SEPARATOR, b",") for row in rows) + b"]"

    def get_artifact(self, session_id: str) -> ArtifactEnvelope | None:
        row = self._one("SELECT head, tail FROM artifacts WHERE session_id = ?", session_id)
        return None if row is None else ArtifactEnvelope(bytes(row[0]), bytes(row[1]))

    def apply(self, commit: Commit) -> None:
        with self._lock:
            connection = self._connection
            connection.execute("BEGIN IMMEDIATE")
            try:
                connection.executemany(
                    "INSERT OR REPLACE INTO sessions VALUES (?, ?)",
                    [(s.session_id, _dump(s)) for s in commit.sessions])
                connection.executemany(
                    "INSERT OR REPLACE INTO projects VALUES (?, ?)",
                    [(p.project_id, _dump(p)) for p in commit.projects])
                connection.executemany(
                    "INSERT INTO entries (session_id, entries) VALUES (?, ?)",
                    _rows_of(commit.entries))
                connection.executemany("INSERT INTO atom_keys VALUES (?, ?)",
                                       list(commit.atom_keys))
                connection.executemany(
                    "INSERT INTO calls VALUES (?, ?, ?)",
                    [(key, call.request_hash, _dump(call.response))
                     for key, call in commit.calls])
                if commit.artifact is not None:
                    session_id, envelope = commit.artifact
                    connection.execute("INSERT OR IGNORE INTO artifacts VALUES (?, ?, ?)",
                                       (session_id, envelope.head, envelope.tail))
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
            self._after_commit(commit)

    def _after_commit(self, commit: Commit) -> None:
        """Ask for a checkpoint every :data:`CHECKPOINT_PAGES` pages (an estimate: the
        bytes written, plus a few pages of rows and index per commit), or checkpoint here
        once the WAL is long. The call is committed already: a checkpoint that fails
        changes nothing, and a later one catches up. Holds the lock."""
        if self._checkpointer is None:
            return
        if self._checkpointer.behind:
            self._checkpointer.behind = False
            with contextlib.suppress(sqlite3.Error):
                self._connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
            self._unchecked_pages = 0
            return
        written = sum(len(entry) for _, entry in commit.entries)
        if commit.artifact is not None:
            written += len(commit.artifact[1].head) + len(commit.artifact[1].tail)
        self._unchecked_pages += written // self._page_size + 4
        if self._unchecked_pages >= CHECKPOINT_PAGES:
            self._unchecked_pages = 0
            self._checkpointer.request()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            execute = self._connection.execute
            sessions = execute("SELECT session_id, state FROM sessions ORDER BY 1").fetchall()
            projects = execute("SELECT project_id, state FROM projects ORDER BY 1").fetchall()
            entries = execute("SELECT session_id, entries FROM entries ORDER BY id").fetchall()
            atoms = execute("SELECT session_id, atom_key FROM atom_keys").fetchall()
            calls = execute("SELECT * FROM calls ORDER BY 1").fetchall()
            artifacts = execute("SELECT session_id FROM artifacts ORDER BY 1").fetchall()
        by_session: dict[str, list[Any]] = {}
        for session_id, joined in entries:
            by_session.setdefault(session_id, []).extend(
                json.loads(entry) for entry in bytes(joined).split(_SEPARATOR))
        return {
            "sessions": {k: json.loads(v) for k, v in sessions},
            "projects": {k: json.loads(v) for k, v in projects},
            "entries": dict(sorted(by_session.items())),
            "atom_keys": sorted(f"{s}/{k}" for s, k in atoms),
            "calls": {k: {"request_hash": h, "response": json.loads(r)} for k, h, r in calls},
            "artifacts": [row[0] for row in artifacts],
        }

    def close(self) -> None:
        with self._lock:
            if self._checkpointer is not None:
                self._checkpointer.close()
                self._checkpointer = None
            self._connection.close()
