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

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, replace
from hashlib import sha256
from typing import Any, NamedTuple

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


class ProjectRecord(NamedTuple):  # a tuple: one is made per event, on the ingest path
    event_id: str
    event_type: str
    sequence: int
    content_hash: str
    previous_content_hash: str


class Appended(NamedTuple):
    """What the engine needs to know of an appended session event."""

    event_id: str
    sequence: int  # its place in the project chain
    content_hash: str  # the session entry's hash
    governance_record_hash: str  # the project record's hash
    operation: str


class CanonicalTemplate:
    """The canonical bytes of objects that are the same but for a few members (``slots``):
    encoded once, with a marker string in each slot, and cut at the markers. Rendering
    joins the fragments around each slot's canonical bytes, which gives the encoder's own
    output for the whole object (member order and escaping are the encoder's, since the
    fragments are its output). The markers are random (128 bits), so no value or key of
    the caller's can hold one."""

    def __init__(self, fixed: dict[str, Any], slots: Iterable[str]) -> None:
        nonce = secrets.token_hex(16)
        texts = {name: f"keel-emit-slot-{nonce}-{name}" for name in slots}
        markers = {name: canonical_bytes(text) for name, text in texts.items()}
        encoded = canonical_bytes({**fixed, **texts})
        #: The slots in the order :meth:`render` takes their values: the members' order.
        self.slots = tuple(sorted(markers, key=lambda name: encoded.index(markers[name])))
        assert self.slots == tuple(slots), (self.slots, slots)  # callers pass values in order
        parts: list[bytes] = []
        for name in self.slots:
            before, marker, encoded = encoded.partition(markers[name])
            assert marker and markers[name] not in encoded, name  # random: found once
            parts += (before, b"")
        parts.append(encoded)
        self._parts = parts  # fragment, slot, fragment, ..., slot, fragment

    @property
    def fragments(self) -> tuple[bytes, ...]:
        """The canonical bytes around the slots: one more than there are slots."""
        return tuple(self._parts[::2])

    def render(self, values: list[bytes]) -> bytes:
        """The object's canonical bytes; ``values`` are the canonical bytes of the slots'
        values, in the order of :attr:`slots`."""
        parts = self._parts.copy()
        parts[1::2] = values  # raises ValueError unless there is one value per slot
        return b"".join(parts)


_RECORD_SLOTS = ("canonicalized_payload_hash", "event_id", "previous_content_hash", "sequence")
_ENTRY_SLOTS = ("artifact_sequence", "canonicalized_payload_hash", "event_id",
                "governance_previous_record_hash", "governance_record_hash",
                "previous_content_hash", "sequence")
_V1_ENTRY_SLOTS = ("artifact_sequence", "canonicalized_payload", *_ENTRY_SLOTS[1:])


class ChainBuilder:
    """Appends the events of one API call. Pure: it only accumulates the new entries and
    the new heads; the engine commits them (or drops them) as a whole.

    The members an entry (or project record) shares with the call's other entries of the
    same kind are encoded once per call (:class:`CanonicalTemplate`); each event encodes
    only its own hashes, ids and numbers."""

    def __init__(self, session: SessionState, project: ProjectState, *, created_at: str,
                 request_id: str, ids: IdGenerator) -> None:
        self.session = session
        self._project = project
        self._project_head: tuple[int, str, str, str | None, str | None] | None = None
        self.created_at = created_at
        self.request_id = request_id
        self.ids = ids
        self.entry_bytes: list[bytes] = []  # canonical bytes of each entry, as stored
        self._event_count = session.event_count
        self._head_hash = session.head_hash or GENESIS_HASH
        self._head_sequence = session.head_sequence
        self._record_templates: dict[str, CanonicalTemplate] = {}
        self._entry_templates: dict[EventSpec, CanonicalTemplate] = {}
        # by identity first: hashing a spec (nine fields) on every event would be slow
        self._entry_templates_by_id: dict[int, tuple[EventSpec, CanonicalTemplate]] = {}

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

    def _record_template(self, event_type: str) -> CanonicalTemplate:
        template = self._record_templates.get(event_type)
        if template is None:
            template = self._record_templates[event_type] = CanonicalTemplate({
                "chain_scope": self._project.chain_scope,
                "event_type": event_type,
                "occurred_at": self.created_at,
                "session_id": self.session.session_id,
            }, _RECORD_SLOTS)
        return template

    def _entry_template(self, spec: EventSpec) -> CanonicalTemplate:
        known = self._entry_templates_by_id.get(id(spec))
        if known is not None and known[0] is spec:  # kept alive here, so its id is its own
            return known[1]
        template = self._entry_templates.get(spec)
        if template is None:
            session = self.session
            fixed = {
                "category": spec.category,
                "chain_scope": session.chain_scope,
                "created_at": self.created_at,
                "decision": spec.decision,
                "event_type": spec.event_type,
                "model": session.model,
                "occurred_at": self.created_at,
                "operation": spec.operation,
                "outcome": spec.outcome,
                "permit_id": spec.permit_id,
                "provider": session.provider,
                "request_id": self.request_id,
                "resource_id": spec.resource_id or session.session_id,
                "resource_type": spec.resource_type,
                "session_id": session.session_id,
                "severity": spec.severity,
                "surface": "voice",
            }
            if session.schema_version == 1:
                template = CanonicalTemplate(fixed, _V1_ENTRY_SLOTS)
            else:
                template = CanonicalTemplate({**fixed, "payload_materialization": "hash_only"},
                                             _ENTRY_SLOTS)
            self._entry_templates[spec] = template
        self._entry_templates_by_id[id(spec)] = (spec, template)
        return template

    def _project_record(self, event_id: str, event_type: str, payload_hash: str) -> ProjectRecord:
        """The project chain's next record, over ``H(C(record))`` of its members."""
        if self._project_head is None:
            sequence, previous = self._project.sequence, self._project.head_hash
        else:
            sequence, previous = self._project_head[0], self._project_head[1]
        sequence += 1
        record = self._record_template(event_type).render([  # the _RECORD_SLOTS, in order
            canonical_bytes(payload_hash), canonical_bytes(event_id), canonical_bytes(previous),
            b"%d" % sequence])
        content_hash = tagged_sha256(record)
        self._project_head = (sequence, content_hash, previous, event_id, event_type)
        return ProjectRecord(event_id, event_type, sequence, content_hash, previous)

    def append(self, spec: EventSpec, payload: dict[str, Any]) -> Appended:
        """A session event: a project record plus a session chain entry.

        A member of ``payload`` may be a :class:`msgspec.Raw` holding canonical bytes
        already encoded (an atom's own payload): it is written as it is, not encoded again.
        """
        payload_bytes = canonical_bytes(payload)
        payload_hash = tagged_sha256(payload_bytes)
        event_id = self.ids.new("evt")
        record = self._project_record(event_id, spec.event_type, payload_hash)
        values = [  # the _ENTRY_SLOTS, in order (v1: the payload second)
            b"%d" % (self._event_count + 1), canonical_bytes(payload_hash),
            canonical_bytes(event_id), canonical_bytes(record.previous_content_hash),
            canonical_bytes(record.content_hash), canonical_bytes(self._head_hash),
            b"%d" % record.sequence]
        if self.session.schema_version == 1:
            values.insert(1, payload_bytes)
        unsigned = self._entry_template(spec).render(values)
        content_hash = tagged_sha256(unsigned)  # over the entry without it
        # The canonical bytes with content_hash, without encoding the entry again: the
        # member sorts just before "created_at", whose member is the last occurrence of
        # these bytes (only string and number members follow it, and a quote inside a
        # string is escaped).
        cut = unsigned.rindex(b',"created_at":')
        self.entry_bytes.append(b"".join((unsigned[:cut], b',"content_hash":"',
                                          content_hash.encode("ascii"), b'"', unsigned[cut:])))
        self._event_count += 1
        self._head_hash = content_hash
        self._head_sequence = record.sequence
        return Appended(event_id, record.sequence, content_hash, record.content_hash,
                        spec.operation)

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
