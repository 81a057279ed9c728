"""The session engine: start, events, turns, action permits, interruptions, end.

Each call follows the same three steps, which is what makes it atomic:

1. *validate* -- parse the body (:mod:`keel_verify.emit.requests`) and check it against
   the stored state; any problem raises :class:`EmitError` and nothing has changed;
2. *compute* -- build the new chain entries, permits and records in memory;
3. *commit* -- hand one :class:`~keel_verify.emit.state.Commit` to the store.

Idempotency: a call carrying a key that was already used returns the stored answer when
the body is the same, and is refused (409) when it differs. Replayed atoms are skipped.
Calls are serialised by a lock, so the HTTP server's threads cannot interleave them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keel_verify.crypto import ed25519 as strict_ed25519
from keel_verify.crypto.canonical import canonical_hash, tagged_sha256
from keel_verify.emit import requests as rq
from keel_verify.emit.artifact import build_artifact, witness
from keel_verify.emit.chain import ChainBuilder, EventSpec, chain_head, project_chain_head
from keel_verify.emit.clock import Clock, IdGenerator, format_time
from keel_verify.emit.errors import CONFLICT, NOT_FOUND, UNPROCESSABLE, EmitError
from keel_verify.emit.permits import (
    ActionDecision,
    action_payload,
    child_permit,
    evaluate_action,
    parent_permit,
)
from keel_verify.emit.policy import PolicySource, default_policies, lock_snapshot, rules_of
from keel_verify.emit.signing import fingerprint_key_id
from keel_verify.emit.state import (
    Commit,
    ProjectState,
    SessionState,
    StoredCall,
)
from keel_verify.emit.store import Store
from keel_verify.emit.timestamping import NoTimestamper, Timestamper

CALLS = ("start", "events", "turns", "action_permits", "interruption_events", "end")


@dataclass(frozen=True)
class EngineConfig:
    schema_version: int = 3  # default for sessions whose start body does not choose
    region_code: str = "us-west-1"
    policies: PolicySource = default_policies
    key_id: str | None = None  # None: "sha256:" + 32 hex of the key (the v1 convention)


@dataclass(frozen=True)
class _Effect:
    """What a call changes, committed in one store transaction with its answer."""

    builder: ChainBuilder  # the new chain entries, and the project chain they extend
    session: SessionState  # the session after the call
    response: dict[str, Any]
    atom_keys: tuple[tuple[str, str], ...] = ()  # (session id, atom idempotency key)


class Engine:
    def __init__(
        self,
        store: Store,
        *,
        issuer_key: Ed25519PrivateKey,
        clock: Clock,
        ids: IdGenerator,
        timestamper: Timestamper | None = None,
        config: EngineConfig | None = None,
    ) -> None:
        self.store = store
        self.issuer_key = issuer_key
        self.clock = clock
        self.ids = ids
        self.timestamper = timestamper or NoTimestamper()
        self.config = config or EngineConfig()
        if self.config.schema_version not in (1, 3):
            raise ValueError("schema_version must be 1 or 3")
        self._lock = threading.Lock()

    # -- dispatch ------------------------------------------------------------------------

    def call(self, name: str, session_id: str | None, body: Any) -> dict[str, Any]:
        """Run one API call by name (as in a replay scenario or an HTTP route)."""
        if name == "start":
            return self.start(body)
        handlers: dict[str, Callable[[str, Any], dict[str, Any]]] = {
            "events": self.events,
            "turns": self.turn,
            "action_permits": self.action_permit,
            "interruption_events": self.interruption,
            "end": self.end,
        }
        if name not in handlers:
            raise EmitError(UNPROCESSABLE, f"unknown call {name!r} (one of {', '.join(CALLS)})")
        if not session_id:
            raise EmitError(UNPROCESSABLE, f"call {name!r} needs a session id")
        return handlers[name](session_id, body)

    # -- helpers -------------------------------------------------------------------------

    def _once(self, scope: str, body: Any, effect: Callable[[], _Effect]) -> dict[str, Any]:
        """The idempotency rule, for every call but ``end`` (hold the lock): a replay of
        a key with the same body gets the stored answer; the same key with another body is
        refused (409); otherwise ``effect`` runs, and its entries, session, project and
        answer are stored together, or nothing is."""
        request_hash, stored = self._replayed(scope, body)
        if stored is not None:
            return stored
        done = effect()
        self._commit(done.builder, done.session,
                     calls=((scope, StoredCall(request_hash, done.response)),),
                     atom_keys=done.atom_keys)
        return done.response

    def _replayed(self, scope_key: str, body: Any) -> tuple[str, dict[str, Any] | None]:
        """(request hash, stored answer if this idempotency key was used with this body)."""
        request_hash = canonical_hash(body)
        stored = self.store.get_call(scope_key)
        if stored is None:
            return request_hash, None
        if stored.request_hash != request_hash:
            raise EmitError(CONFLICT, "idempotency key already used with a different request "
                                      "body")
        return request_hash, stored.response

    def _session(self, session_id: str) -> SessionState:
        session = self.store.get_session(session_id)
        if session is None:
            raise EmitError(NOT_FOUND, f"unknown session {session_id!r:.80}")
        return session

    def _active(self, session_id: str) -> SessionState:
        session = self._session(session_id)
        if session.status != "active":
            raise EmitError(CONFLICT, f"session {session_id} has {session.status}; it accepts "
                                      "no more calls")
        return session

    def _builder(self, session: SessionState, now: datetime) -> ChainBuilder:
        project = self.store.get_project(session.project_id) or ProjectState(session.project_id)
        return ChainBuilder(session, project, created_at=format_time(now),
                            request_id=self.ids.new("req"), ids=self.ids)

    def _commit(self, builder: ChainBuilder, session: SessionState, *,
                calls: tuple[tuple[str, StoredCall], ...] = (),
                atom_keys: tuple[tuple[str, str], ...] = ()) -> None:
        self.store.apply(Commit(
            sessions=(session,),
            projects=(builder.project,),
            entries=tuple((session.session_id, entry) for entry in builder.entries),
            atom_keys=atom_keys,
            calls=calls,
        ))

    # -- start ---------------------------------------------------------------------------

    def start(self, body: Any) -> dict[str, Any]:
        request = rq.parse_start(body)
        with self._lock:
            return self._once(f"start:{request.project_id}:{request.idempotency_key}", body,
                              lambda: self._start_session(request))

    def _start_session(self, request: rq.StartRequest) -> _Effect:
        now = self.clock.now()
        started_at = format_time(now)
        session_id = self.ids.new("sess")
        snapshot = lock_snapshot(request.project_id,
                                 self.config.policies(request.project_id),
                                 self.ids.new("ps"))
        rules = rules_of(snapshot)
        permit = parent_permit(request, permit_id=self.ids.new("perm"),
                               session_id=session_id, snapshot=snapshot, rules=rules,
                               created_at=started_at)
        session = SessionState(
            session_id=session_id,
            project_id=request.project_id,
            schema_version=request.schema_version or self.config.schema_version,
            idempotency_key=request.idempotency_key,
            provider=request.provider,
            model=request.model,
            execution_mode=request.execution_mode,
            region_code=request.region_code or self.config.region_code,
            started_at=started_at,
            policy_snapshot=snapshot,
            parent_permit=permit,
            sidecar_keys={k.key_id: k.public_key.hex() for k in request.sidecar_keys},
            risk_budget_total_micros=request.risk_budget_total_micros,
        )
        builder = self._builder(session, now)
        builder.append(
            EventSpec("voice.session.started", "session_lifecycle", "allowed",
                      "session_started"),
            {
                "execution_mode": request.execution_mode,
                "parent_permit_id": permit["permit_id"],
                "policy_snapshot_hash": snapshot["snapshot_hash"],
                "risk_budget_total_micros": request.risk_budget_total_micros,
                "sidecar_key_ids": sorted(session.sidecar_keys),
            },
        )
        session = builder.advance(session)
        response = {
            "session_id": session_id,
            "status": session.status,
            "started_at": started_at,
            "schema_version": session.schema_version,
            "permit": permit,
            "policy_snapshot_id": snapshot["snapshot_id"],
            "policy_snapshot_hash": snapshot["snapshot_hash"],
            "risk_budget_total_micros": request.risk_budget_total_micros,
            "chain_head": chain_head(session),
        }
        return _Effect(builder, session, response)

    # -- events --------------------------------------------------------------------------

    def events(self, session_id: str, body: Any) -> dict[str, Any]:
        batch = rq.parse_events(body)
        with self._lock:
            session = self._active(session_id)
            return self._once(f"events:{session_id}:{batch.batch_idempotency_key}", body,
                              lambda: self._record_events(session, batch))

    def _record_events(self, session: SessionState, batch: rq.EventBatch) -> _Effect:
        session_id = session.session_id
        signature_status = [_check_sidecar(atom, session) for atom in batch.atoms]
        fresh = [(atom, status) for atom, status in zip(batch.atoms, signature_status,
                                                         strict=True)
                 if not self.store.has_atom(session_id, atom.idempotency_key)]
        builder = self._builder(session, self.clock.now())
        recorded = []
        for atom, status in fresh:
            spec, payload = _atom_event(atom, status)
            entry = builder.append(spec, payload)
            recorded.append({"idempotency_key": atom.idempotency_key,
                             "event_id": entry["event_id"],
                             "sequence": entry["sequence"],
                             "content_hash": entry["content_hash"]})
        counters = replace(session.counters,
                           atom_count=session.counters.atom_count + len(fresh))
        session = builder.advance(replace(session, counters=counters))
        fresh_keys = {atom.idempotency_key for atom, _ in fresh}
        response = {
            "session_id": session_id,
            "accepted": len(fresh),
            "duplicates": [a.idempotency_key for a in batch.atoms
                           if a.idempotency_key not in fresh_keys],
            "events": recorded,
            "chain_head": chain_head(session),
        }
        atom_keys = tuple((session_id, key) for key in sorted(fresh_keys))
        return _Effect(builder, session, response, atom_keys=atom_keys)

    # -- turns and actions ---------------------------------------------------------------

    def turn(self, session_id: str, body: Any) -> dict[str, Any]:
        request = rq.parse_turn(body)
        with self._lock:
            session = self._active(session_id)
            return self._once(f"turns:{session_id}:{request.idempotency_key}", body,
                              lambda: self._evaluate_turn(session, request))

    def _evaluate_turn(self, session: SessionState, request: rq.TurnRequest) -> _Effect:
        session_id = session.session_id
        remaining = session.budget_remaining
        if remaining is not None and remaining <= 0:
            raise EmitError(CONFLICT, f"session {session_id} has exhausted its risk budget "
                                      f"({session.risk_budget_total_micros} micros)")
        rules = rules_of(session.policy_snapshot)
        reason = None
        tokens = request.input_tokens + request.output_tokens
        if rules.max_tokens_per_turn is not None and tokens > rules.max_tokens_per_turn:
            reason = "This turn is longer than the session's policy allows."
        elif remaining is not None and request.risk_budget_used_micros > remaining:
            reason = "This request would exceed the session's risk budget."
        allowed = reason is None
        used = request.risk_budget_used_micros if allowed else 0
        now = self.clock.now()
        builder = self._builder(session, now)
        counters = session.counters
        turn_index = counters.turn_count + 1
        after = None if remaining is None else remaining - used
        turn_payload: dict[str, Any] = {
            "decision": "allow" if allowed else "deny",
            "input_tokens": request.input_tokens,
            "output_tokens": request.output_tokens,
            "risk_budget_remaining_micros": after,
            "risk_budget_used_micros": request.risk_budget_used_micros,
            "turn_index": turn_index,
        }
        if reason is not None:
            turn_payload["user_facing_reason"] = reason
        builder.append(
            EventSpec("voice.turn.evaluated", "turn_governance",
                      "allowed" if allowed else "denied",
                      "turn_allowed" if allowed else "turn_denied",
                      severity="info" if allowed else "warning",
                      resource_type="voice_turn", resource_id=f"turn_{turn_index}"),
            turn_payload,
        )
        session = replace(session, risk_budget_used_micros=session.risk_budget_used_micros
                          + used)
        counters = replace(counters, turn_count=turn_index,
                           denied_turn_count=counters.denied_turn_count + (not allowed),
                           input_tokens=counters.input_tokens + request.input_tokens,
                           output_tokens=counters.output_tokens + request.output_tokens)
        session = replace(session, counters=counters)
        response: dict[str, Any] = {
            "session_id": session_id,
            "turn_index": turn_index,
            "decision": "allow" if allowed else "deny",
            "risk_budget_remaining_micros": after,
        }
        if reason is not None:
            response["user_facing_reason"] = reason
        if request.tool_call is not None:
            if allowed:
                session, outcome = self._govern(
                    session, builder, request.tool_call, now,
                    event_type="voice.tool_invocation.governed", category="tool_governance",
                    resource_type="tool_call", extra={"turn_index": turn_index})
            else:
                outcome = {"decision": "deny",
                           "user_facing_reason": "The turn was denied, so its tool call "
                                                 "was not evaluated."}
            response["tool_call"] = outcome
        session = builder.advance(session)
        response["chain_head"] = chain_head(session)
        return _Effect(builder, session, response)

    def action_permit(self, session_id: str, body: Any) -> dict[str, Any]:
        request = rq.parse_action_permit(body)
        with self._lock:
            session = self._active(session_id)
            return self._once(f"action_permits:{session_id}:{request.idempotency_key}", body,
                              lambda: self._issue_action_permit(session, request))

    def _issue_action_permit(self, session: SessionState, request: rq.ActionPermitRequest) -> _Effect:
        session_id = session.session_id
        now = self.clock.now()
        builder = self._builder(session, now)
        session, outcome = self._govern(
            session, builder, request.action, now, event_type="voice.action.governed",
            category="action_governance", resource_type="action", extra={})
        session = builder.advance(session)
        response = {"session_id": session_id, **outcome, "chain_head": chain_head(session)}
        return _Effect(builder, session, response)

    def _govern(self, session: SessionState, builder: ChainBuilder, action: rq.ActionRequest,
                now: datetime, *, event_type: str, category: str, resource_type: str,
                extra: dict[str, Any]) -> tuple[SessionState, dict[str, Any]]:
        """Decide a tool call or action, record it, and issue its child permit."""
        rules = rules_of(session.policy_snapshot)
        decision: ActionDecision = evaluate_action(action, session, rules)
        call_id = action.call_id or self.ids.new("call")
        permit_id = self.ids.new("perm") if decision.allowed else None
        entry = builder.append(
            EventSpec(event_type, category, "allowed" if decision.allowed else "denied",
                      f"{resource_type}_allowed" if decision.allowed
                      else f"{resource_type}_denied",
                      severity="info" if decision.allowed else "warning",
                      operation=f"tool.{action.name}", permit_id=permit_id,
                      resource_type=resource_type, resource_id=call_id),
            {**action_payload(action, call_id, decision), **extra},
        )
        counters = session.counters
        counters = replace(counters, tool_call_count=counters.tool_call_count + 1,
                           denied_tool_call_count=counters.denied_tool_call_count
                           + (not decision.allowed))
        session = replace(session, counters=counters)
        outcome: dict[str, Any] = {"call_id": call_id,
                                   "decision": "allow" if decision.allowed else "deny"}
        if not decision.allowed:
            outcome["user_facing_reason"] = decision.reason
            return session, outcome
        assert permit_id is not None
        permit = child_permit(action, session=session, rules=rules, permit_id=permit_id,
                              call_id=call_id, governed_entry=entry,
                              resource_type=resource_type, now=now, extra_metadata=extra)
        used = session.used_spend_authorities
        if action.payment is not None:  # one-shot: this authority can never pay again
            used = (*used, action.payment.authority.authority_id)
        session = replace(session, child_permits=(*session.child_permits, permit),
                          used_spend_authorities=used)
        outcome.update(permit_id=permit_id, permit=permit)
        return session, outcome

    # -- interruptions -------------------------------------------------------------------

    def interruption(self, session_id: str, body: Any) -> dict[str, Any]:
        request = rq.parse_interruption(body)
        with self._lock:
            session = self._active(session_id)
            return self._once(f"interruption_events:{session_id}:{request.idempotency_key}", body,
                              lambda: self._record_interruption(session, request))

    def _record_interruption(self, session: SessionState, request: rq.InterruptionRequest) -> _Effect:
        session_id = session.session_id
        index = request.interrupted_turn_index
        if index is not None and index > session.counters.turn_count:
            raise EmitError(UNPROCESSABLE, f"body.interrupted_turn_index {index}: the "
                            f"session has had {session.counters.turn_count} turn(s)")
        builder = self._builder(session, self.clock.now())
        payload: dict[str, Any] = {"idempotency_key": request.idempotency_key}
        if index is not None:
            payload["interrupted_turn_index"] = index
        if request.reason is not None:
            payload["reason"] = request.reason
        if request.captured_at_ns is not None:
            payload["captured_at_ns"] = request.captured_at_ns
        entry = builder.append(
            EventSpec("voice.turn.interrupted", "conversation_control", "recorded",
                      "agent_interrupted"),
            payload,
        )
        counters = replace(session.counters,
                           interruption_count=session.counters.interruption_count + 1)
        session = builder.advance(replace(session, counters=counters))
        response = {"session_id": session_id, "event_id": entry["event_id"],
                    "interruption_count": counters.interruption_count,
                    "chain_head": chain_head(session)}
        return _Effect(builder, session, response)

    # -- end -----------------------------------------------------------------------------

    def end(self, session_id: str, body: Any) -> dict[str, Any]:
        """End the session and return its signed, timestamped attestation artifact."""
        request = rq.parse_end(body)
        with self._lock:
            session = self._session(session_id)
            if session.status != "active":
                key = request.idempotency_key
                if key is not None and key == session.end_idempotency_key:
                    assert session.artifact is not None
                    return session.artifact  # a retried end: the same artifact
                raise EmitError(CONFLICT, f"session {session_id} has already {session.status}")
            now = self.clock.now()
            ended_at = format_time(now)
            builder = self._builder(session, now)
            session = replace(session, status=request.status, ended_at=ended_at,
                              usage=request.usage, failure_reason=request.failure_reason,
                              end_idempotency_key=request.idempotency_key)
            builder.project_only("voice.session.ended", {
                "chain_head_hash": session.head_hash,
                "ended_at": ended_at,
                "event_count": session.event_count,
                "session_id": session_id,
                "status": session.status,
            })
            project_head = project_chain_head(builder.project)
            witnessed = witness(self.timestamper, project_head, now, ended_at)
            artifact = build_artifact(
                session, self.store.entries(session_id), project_head, witnessed,
                issued_at=ended_at, issuer_key=self.issuer_key,
                key_id=self.config.key_id or fingerprint_key_id(self.issuer_key))
            session = replace(session, artifact=artifact)
            self._commit(builder, session)
            return artifact


# -- atoms -----------------------------------------------------------------------------------

_ATOM_EVENTS: dict[str, tuple[str, str, str]] = {
    "audio_chunk": ("voice.audio_chunk.recorded", "media_evidence", "audio_chunk_hashed"),
    "transcript_span": ("voice.transcript_span.recorded", "conversation_evidence",
                        "transcript_span_recorded"),
    "tool_invocation_attempt": ("voice.tool_invocation.attempted", "tool_governance",
                                "tool_invocation_attempted"),
    "lifecycle_marker": ("voice.lifecycle.marked", "session_lifecycle",
                         "lifecycle_marker_recorded"),
    "interruption": ("voice.interruption.observed", "conversation_control",
                     "interruption_observed"),
    "provider_opaque_marker": ("voice.provider_marker.recorded", "provider_evidence",
                               "provider_marker_recorded"),
}
AI_DISCLOSURE_MARKER = "ai_disclosure_emitted"


def _check_sidecar(atom: rq.Atom, session: SessionState) -> str:
    """``verified`` / ``unverified`` / ``absent``; a registered Ed25519 key whose
    signature does not verify rejects the whole batch (422)."""
    signature = atom.signature
    if signature is None:
        return "absent"
    if signature.label != "ed25519" or signature.key_id not in session.sidecar_keys:
        return "unverified"  # ML-DSA, certificate chains and unknown keys are only recorded
    public = bytes.fromhex(session.sidecar_keys[signature.key_id])
    if not strict_ed25519.verify(public, signature.value, atom.signed_message):
        raise EmitError(UNPROCESSABLE, f"atoms[{atom.index}].sidecar_signature does not verify "
                        f"with the registered key {signature.key_id!r}")
    return "verified"


def _atom_event(atom: rq.Atom, signature_status: str) -> tuple[EventSpec, dict[str, Any]]:
    event_type, category, outcome = _ATOM_EVENTS[atom.atom_type]
    operation, resource_type, resource_id = "realtime.session", "voice_session", None
    if atom.atom_type == "lifecycle_marker" and atom.fields["marker"] == AI_DISCLOSURE_MARKER:
        event_type, category, outcome = ("voice.ai_disclosure.emitted", "regulatory_evidence",
                                         "disclosure_emitted")
    elif atom.atom_type == "tool_invocation_attempt":
        operation = f"tool.{atom.fields['tool_name']}"
        resource_type, resource_id = "tool_call", atom.fields.get("call_id")
    payload: dict[str, Any] = {
        "atom_type": atom.atom_type,
        "captured_at_ns": atom.captured_at_ns,
        "direction": atom.direction,
        "idempotency_key": atom.idempotency_key,
        **atom.fields,
    }
    if atom.signature is not None:
        payload["sidecar_signature"] = {
            "key_id": atom.signature.key_id,
            "label": atom.signature.label,
            "signature_hash": tagged_sha256(atom.signature.value),
            "status": signature_status,
        }
    spec = EventSpec(event_type, category, "recorded", outcome, operation=operation,
                     resource_type=resource_type, resource_id=resource_id)
    return spec, payload
