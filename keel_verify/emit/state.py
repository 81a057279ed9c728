"""What the emitter stores, as typed immutable records, and the unit of work that
changes them.

The engine never mutates stored state. Each call reads records, validates, computes new
records, and hands one :class:`Commit` to the store, which applies it all-or-nothing.
Every record converts to and from plain JSON (``to_json`` / ``from_json``) so that the
SQLite store can persist it and a restarted server can pick a session up again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

#: Previous hash of a project chain's first record (the public samples' convention).
PROJECT_GENESIS_HASH = "sha256:" + "0" * 64


@dataclass(frozen=True)
class ProjectState:
    """The head of a project's chain: the service keeps one chain per project."""

    project_id: str
    sequence: int = 0  # the last record's sequence (0: empty)
    head_hash: str = PROJECT_GENESIS_HASH
    previous_hash: str = PROJECT_GENESIS_HASH  # the head record's own previous hash
    head_event_id: str | None = None
    head_event_type: str | None = None

    @property
    def chain_scope(self) -> str:
        return f"project:{self.project_id}"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = msgspec.to_builtins(self)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProjectState:
        return cls(**data)


@dataclass(frozen=True)
class Counters:
    """The session's running totals, reported in ``session_metadata`` at the end."""

    turn_count: int = 0
    denied_turn_count: int = 0
    tool_call_count: int = 0
    denied_tool_call_count: int = 0
    interruption_count: int = 0
    atom_count: int = 0
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class SessionState:
    session_id: str
    project_id: str
    schema_version: int
    idempotency_key: str
    provider: str
    model: str
    execution_mode: str
    region_code: str
    started_at: str
    policy_snapshot: dict[str, Any]  # embedded verbatim in the artifact
    parent_permit: dict[str, Any]
    sidecar_keys: dict[str, str]  # key_id -> hex of the raw Ed25519 public key
    risk_budget_total_micros: int | None
    risk_budget_used_micros: int = 0
    status: str = "active"
    ended_at: str | None = None
    # the session chain's head
    event_count: int = 0
    head_hash: str = ""
    head_sequence: int | None = None
    counters: Counters = field(default_factory=Counters)
    child_permits: tuple[dict[str, Any], ...] = ()
    used_spend_authorities: tuple[str, ...] = ()
    usage: dict[str, int] = field(default_factory=dict)  # meter -> quantity, at the end
    end_metadata: dict[str, Any] = field(default_factory=dict)
    failure_reason: str | None = None
    end_request_hash: str | None = None  # the end body's hash: a retried end is recognised
    project_head: dict[str, Any] | None = None  # the project chain head the end recorded
    idempotency_scope: str = ""  # the start's scope key (project and idempotency key)

    @property
    def snapshot_hash(self) -> str:
        """The locked snapshot's hash, ``sha256:`` form."""
        value: str = self.policy_snapshot["snapshot_hash"]
        return value

    @property
    def chain_scope(self) -> str:
        return f"project:{self.project_id}"

    @property
    def permit_id(self) -> str:
        value: str = self.parent_permit["permit_id"]
        return value

    @property
    def budget_remaining(self) -> int | None:
        if self.risk_budget_total_micros is None:
            return None
        return self.risk_budget_total_micros - self.risk_budget_used_micros

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = msgspec.to_builtins(self)  # tuples become lists
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SessionState:
        data = dict(data)
        data["counters"] = Counters(**data["counters"])
        data["child_permits"] = tuple(data["child_permits"])
        data["used_spend_authorities"] = tuple(data["used_spend_authorities"])
        return cls(**data)


@dataclass(frozen=True)
class StoredCall:
    """An idempotent call's fingerprint and answer: a retry gets the same answer, and a
    reused key with a different body is refused."""

    request_hash: str
    response: dict[str, Any]


@dataclass(frozen=True)
class Commit:
    """Everything one call changes; a store applies it atomically, or not at all."""

    sessions: tuple[SessionState, ...] = ()
    projects: tuple[ProjectState, ...] = ()
    entries: tuple[tuple[str, bytes], ...] = ()  # (session_id, canonical bytes of an entry)
    atom_keys: tuple[tuple[str, str], ...] = ()  # (session_id, atom idempotency key)
    calls: tuple[tuple[str, StoredCall], ...] = ()  # (idempotency scope key, call)
    artifact: tuple[str, ArtifactEnvelope] | None = None  # (session_id, envelope)


@dataclass(frozen=True)
class ArtifactEnvelope:
    """A signed artifact stored once: its canonical bytes before and after the chain
    array. The chain entries themselves are stored once, as entries, and the artifact is
    ``head + "[" + ",".join(entries) + "]" + tail``."""

    head: bytes
    tail: bytes
