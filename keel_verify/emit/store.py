"""Storage behind a small interface: the engine only reads records and applies commits.

:class:`MemoryStore` keeps everything in dictionaries (tests, the demo and the benchmark
builder); :class:`keel_verify.emit.sqlite_store.SQLiteStore` persists the same records so
that a restarted server loses no session. Both satisfy :class:`Store`.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from keel_verify.emit.state import Commit, ProjectState, SessionState, StoredCall


class Store(Protocol):
    def get_session(self, session_id: str) -> SessionState | None: ...

    def get_project(self, project_id: str) -> ProjectState | None: ...

    def get_call(self, scope_key: str) -> StoredCall | None: ...

    def has_atom(self, session_id: str, atom_key: str) -> bool: ...

    def entries(self, session_id: str) -> list[dict[str, Any]]:
        """The session's chain entries, in order."""
        ...

    def apply(self, commit: Commit) -> None:
        """Apply every change of ``commit``, or none of them."""
        ...

    def snapshot(self) -> dict[str, Any]:
        """All stored state as plain JSON (tests compare it before and after a call)."""
        ...

    def close(self) -> None: ...


class MemoryStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[str, SessionState] = {}
        self._projects: dict[str, ProjectState] = {}
        self._calls: dict[str, StoredCall] = {}
        self._atoms: set[tuple[str, str]] = set()
        self._entries: dict[str, list[dict[str, Any]]] = {}

    def get_session(self, session_id: str) -> SessionState | None:
        return self._sessions.get(session_id)

    def get_project(self, project_id: str) -> ProjectState | None:
        return self._projects.get(project_id)

    def get_call(self, scope_key: str) -> StoredCall | None:
        return self._calls.get(scope_key)

    def has_atom(self, session_id: str, atom_key: str) -> bool:
        return (session_id, atom_key) in self._atoms

    def entries(self, session_id: str) -> list[dict[str, Any]]:
        return list(self._entries.get(session_id, ()))

    def apply(self, commit: Commit) -> None:
        # Nothing below can fail half-way: plain dictionary and list updates.
        with self._lock:
            for session in commit.sessions:
                self._sessions[session.session_id] = session
            for project in commit.projects:
                self._projects[project.project_id] = project
            for session_id, entry in commit.entries:
                self._entries.setdefault(session_id, []).append(entry)
            self._atoms.update(commit.atom_keys)
            self._calls.update(commit.calls)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "sessions": {k: v.to_json() for k, v in sorted(self._sessions.items())},
                "projects": {k: v.to_json() for k, v in sorted(self._projects.items())},
                "entries": {k: list(v) for k, v in sorted(self._entries.items())},
                "atom_keys": sorted(f"{s}/{k}" for s, k in self._atoms),
                "calls": {k: {"request_hash": v.request_hash, "response": v.response}
                          for k, v in sorted(self._calls.items())},
            }

    def close(self) -> None:
        pass
