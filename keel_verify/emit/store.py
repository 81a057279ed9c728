"""Storage behind a small interface: the engine only reads records and applies commits.

:class:`MemoryStore` keeps everything in dictionaries (tests, the demo and the benchmark
builder); :class:`keel_verify.emit.sqlite_store.SQLiteStore` persists the same records so
that a restarted server loses no session. Both satisfy :class:`Store`.

Each chain entry is stored once, as its canonical bytes; an ended session's artifact is
stored once, as the canonical bytes around its chain (:class:`ArtifactEnvelope`), and
:func:`artifact_parts` puts the two together.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from typing import Any, Protocol

from keel_verify.emit.state import ArtifactEnvelope, Commit, ProjectState, SessionState, StoredCall


class Store(Protocol):
    def get_session(self, session_id: str) -> SessionState | None: ...

    def get_project(self, project_id: str) -> ProjectState | None: ...

    def get_call(self, scope_key: str) -> StoredCall | None: ...

    def known_atoms(self, session_id: str, atom_keys: Iterable[str]) -> set[str]:
        """Which of ``atom_keys`` the session has already recorded."""
        ...

    def entry_bytes(self, session_id: str) -> list[bytes]:
        """The canonical bytes of the session's chain entries, in order."""
        ...

    def chain_array(self, session_id: str) -> bytes:
        """The canonical bytes of the session's ``chain`` array (:func:`chain_array`)."""
        ...

    def get_artifact(self, session_id: str) -> ArtifactEnvelope | None: ...

    def apply(self, commit: Commit) -> None:
        """Apply every change of ``commit``, or none of them. An artifact is stored only
        if the session has none yet (the first one stays)."""
        ...

    def snapshot(self) -> dict[str, Any]:
        """All stored state as plain JSON (tests compare it before and after a call)."""
        ...

    def close(self) -> None: ...


def entries(store: Store, session_id: str) -> list[dict[str, Any]]:
    """The session's chain entries as JSON values."""
    return [json.loads(data) for data in store.entry_bytes(session_id)]


def artifact_parts(envelope: ArtifactEnvelope, chain: bytes) -> list[bytes]:
    """The artifact's canonical bytes, in pieces (write them in order, or join them);
    ``chain`` is the chain array's canonical bytes (:func:`chain_array`)."""
    return [envelope.head, chain, envelope.tail]


def chain_array(entry_bytes: list[bytes]) -> bytes:
    """The canonical bytes of the ``chain`` array, from its entries' canonical bytes."""
    return b"[" + b",".join(entry_bytes) + b"]"


class MemoryStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[str, SessionState] = {}
        self._projects: dict[str, ProjectState] = {}
        self._calls: dict[str, StoredCall] = {}
        self._atoms: set[tuple[str, str]] = set()
        self._entries: dict[str, list[bytes]] = {}
        self._artifacts: dict[str, ArtifactEnvelope] = {}

    def get_session(self, session_id: str) -> SessionState | None:
        return self._sessions.get(session_id)

    def get_project(self, project_id: str) -> ProjectState | None:
        return self._projects.get(project_id)

    def get_call(self, scope_key: str) -> StoredCall | None:
        return self._calls.get(scope_key)

    def known_atoms(self, session_id: str, atom_keys: Iterable[str]) -> set[str]:
        return {key for key in atom_keys if (session_id, key) in self._atoms}

    def entry_bytes(self, session_id: str) -> list[bytes]:
        with self._lock:
            return list(self._entries.get(session_id, ()))

    def chain_array(self, session_id: str) -> bytes:
        return chain_array(self.entry_bytes(session_id))

    def get_artifact(self, session_id: str) -> ArtifactEnvelope | None:
        return self._artifacts.get(session_id)

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
            if commit.artifact is not None:
                self._artifacts.setdefault(*commit.artifact)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "sessions": {k: v.to_json() for k, v in sorted(self._sessions.items())},
                "projects": {k: v.to_json() for k, v in sorted(self._projects.items())},
                "entries": {k: [json.loads(e) for e in v]
                            for k, v in sorted(self._entries.items())},
                "atom_keys": sorted(f"{s}/{k}" for s, k in self._atoms),
                "calls": {k: {"request_hash": v.request_hash, "response": v.response}
                          for k, v in sorted(self._calls.items())},
                "artifacts": sorted(self._artifacts),
            }

    def close(self) -> None:
        pass
