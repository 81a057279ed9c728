"""A session plan -> the keel-emit API calls that record it (start, events, turns, ...).

This is the only module that knows the request bodies. Each call carries the recording
time it happens at, so an in-process engine can follow the recording's clock.

* Atoms go in ``events`` batches of at most 100, in plan order; a turn or interruption
  closes the batch before it, so the chain keeps the recording's order.
* A turn's first tool call rides on the turn; further ones become ``action_permits``.
* Idempotency keys come from the plan (``oai-000012-transcript_span``) and the start key
  from the recording's hash: re-ingesting the same recording is a replay, not a copy.
* With a sidecar key, every atom carries an Ed25519 signature over the canonical bytes of
  the atom without its signature, and the start body registers the key.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keel_verify.adapters.plan import (
    Atom,
    SessionPlan,
    ToolCall,
    Turn,
    TurnInterruption,
    bounded,
)
from keel_verify.crypto.canonical import canonical_bytes
from keel_verify.emit.requests import MAX_BATCH_ATOMS
from keel_verify.emit.signing import encoded_public_key


@dataclass(frozen=True)
class IngestOptions:
    """Who and what the session is about; none of it comes from the recording."""

    project_id: str = "proj_ingest"
    subject: Any = None  # a string or {"type": ..., "id": ...}; default: the caller
    schema_version: int = 3
    sidecar_key: Ed25519PrivateKey | None = None
    sidecar_key_id: str = "sidecar-1"
    recording_sha256: str | None = None  # "sha256:..." of the recording file


@dataclass(frozen=True)
class Call:
    name: str  # start, events, turns, action_permits, interruption_events, end
    at_ns: int  # recording time (epoch ns) the call happens at
    body: dict[str, Any]


def _atom_body(atom: Atom, options: IngestOptions) -> dict[str, Any]:
    body: dict[str, Any] = {"type": atom.atom_type, "idempotency_key": atom.key,
                            "captured_at_ns": str(atom.captured_at_ns), **atom.fields}
    if atom.direction is not None:
        body["direction"] = atom.direction
    if options.sidecar_key is not None:
        signature = options.sidecar_key.sign(canonical_bytes(body))
        body["sidecar_signature"] = {"label": "ed25519", "key_id": options.sidecar_key_id,
                                     "value": base64.b64encode(signature).decode("ascii")}
    return body


def _tool_call(call: ToolCall) -> dict[str, Any]:
    body: dict[str, Any] = {"tool_name": bounded(call.tool_name),
                            "arguments_hash": call.arguments_hash}
    if call.call_id:
        body["call_id"] = bounded(call.call_id)
    return body


def _turn_calls(turn: Turn) -> list[Call]:
    body: dict[str, Any] = {"idempotency_key": turn.key, "input_tokens": turn.input_tokens,
                            "output_tokens": turn.output_tokens, "risk_budget_used_micros": 0}
    if turn.tool_calls:
        body["tool_call"] = _tool_call(turn.tool_calls[0])
    calls = [Call("turns", turn.at_ns, body)]
    for number, extra in enumerate(turn.tool_calls[1:], start=1):
        action: dict[str, Any] = {"idempotency_key": f"{turn.key}-action-{number}",
                                  "action_name": bounded(extra.tool_name),
                                  "arguments_hash": extra.arguments_hash}
        if extra.call_id:
            action["resource_id"] = bounded(extra.call_id)
        calls.append(Call("action_permits", turn.at_ns, action))
    return calls


def _start_body(plan: SessionPlan, options: IngestOptions) -> dict[str, Any]:
    metadata = {**plan.metadata, "ingested_by": f"keel-emit ingest --provider {plan.provider}"}
    if options.recording_sha256:
        metadata["recording_sha256"] = options.recording_sha256
    digest = (options.recording_sha256 or "").removeprefix("sha256:")[:24] or "recording"
    body: dict[str, Any] = {
        "project_id": options.project_id,
        "idempotency_key": f"ingest-{plan.provider}-{digest}",
        "subject": options.subject or {"type": "end_user", "id": "caller"},
        "action": "realtime.session",
        "resource": {"provider": plan.provider, "model": plan.model,
                     "operation": "realtime.session", "execution_mode": "sidecar"},
        "metadata": metadata,
        "schema_version": options.schema_version,
    }
    if options.sidecar_key is not None:
        body["sidecar_keys"] = [{"key_id": options.sidecar_key_id,
                                 "public_key": encoded_public_key(options.sidecar_key)}]
    return body


def plan_calls(plan: SessionPlan, options: IngestOptions | None = None) -> list[Call]:
    """The API calls, in order, that record ``plan`` as one Keel session."""
    options = options or IngestOptions()
    calls = [Call("start", plan.started_ns, _start_body(plan, options))]
    batch: list[Atom] = []

    def close_batch() -> None:
        if batch:
            calls.append(Call("events", max(a.captured_at_ns for a in batch), {
                "batch_idempotency_key": f"batch-{batch[0].key}",
                "atoms": [_atom_body(atom, options) for atom in batch]}))
            batch.clear()

    for step in plan.steps:
        if isinstance(step, Atom):
            batch.append(step)
            if len(batch) == MAX_BATCH_ATOMS:
                close_batch()
            continue
        close_batch()
        if isinstance(step, Turn):
            calls.extend(_turn_calls(step))
        elif isinstance(step, TurnInterruption):
            calls.append(Call("interruption_events", step.at_ns, {
                "idempotency_key": step.key, "interrupted_turn_index": step.turn_index,
                "reason": step.reason, "captured_at_ns": str(step.at_ns)}))
    close_batch()
    calls.append(Call("end", plan.ended_ns, {
        "idempotency_key": f"end-{plan.provider}", "usage": plan.usage}))
    return calls
