"""Hash-linked chain entries (docs/format.md §5) and the project chain behind them.

The service keeps one chain per project. Every session event is a record in its
project's chain (its ``sequence`` is its place there, ``governance_record_hash`` that
record's hash) *and* an entry in the session chain (``artifact_sequence`` 1.., linked
from the genesis hash by ``previous_content_hash``). Some events exist only in the
project chain -- ``voice.session.ended`` -- which is why ``project_chain_head`` is
above the session chain head.

A project record's hash is ``H(C(record))`` over its scope, sequence, event id and type,
session, occurrence time, payload hash and previous record hash; it cannot include the
session entry's hash, since the entry carries the record's hash.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from hashlib import sha256
from typing import Any

import msgspec

from keel_verify.crypto.canonical import GENESIS_HASH, tagged_sha256
from keel_verify.emit.clock import IdGenerator
from keel_verify.emit.state import ProjectState, SessionState

SESSION_OPERATION = "realtime.session"

#: Canonical bytes (the profile of :mod:`keel_verify.crypto.canonical`) of the float-free
#: values the emitter builds: msgspec's sorted compact encoding equals the profile there
#: (a hypothesis test proves it), and it is several times faster than the stdlib encoder.
canonical_bytes = msgspec.json.Encoder(order="sorted").encode


def canonical_hash(value: Any) -> str:
    """``H(C(value))``: ``"sha256:"`` and the hex SHA-256 of the canonical bytes."""
    return "sha256:" + sha256(canonical_bytes(value)).hexdigest()


@dataclass(frozen=True)
class EventSpec:
    """What a chain entry says about its event, besides the payload."""

    event_type: str
    category: str
    decision: str
    outcome: str
    severity: str = "info"
    operation: str = SESSION_OPERATION
    permit_id: str | None = None
    resource_type: str = "voice_session"
    resource_id: str | None = None  # None: the session id


@dataclass(frozen=True)
class ProjectRecord:
    event_id: str
    event_type: str
    sequence: int
    content_hash: str
    previous_content_hash: str


class ChainBuilder:
    """Appends the events of one API call. Pure: it only accumulates the new entries and
    the new heads; the engine commits them (or drops them) as a whole."""

    def __init__(self, session: SessionState, project: ProjectState, *, created_at: str,
                 request_id: str, ids: IdGenerator) -> None:
        self.session = session
        self._project = project
        self._project_head: tuple[int, str, str, str | None, str | None] | None = None
        self.created_at = created_at
        self.request_id = request_id
        self.ids = ids
        self.entries: list[dict[str, Any]] = []
        self.entry_bytes: list[bytes] = []  # canonical bytes of each entry, as stored
        self._event_count = session.event_count
        self._head_hash = session.head_hash or GENESIS_HASH
        self._head_sequence = session.head_sequence

    @property
    def project(self) -> ProjectState:
        """The project chain's state after the appended records."""
        if self._project_head is not None:
            sequence, head, previous, event_id, event_type = self._project_head
            self._project = replace(self._project, sequence=sequence, head_hash=head,
                                    previous_hash=previous, head_event_id=event_id,
                                    head_event_type=event_type)
            self._project_head = None
        return self._project

    def _project_record(self, event_id: str, event_type: str, payload_hash: str) -> ProjectRecord:
        if self._project_head is None:
            sequence, previous = self._project.sequence, self._project.head_hash
        else:
            sequence, previous = self._project_head[0], self._project_head[1]
        sequence += 1
        record = {
            "canonicalized_payload_hash": payload_hash,
            "chain_scope": self._project.chain_scope,
            "event_id": event_id,
            "event_type": event_type,
            "occurred_at": self.created_at,
            "previous_content_hash": previous,
            "sequence": sequence,
            "session_id": self.session.session_id,
        }
        content_hash = canonical_hash(record)
        self._project_head = (sequence, content_hash, previous, event_id, event_type)
        return ProjectRecord(event_id, event_type, sequence, content_hash, previous)

    def append(self, spec: EventSpec, payload: dict[str, Any]) -> dict[str, Any]:
        """A session event: a project record plus a session chain entry. Returns the entry."""
        session = self.session
        payload_bytes = canonical_bytes(payload)
        payload_hash = tagged_sha256(payload_bytes)
        event_id = self.ids.new("evt")
        record = self._project_record(event_id, spec.event_type, payload_hash)
        entry: dict[str, Any] = {
            "artifact_sequence": self._event_count + 1,
            "canonicalized_payload_hash": payload_hash,
            "category": spec.category,
            "chain_scope": session.chain_scope,
            "created_at": self.created_at,
            "decision": spec.decision,
            "event_id": event_id,
            "event_type": spec.event_type,
            "governance_previous_record_hash": record.previous_content_hash,
            "governance_record_hash": record.content_hash,
            "model": session.model,
            "occurred_at": self.created_at,
            "operation": spec.operation,
            "outcome": spec.outcome,
            "permit_id": spec.permit_id,
            "previous_content_hash": self._head_hash,
            "provider": session.provider,
            "request_id": self.request_id,
            "resource_id": spec.resource_id or session.session_id,
            "resource_type": spec.resource_type,
            "sequence": record.sequence,
            "session_id": session.session_id,
            "severity": spec.severity,
            "surface": "voice",
        }
        if session.schema_version == 1:
            entry["canonicalized_payload"] = payload
        else:
            entry["payload_materialization"] = "hash_only"
        unsigned = canonical_bytes(entry)
        content_hash = "sha256:" + sha256(unsigned).hexdigest()  # over the entry without it
        entry["content_hash"] = content_hash
        self.entries.append(entry)
        # The canonical bytes with content_hash, without encoding the entry again: the
        # member sorts just before "created_at", whose member is the last occurrence of
        # these bytes (only string and number members follow it, and a quote inside a
        # string is escaped).
        cut = unsigned.rindex(b',"created_at":')
        self.entry_bytes.append(b"".join((unsigned[:cut], b',"content_hash":"',
                                          content_hash.encode("ascii"), b'"', unsigned[cut:])))
        self._event_count += 1
        self._head_hash = entry["content_hash"]
        self._head_sequence = record.sequence
        return entry

    def project_only(self, event_type: str, payload: dict[str, Any]) -> ProjectRecord:
        """An event recorded in the project chain only (e.g. ``voice.session.ended``)."""
        return self._project_record(self.ids.new("evt"), event_type, canonical_hash(payload))

    def advance(self, session: SessionState) -> SessionState:
        """``session`` (an updated copy of the builder's) with its chain head moved past
        the appended entries."""
        return replace(session, event_count=self._event_count, head_hash=self._head_hash,
                       head_sequence=self._head_sequence)


def chain_head(session: SessionState) -> dict[str, Any]:
    return {
        "content_hash": session.head_hash or GENESIS_HASH,
        "event_count": session.event_count,
        "sequence": session.head_sequence,
    }


def project_chain_head(project: ProjectState) -> dict[str, Any]:
    return {
        "chain_scope": project.chain_scope,
        "content_hash": project.head_hash,
        "event_id": project.head_event_id,
        "event_type": project.head_event_type,
        "previous_content_hash": project.previous_hash,
        "sequence": project.sequence,
    }
