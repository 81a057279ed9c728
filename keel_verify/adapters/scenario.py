"""A session plan -> the public Keel realtime-voice API calls that record it.

This is the only module that knows the request bodies (the public guide's shapes, as
keel-emit declares them in :mod:`keel_verify.emit.bodies`). Each call carries the
recording time it happens at, so an in-process engine can follow the recording's clock.

* Atoms are sent in plan order; a turn or interruption closes the run of atoms before it
  (the sidecar client batches a run by at most 100), so the chain keeps the recording's
  order.
* A turn's first tool call rides on the turn; further ones become action permits.
* Idempotency keys come from the plan (``oai-000012-transcript_span``) and the start key
  from the recording's hash: re-ingesting the same recording is a replay, not a copy.
* Tool-call ``arguments`` are sent when they are a JSON object inside the JCS domain
  (Keel records their hash); otherwise ``{"arguments_sha256": <hash>}`` stands in, so a
  float or an oversized argument never makes the API refuse the session.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from keel_verify.adapters.plan import (
    Atom,
    SessionPlan,
    ToolCall,
    Turn,
    TurnInterruption,
    bounded,
)
from keel_verify.crypto.canonical import canonical_bytes, jcs_divergences
from keel_verify.emit.bodies import MAX_OBJECT_BYTES
from keel_verify.emit.sidecar import atom as atom_json


@dataclass(frozen=True)
class IngestOptions:
    """Who and what the session is about; none of it comes from the recording."""

    project_id: str = "proj_ingest"
    subject_type: str = "user"
    subject_id: str = "caller"
    schema_version: int = 3
    recording_sha256: str | None = None  # "sha256:..." of the recording file


@dataclass(frozen=True)
class Call:
    """One API call: ``name`` is a route of :data:`keel_verify.emit.sidecar.ROUTES`
    (``events`` carries ``{"atoms": [...]}`` for the sidecar client to sign and batch)."""

    name: str
    at_ns: int  # recording time (epoch ns) the call happens at
    body: dict[str, Any]


def _portable(value: dict[str, Any]) -> bool:
    return not any(True for _ in jcs_divergences(value)) and len(
        canonical_bytes(value)) <= MAX_OBJECT_BYTES


def _tool_call(call: ToolCall) -> dict[str, Any]:
    arguments = call.arguments if call.arguments is not None and _portable(call.arguments) \
        else {"arguments_sha256": call.arguments_hash}
    body: dict[str, Any] = {"tool_name": bounded(call.tool_name), "arguments": arguments}
    if call.call_id:
        body["call_id"] = bounded(call.call_id)
    return body


def _turn_calls(turn: Turn) -> list[Call]:
    body: dict[str, Any] = {"idempotency_key": turn.key, "input_tokens": turn.input_tokens,
                            "output_tokens": turn.output_tokens, "risk_budget_used_micros": 0,
                            "metadata": turn.metadata}
    if turn.tool_calls:
        body["tool_call"] = _tool_call(turn.tool_calls[0])
    calls = [Call("turns", turn.at_ns, body)]
    for number, extra in enumerate(turn.tool_calls[1:], start=1):
        calls.append(Call("action_permits", turn.at_ns, {
            "idempotency_key": f"{turn.key}-action-{number}", **_tool_call(extra)}))
    return calls


def _interruption_call(step: TurnInterruption) -> Call:
    body: dict[str, Any] = {"idempotency_key": step.key, "captured_at_ns": str(step.at_ns),
                            "interrupted_turn_index": step.turn_index, "reason": step.reason,
                            "delivered_ms": step.delivered_ms, "withheld_ms": step.withheld_ms,
                            "cutoff_offset_ms": step.cutoff_offset_ms,
                            "provider_cancel_ack": step.cancel_ack}
    return Call("interruption_events", step.at_ns,
                {k: v for k, v in body.items() if v is not None})


def _atom(atom: Atom) -> dict[str, Any]:
    return atom_json(atom.atom_type, atom.key, str(atom.captured_at_ns), atom.fields,
                     direction=atom.direction)


def start_body(plan: SessionPlan, options: IngestOptions) -> dict[str, Any]:
    metadata = {**plan.metadata, "ingested_by": f"keel-emit ingest --provider {plan.provider}"}
    if options.recording_sha256:
        metadata["recording_sha256"] = options.recording_sha256
    digest = (options.recording_sha256 or "").removeprefix("sha256:")[:24] or "recording"
    return {
        "permit": {
            "project_id": options.project_id,
            "idempotency_key": f"ingest-{plan.provider}-{digest}",
            "subject": {"type": options.subject_type, "id": options.subject_id},
            "action": {"name": "realtime.session"},
            "resource": {"type": "request", "id": f"req_{digest}", "attributes": {
                "provider": plan.provider, "model": plan.model,
                "operation": "realtime.session", "execution_mode": "realtime"}},
        },
        "metadata": metadata,
        "schema_version": options.schema_version,
    }


def end_body(plan: SessionPlan) -> dict[str, Any]:
    usage = plan.usage
    minutes = -(-usage["duration_ms"] // 60_000)  # started minutes, like a meter
    meters = [("realtime_minutes", minutes), ("input_tokens", usage["input_tokens"]),
              ("output_tokens", usage["output_tokens"]),
              ("audio_input_ms", usage["audio_input_ms"]),
              ("audio_output_ms", usage["audio_output_ms"]), ("duration_ms", usage["duration_ms"])]
    return {"usage_metrics": [{"meter": m, "quantity": q} for m, q in meters],
            "metadata": {"ended_by": "keel-emit ingest"}}


def plan_calls(plan: SessionPlan, options: IngestOptions | None = None) -> list[Call]:
    """The API calls, in order, that record ``plan`` as one Keel session."""
    options = options or IngestOptions()
    calls = [Call("start", plan.started_ns, start_body(plan, options))]
    run: list[Atom] = []

    def close_run() -> None:
        if run:
            calls.append(Call("events", max(a.captured_at_ns for a in run),
                              {"atoms": [_atom(a) for a in run]}))
            run.clear()

    for step in plan.steps:
        if isinstance(step, Atom):
            run.append(step)
            continue
        close_run()
        if isinstance(step, Turn):
            calls.extend(_turn_calls(step))
        else:
            calls.append(_interruption_call(step))
    close_run()
    calls.append(Call("end", plan.ended_ns, end_body(plan)))
    return calls
