"""The session engine: start, events, turns, action permits, interruptions, end, and the
retrieval of a session and its artifact.

Each call follows the same three steps, which is what makes it atomic:

1. *validate* -- decode the body into its declared type (:mod:`keel_verify.emit.bodies`)
   and check it against the stored state; any problem raises :class:`EmitError` and
   nothing has changed;
2. *compute* -- build the new chain entries, permits and records in memory;
3. *commit* -- hand one :class:`~keel_verify.emit.state.Commit` to the store.

Idempotency: a call carrying a key that was already used returns the stored answer when
the body is the same -- also after the session has ended -- and is refused (409) when it
differs. Replayed atoms are skipped. Calls are serialised by a lock, except the slow half
of ``end``: the RFC 3161 request and the signing run outside it, so a slow TSA stalls
nobody else.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keel_verify.crypto.canonical import tagged_sha256
from keel_verify.emit import atom_signing
from keel_verify.emit import bodies as b
from keel_verify.emit.artifact import build_artifact, split_around, witness
from keel_verify.emit.chain import (
    ChainBuilder,
    EventSpec,
    canonical_bytes,
    canonical_hash,
    chain_head,
    project_chain_head,
)
from keel_verify.emit.clock import Clock, IdGenerator, format_time, parse_time
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
    ArtifactEnvelope,
    Commit,
    ProjectState,
    SessionState,
    StoredCall,
)
from keel_verify.emit.store import Store, artifact_parts
from keel_verify.emit.timestamping import NoTimestamper, Timestamper


def request_hash_of(body: Any) -> str:
    """The fingerprint of a request body (canonical bytes: same JSON value, same hash).
    Only bodies that decoded into their declared type get here, so no float is in them."""
    return canonical_hash({} if body is None else body)


CALLS = ("start", "events", "turns", "action_permits", "interruption_events", "end")


@dataclass(frozen=True)
class EngineConfig:
    schema_version: int = 3  # default for sessions whose start body does not choose
    force_schema_version: bool = False  # True: schema_version wins over the start body's
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

    def _once(self, scope: str | None, body: Any, session: SessionState | None,
              effect: Callable[[], _Effect]) -> dict[str, Any]:
        """The idempotency rule (hold the lock): a replay of a key with the same body gets
        the stored answer, even once the session has ended; the same key with another body
        is refused (409); otherwise the session must be active, ``effect`` runs, and its
        entries, session, project and answer are stored together, or nothing is. With no
        key (``scope`` None) every call is new."""
        calls: tuple[tuple[str, StoredCall], ...] = ()
        if scope is not None:
            request_hash = request_hash_of(body)
            stored = self.store.get_call(scope)
            if stored is not None:
                if stored.request_hash != request_hash:
                    raise EmitError(CONFLICT, "idempotency key already used with a different "
                                              "request body")
                return stored.response
        if session is not None and session.status != "active":
            raise EmitError(CONFLICT, f"session {session.session_id} has {session.status}; it "
                                      "accepts no more calls")
        done = effect()
        if scope is not None:
            calls = ((scope, StoredCall(request_hash, done.response)),)
        self._commit(done.builder, done.session, calls=calls, atom_keys=done.atom_keys)
        return done.response

    def _session(self, session_id: str) -> SessionState:
        session = self.store.get_session(session_id)
        if session is None:
            raise EmitError(NOT_FOUND, f"unknown session {session_id!r:.80}")
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
            entries=tuple((session.session_id, data) for data in builder.entry_bytes),
            atom_keys=atom_keys,
            calls=calls,
        ))

    def _signature_records(self, signatures: list[b.SidecarSignature], signed: Any,
                           session: SessionState, where: str, position: int | None = None
                           ) -> list[dict[str, Any]]:
        """What the chain records of sidecar signatures over ``signed`` (a declared body or
        atom; its errors name ``where``, or ``where[position]``). An ``ed25519`` signature
        by a key registered at start is verified (a bad one refuses the call, 422); any
        other is recorded as unverified, with the hash of its text."""
        records = []
        for index, signature in enumerate(signatures):
            status = "unverified"
            public = session.sidecar_keys.get(signature.key_id)
            if signature.algorithm == "ed25519" and public is not None:
                message = atom_signing.signed_message(
                    b.to_json(signed), session_id=session.session_id,
                    signed_at=signature.signed_at)
                if not atom_signing.verifies(bytes.fromhex(public), signature.signature, message):
                    place = where if position is None else f"{where}[{position}]"
                    raise EmitError(UNPROCESSABLE, f"{place}.signatures[{index}] does not verify "
                                    f"with the registered key {signature.key_id!r}")
                status = "verified"
            records.append({"algorithm": signature.algorithm, "key_id": signature.key_id,
                            "signature_hash": canonical_hash(signature.signature),
                            "signed_at": signature.signed_at, "status": status})
        return records

    # -- start ---------------------------------------------------------------------------

    def start(self, body: Any) -> dict[str, Any]:
        request = b.decode(body, b.StartBody)
        scope = f"start:{request.permit.project_id}:{request.permit.idempotency_key}"
        with self._lock:
            return self._once(scope, body, None, lambda: self._start_session(request, scope))

    def _schema_version(self, request: b.StartBody) -> int:
        if self.config.force_schema_version or request.schema_version is None:
            return self.config.schema_version
        return request.schema_version

    def _start_session(self, request: b.StartBody, scope: str) -> _Effect:
        now = self.clock.now()
        started_at = format_time(now)
        session_id = self.ids.new("sess")
        project_id = request.permit.project_id
        attributes = request.permit.resource.attributes
        snapshot = lock_snapshot(project_id, self.config.policies(project_id),
                                 self.ids.new("ps"))
        rules = rules_of(snapshot)
        permit = parent_permit(request, permit_id=self.ids.new("perm"),
                               session_id=session_id, snapshot=snapshot, rules=rules,
                               created_at=started_at)
        session = SessionState(
            session_id=session_id,
            project_id=project_id,
            schema_version=self._schema_version(request),
            idempotency_key=request.permit.idempotency_key,
            provider=attributes.provider,
            model=attributes.model,
            execution_mode=attributes.execution_mode,
            region_code=request.region_code or self.config.region_code,
            started_at=started_at,
            policy_snapshot=snapshot,
            parent_permit=permit,
            sidecar_keys={k.key_id: b.sidecar_key_bytes(k.public_key).hex()
                          for k in request.sidecar_keys},
            risk_budget_total_micros=request.risk_budget_total_micros,
            idempotency_scope=scope,
        )
        builder = self._builder(session, now)
        builder.append(
            EventSpec("voice.session.started", "session_lifecycle", "allowed",
                      "session_started"),
            {
                "execution_mode": attributes.execution_mode,
                "metadata": request.metadata,
                "parent_permit_id": permit["permit_id"],
                "policy_snapshot_hash": snapshot["snapshot_hash"],
                "risk_budget_total_micros": request.risk_budget_total_micros,
                "sidecar_key_ids": sorted(session.sidecar_keys),
                "subject": b.to_json(request.permit.subject),
            },
        )
        session = builder.advance(session)
        response = {
            "session_id": session_id,
            "permit_id": permit["permit_id"],
            "status": session.status,
            "started_at": started_at,
            "schema_version": session.schema_version,
            "policy_snapshot_id": snapshot["snapshot_id"],
            "policy_snapshot_hash": snapshot["snapshot_hash"],
            "risk_budget_total_micros": request.risk_budget_total_micros,
            "permit": permit,
            "chain_head": chain_head(session),
        }
        return _Effect(builder, session, response)

    # -- events --------------------------------------------------------------------------

    def events(self, session_id: str, body: Any) -> dict[str, Any]:
        batch = b.decode(body, b.EventsBody)
        with self._lock:
            session = self._session(session_id)
            return self._once(f"events:{session_id}:{batch.batch_idempotency_key}", body,
                              session, lambda: self._record_events(session, batch))

    def _record_events(self, session: SessionState, batch: b.EventsBody) -> _Effect:
        session_id = session.session_id
        known = self.store.known_atoms(session_id, (a.idempotency_key for a in batch.events))
        prepared = [(atom, _atom_event(atom, self._signature_records(
                        atom.signatures, atom, session, "events", index)))
                    for index, atom in enumerate(batch.events)]
        builder = self._builder(session, self.clock.now())
        recorded = []
        atom_keys = []
        for atom, (spec, payload) in prepared:
            if atom.idempotency_key in known:
                continue
            entry = builder.append(spec, payload)
            recorded.append({"idempotency_key": atom.idempotency_key,
                             "event_id": entry.event_id,
                             "sequence": entry.sequence,
                             "content_hash": entry.content_hash})
            atom_keys.append((session_id, atom.idempotency_key))
        counters = replace(session.counters,
                           atom_count=session.counters.atom_count + len(recorded))
        session = builder.advance(replace(session, counters=counters))
        response = {
            "session_id": session_id,
            "batch_idempotency_key": batch.batch_idempotency_key,
            "accepted": len(recorded),
            "duplicates": [a.idempotency_key for a in batch.events if a.idempotency_key in known],
            "events": recorded,
            "chain_head": chain_head(session),
        }
        return _Effect(builder, session, response, atom_keys=tuple(atom_keys))

    # -- turns and actions ---------------------------------------------------------------

    def turn(self, session_id: str, body: Any) -> dict[str, Any]:
        request = b.decode(body, b.TurnBody)
        key = request.idempotency_key
        with self._lock:
            session = self._session(session_id)
            return self._once(None if key is None else f"turns:{session_id}:{key}", body,
                              session, lambda: self._evaluate_turn(session, request))

    def _evaluate_turn(self, session: SessionState, request: b.TurnBody) -> _Effect:
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
            "metadata": request.metadata,
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
                outcome = {"call_id": request.tool_call.call_id or self.ids.new("call"),
                           "action_verb": request.tool_call.action_verb, "decision": "deny",
                           "user_facing_reason": "The turn was denied, so its tool call "
                                                 "was not evaluated."}
            response["tool_call"] = outcome
        session = builder.advance(session)
        response["chain_head"] = chain_head(session)
        return _Effect(builder, session, response)

    def action_permit(self, session_id: str, body: Any) -> dict[str, Any]:
        request = b.decode(body, b.ActionPermitBody)
        key = request.idempotency_key
        with self._lock:
            session = self._session(session_id)
            return self._once(None if key is None else f"action_permits:{session_id}:{key}",
                              body, session, lambda: self._issue_action_permit(session, request))

    def _issue_action_permit(self, session: SessionState, request: b.ActionPermitBody
                             ) -> _Effect:
        now = self.clock.now()
        builder = self._builder(session, now)
        session, outcome = self._govern(
            session, builder, request, now, event_type="voice.action.governed",
            category="action_governance", resource_type="action", extra={},
            target=request.target)
        session = builder.advance(session)
        response = {"session_id": session.session_id, **outcome,
                    "chain_head": chain_head(session)}
        return _Effect(builder, session, response)

    def _govern(self, session: SessionState, builder: ChainBuilder, tool: b.ToolCall,
                now: datetime, *, event_type: str, category: str, resource_type: str,
                extra: dict[str, Any], target: str | None = None
                ) -> tuple[SessionState, dict[str, Any]]:
        """Decide a tool call or action, record it, and issue its child permit."""
        rules = rules_of(session.policy_snapshot)
        decision: ActionDecision = evaluate_action(tool, session, rules, now)
        call_id = tool.call_id or self.ids.new("call")
        permit_id = self.ids.new("perm") if decision.allowed else None
        entry = builder.append(
            EventSpec(event_type, category, "allowed" if decision.allowed else "denied",
                      f"{resource_type}_allowed" if decision.allowed
                      else f"{resource_type}_denied",
                      severity="info" if decision.allowed else "warning",
                      operation=f"tool.{tool.tool_name}", permit_id=permit_id,
                      resource_type=resource_type, resource_id=call_id),
            {**action_payload(tool, call_id, decision, target), **extra},
        )
        counters = session.counters
        counters = replace(counters, tool_call_count=counters.tool_call_count + 1,
                           denied_tool_call_count=counters.denied_tool_call_count
                           + (not decision.allowed))
        session = replace(session, counters=counters)
        outcome: dict[str, Any] = {"call_id": call_id, "action_verb": tool.action_verb,
                                   "decision": "allow" if decision.allowed else "deny"}
        if not decision.allowed:
            outcome["user_facing_reason"] = decision.reason
            return session, outcome
        assert permit_id is not None
        permit = child_permit(tool, session=session, rules=rules, permit_id=permit_id,
                              call_id=call_id, governed_entry=entry,
                              resource_type=resource_type, now=now, extra_metadata=extra)
        used = session.used_spend_authorities
        if tool.action_verb == b.MPP_PAYMENT:  # one-shot: this spend request never pays again
            used = (*used, tool.mpp_context().spend_request_payload.id)
        session = replace(session, child_permits=(*session.child_permits, permit),
                          used_spend_authorities=used)
        outcome.update(permit_id=permit_id, permit=permit)
        return session, outcome

    # -- interruptions -------------------------------------------------------------------

    def interruption(self, session_id: str, body: Any) -> dict[str, Any]:
        request = b.decode(body, b.InterruptionBody)
        key = request.idempotency_key
        with self._lock:
            session = self._session(session_id)
            return self._once(None if key is None else f"interruption_events:{session_id}:{key}",
                              body, session, lambda: self._record_interruption(session, request))

    def _record_interruption(self, session: SessionState, request: b.InterruptionBody
                             ) -> _Effect:
        session_id = session.session_id
        index = request.interrupted_turn_index
        if index is not None and index > session.counters.turn_count:
            raise EmitError(UNPROCESSABLE, f"interrupted_turn_index {index} is above the "
                            f"session's turn count ({session.counters.turn_count})")
        signed_object = b.to_json(request)
        signatures = self._signature_records(request.signatures, request, session, "body")
        payload = {k: v for k, v in signed_object.items() if k != "signatures"}
        if request.captured_at_ns is not None:
            payload["captured_at_ns"] = b.epoch_ns_text(request.captured_at_ns)
        payload["signatures"] = signatures
        builder = self._builder(session, self.clock.now())
        entry = builder.append(
            EventSpec("voice.turn.interrupted", "conversation_control", "recorded",
                      "agent_interrupted"),
            payload,
        )
        counters = replace(session.counters,
                           interruption_count=session.counters.interruption_count + 1)
        session = builder.advance(replace(session, counters=counters))
        response = {"session_id": session_id, "event_id": entry.event_id,
                    "interruption_count": counters.interruption_count,
                    "chain_head": chain_head(session)}
        return _Effect(builder, session, response)

    # -- end -----------------------------------------------------------------------------

    def end(self, session_id: str, body: Any) -> dict[str, Any]:
        """End the session: the end answer, whose ``attestation_artifact`` member is the
        signed, timestamped artifact. A retried end with the same body gets the same
        answer; another body once the session has ended is refused (409)."""
        answer: dict[str, Any] = msgspec.json.decode(b"".join(self.end_parts(session_id, body)))
        return answer

    def end_parts(self, session_id: str, body: Any) -> list[bytes]:
        """The end answer's compact JSON (canonical bytes), in pieces to write in order."""
        session, envelope, chain = self._ended(session_id, body)
        head, tail = split_around(_end_answer(session), "attestation_artifact")
        return [head, *artifact_parts(envelope, chain), tail]

    def _ended(self, session_id: str, body: Any
               ) -> tuple[SessionState, ArtifactEnvelope, bytes]:
        """The ended session, its artifact's envelope and its chain array's bytes."""
        request = b.decode(body, b.EndBody)
        request_hash = request_hash_of({} if body is None else body)
        with self._lock:  # the quick half: record the end in the chains
            session = self._session(session_id)
            if session.status == "active":
                session = self._record_end(session, request, request_hash)
            elif session.end_request_hash != request_hash:
                raise EmitError(CONFLICT, f"session {session_id} has already {session.status} "
                                          "(a retried end must repeat the same body)")
        # The slow half, outside the lock: the entries of an ended session never change.
        chain = self.store.chain_array(session_id)
        envelope = self.store.get_artifact(session_id)
        if envelope is None:
            envelope = self._attest(session, chain)
        return session, envelope, chain

    def _record_end(self, session: SessionState, request: b.EndBody, request_hash: str
                    ) -> SessionState:
        now = self.clock.now()
        ended_at = format_time(now)
        builder = self._builder(session, now)
        session = replace(session, status=request.status, ended_at=ended_at,
                          usage={m.meter: m.quantity for m in request.usage_metrics},
                          end_metadata=request.metadata, failure_reason=request.failure_reason,
                          end_request_hash=request_hash)
        builder.project_only("voice.session.ended", {
            "chain_head_hash": session.head_hash,
            "ended_at": ended_at,
            "event_count": session.event_count,
            "session_id": session.session_id,
            "status": session.status,
        })
        session = replace(session, project_head=project_chain_head(builder.project))
        self._commit(builder, session)
        return session

    def _attest(self, session: SessionState, chain: bytes) -> ArtifactEnvelope:
        """Timestamp the project chain head the end recorded, sign, store once. If two
        retries race, the first stored artifact is everyone's answer."""
        assert session.project_head is not None and session.ended_at is not None
        witnessed = witness(self.timestamper, session.project_head,
                            parse_time(session.ended_at), session.ended_at)
        envelope = build_artifact(
            session, chain, session.project_head, witnessed, issued_at=session.ended_at,
            issuer_key=self.issuer_key,
            key_id=self.config.key_id or fingerprint_key_id(self.issuer_key))
        self.store.apply(Commit(artifact=(session.session_id, envelope)))
        stored = self.store.get_artifact(session.session_id)
        assert stored is not None
        return stored

    # -- retrieval -----------------------------------------------------------------------

    def session_view(self, session_id: str) -> dict[str, Any]:
        """``GET /v1/sessions/{id}``: state and counters."""
        session = self._session(session_id)
        counters = session.counters
        return {
            "session_id": session.session_id,
            "project_id": session.project_id,
            "permit_id": session.permit_id,
            "status": session.status,
            "schema_version": session.schema_version,
            "started_at": session.started_at,
            "ended_at": session.ended_at,
            "policy_snapshot_id": session.policy_snapshot["snapshot_id"],
            "policy_snapshot_hash": session.snapshot_hash,
            "turn_count": counters.turn_count,
            "event_count": session.event_count,
            "atom_count": counters.atom_count,
            "tool_call_count": counters.tool_call_count,
            "interruption_count": counters.interruption_count,
            "cumulative_usage": _cumulative_usage(session),
            "risk_budget": _risk_budget(session),
            "chain_head": chain_head(session),
            "attestation_available": self.store.get_artifact(session_id) is not None,
        }

    def attestation_parts(self, session_id: str) -> list[bytes]:
        """``GET /v1/sessions/{id}/attestation``: the artifact's canonical bytes, in
        pieces. 404 for an unknown session; 409 while there is none (the session is
        active, or its end was interrupted: repeat the end call to finish it)."""
        session = self._session(session_id)
        envelope = self.store.get_artifact(session_id)
        if envelope is None:
            why = ("is still active" if session.status == "active" else
                   "has no artifact yet; repeat its end call (same body) to finish it")
            raise EmitError(CONFLICT, f"session {session_id} {why}")
        return artifact_parts(envelope, self.store.chain_array(session_id))

    def attestation(self, session_id: str) -> dict[str, Any]:
        artifact: dict[str, Any] = msgspec.json.decode(b"".join(
            self.attestation_parts(session_id)))
        return artifact


# -- answers ---------------------------------------------------------------------------------


def _cumulative_usage(session: SessionState) -> dict[str, Any]:
    return {"input_tokens": session.counters.input_tokens,
            "output_tokens": session.counters.output_tokens,
            "usage_metrics": [{"meter": k, "quantity": v} for k, v in session.usage.items()]}


def _risk_budget(session: SessionState) -> dict[str, Any]:
    return {"total_micros": session.risk_budget_total_micros,
            "used_micros": session.risk_budget_used_micros,
            "remaining_micros": session.budget_remaining}


def _end_answer(session: SessionState) -> dict[str, Any]:
    """The end answer's session facts (the artifact goes in ``attestation_artifact``)."""
    return {
        "session_id": session.session_id,
        "permit_id": session.permit_id,
        "status": session.status,
        "policy_snapshot_id": session.policy_snapshot["snapshot_id"],
        "policy_snapshot_hash": session.snapshot_hash,
        "turn_count": session.counters.turn_count,
        "cumulative_usage": _cumulative_usage(session),
        "risk_budget": _risk_budget(session),
        "attestation_artifact": None,
    }


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
#: The event of each atom type whose entry does not depend on its payload (made once).
_ATOM_SPECS = {kind: EventSpec(event_type, category, "recorded", outcome)
               for kind, (event_type, category, outcome) in _ATOM_EVENTS.items()}
_DISCLOSURE_SPEC = EventSpec("voice.ai_disclosure.emitted", "regulatory_evidence", "recorded",
                             "disclosure_emitted")


def _atom_event(atom: Any, signatures: list[dict[str, Any]]) -> tuple[EventSpec, dict[str, Any]]:
    kind = b.atom_type(atom)
    if kind == "tool_invocation_attempt":
        event_type, category, outcome = _ATOM_EVENTS[kind]
        spec = EventSpec(event_type, category, "recorded", outcome,
                         operation=f"tool.{atom.payload.tool_name}", resource_type="tool_call",
                         resource_id=atom.payload.call_id)
    elif kind == "lifecycle_marker" and atom.payload.marker_type == AI_DISCLOSURE_MARKER:
        spec = _DISCLOSURE_SPEC
    else:
        spec = _ATOM_SPECS[kind]
    # The atom's payload is canonicalised once: sorted members of the declared value, its
    # defaults left out, are the same bytes as those of its plain JSON.
    payload_bytes = canonical_bytes(atom.payload)
    payload: dict[str, Any] = {
        "atom_type": kind,
        "captured_at_ns": b.epoch_ns_text(atom.captured_at_ns),
        "idempotency_key": atom.idempotency_key,
        "payload": msgspec.Raw(payload_bytes),
        "payload_hash": tagged_sha256(payload_bytes),
        "signatures": signatures,
    }
    if atom.direction is not None:
        payload["direction"] = atom.direction
    return spec, payload
