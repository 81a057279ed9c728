"""The demo session, scenario replay, and the builder tests and benchmarks call.

A *scenario* is a JSON list of API calls with their request bodies::

    [{"call": "start", "body": {...}},
     {"call": "events", "body": {"batch_idempotency_key": "b1", "atoms": [...]}},
     {"call": "turns", "body": {...}},
     {"call": "end", "body": {...}}]

Calls after a ``start`` go to the session it created; a ``start`` may name its session
with ``"as": "label"`` and later calls pick it with ``"session": "label"``.

:func:`build_demo_artifact` runs the demo scenario through the real engine (in memory,
no HTTP, no SQLite) and can pad the session to any number of chain entries for
benchmarks: it stays O(n) (100,000 events take a few seconds).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keel_verify.crypto.canonical import canonical_bytes
from keel_verify.emit.clock import DEMO_START, SeededIds, SteppingClock
from keel_verify.emit.engine import CALLS, Engine, EngineConfig
from keel_verify.emit.errors import UNPROCESSABLE, EmitError
from keel_verify.emit.keys import DEMO_SCENARIO_SEED, DEMO_TSA_SEED, demo_issuer_key
from keel_verify.emit.requests import MAX_BATCH_ATOMS
from keel_verify.emit.signing import ed25519_key_from_seed, encoded_public_key
from keel_verify.emit.store import MemoryStore
from keel_verify.emit.timestamping import (
    HttpTimestamper,
    LocalTestTimestamper,
    NoTimestamper,
    Timestamper,
)

#: The demo sidecar's signing key (PUBLIC seed: a TEST key).
DEMO_SIDECAR_SEED = b"keel-emit PUBLIC TEST sidecar key seed v1"
DEMO_SIDECAR_KEY_ID = "sidecar-demo-1"
DEMO_PROJECT = "proj_keel_emit_demo"
DEFAULT_TEXT = "Thanks for calling. Your order shipped this morning and arrives Friday."
#: Start of the demo's atom capture clock (epoch nanoseconds: beyond 2^53, kept exact).
DEMO_CAPTURED_AT_NS = int(DEMO_START.timestamp()) * 1_000_000_000 + 123_456_789

TsaChoice = str | Timestamper | None


def make_timestamper(tsa: TsaChoice) -> Timestamper:
    """``"local"`` (the demo test TSA), ``"none"``/None, an ``http(s)://`` URL, or an
    object implementing :class:`Timestamper`."""
    if tsa is None or tsa == "none":
        return NoTimestamper()
    if tsa == "local":
        return LocalTestTimestamper.from_seed(DEMO_TSA_SEED)
    if isinstance(tsa, str):
        if tsa.startswith(("http://", "https://")):
            return HttpTimestamper(tsa)
        raise ValueError(f"tsa must be 'local', 'none', an http(s) URL or a Timestamper: {tsa!r}")
    return tsa


def demo_engine(*, schema_version: int = 3, tsa: TsaChoice = "local",
                seed: str | int | bytes = DEMO_SCENARIO_SEED,
                issuer_key: Ed25519PrivateKey | None = None) -> Engine:
    """A deterministic in-memory engine: fixed clock, seeded ids, seeded issuer key."""
    seed_text = seed.hex() if isinstance(seed, bytes) else str(seed)
    return Engine(
        MemoryStore(),
        issuer_key=issuer_key or demo_issuer_key(),
        clock=SteppingClock(DEMO_START),
        ids=SeededIds(seed_text),
        timestamper=make_timestamper(tsa),
        config=EngineConfig(schema_version=schema_version),
    )


# -- scenario replay ---------------------------------------------------------------------


@dataclass
class ReplayResult:
    responses: list[dict[str, Any]] = field(default_factory=list)
    artifacts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def artifact(self) -> dict[str, Any]:
        if not self.artifacts:
            raise EmitError(UNPROCESSABLE, "the scenario has no 'end' call, so no artifact")
        return self.artifacts[-1]


def run_scenario(engine: Engine, calls: Any) -> ReplayResult:
    """Run each call in order; the first invalid call raises :class:`EmitError` naming
    its position."""
    if not isinstance(calls, list):
        raise EmitError(UNPROCESSABLE, "a scenario is a JSON array of calls")
    result = ReplayResult()
    sessions: dict[str, str] = {}
    current: str | None = None
    for index, step in enumerate(calls):
        try:
            name, label, body = _step(step)
            if name == "start":
                response = engine.start(body)
                current = response["session_id"]
                sessions[label or current] = current
            else:
                session_id = sessions.get(label) if label else current
                if session_id is None:
                    raise EmitError(UNPROCESSABLE, "no session: start one first"
                                    if label is None else f"no session labelled {label!r}")
                response = engine.call(name, session_id, body)
                if name == "end":
                    result.artifacts.append(response)
        except EmitError as error:
            raise EmitError(error.status, f"scenario call {index + 1}: {error.message}") from None
        result.responses.append(response)
    return result


def _step(step: Any) -> tuple[str, str | None, Any]:
    if not isinstance(step, dict):
        raise EmitError(UNPROCESSABLE, "each call is an object {\"call\": ..., \"body\": ...}")
    unknown = set(step) - {"call", "body", "session", "as"}
    if unknown:
        raise EmitError(UNPROCESSABLE, f"unknown member {sorted(unknown)[0]!r} in a call")
    name = step.get("call")
    if name not in CALLS:
        raise EmitError(UNPROCESSABLE, f"call must be one of {', '.join(CALLS)}; got {name!r:.40}")
    label = step.get("as") if name == "start" else step.get("session")
    if label is not None and not isinstance(label, str):
        raise EmitError(UNPROCESSABLE, "a session label must be a string")
    return name, label, step.get("body", {})


# -- the demo scenario -------------------------------------------------------------------


def _sha(label: str) -> str:
    return "sha256:" + hashlib.sha256(label.encode("utf-8")).hexdigest()


def _signed(atom: dict[str, Any], key: Ed25519PrivateKey, key_id: str) -> dict[str, Any]:
    """``atom`` with a sidecar Ed25519 signature over its canonical bytes."""
    signature = key.sign(canonical_bytes(atom))
    return {**atom, "sidecar_signature": {"label": "ed25519", "key_id": key_id,
                                          "value": base64.b64encode(signature).decode()}}


def demo_scenario(schema_version: int = 3) -> list[dict[str, Any]]:
    """One complete session: every atom type, an allowed and a denied turn, an
    ``ai.generate`` and an ``mpp.payment`` tool call with child permits, an action permit,
    an interruption, and the end."""
    sidecar = ed25519_key_from_seed(DEMO_SIDECAR_SEED)
    ns = DEMO_CAPTURED_AT_NS
    disclosure = "This call uses an AI assistant and may be recorded."
    first_batch = [
        {"type": "lifecycle_marker", "idempotency_key": "atom-0001", "captured_at_ns": ns,
         "marker": "ai_disclosure_emitted", "jurisdiction_codes": ["US-TCPA"],
         "text_hash": _sha(disclosure)},
        _signed({"type": "audio_chunk", "idempotency_key": "atom-0002",
                 "captured_at_ns": str(ns + 20_000_000), "direction": "inbound",
                 "content_hash": _sha("demo audio chunk 1"), "format": "pcm16/24000",
                 "duration_ms": 480}, sidecar, DEMO_SIDECAR_KEY_ID),
        {"type": "transcript_span", "idempotency_key": "atom-0003",
         "captured_at_ns": ns + 500_000_000, "direction": "inbound",
         "text": "Hola, ¿dónde está mi pedido? 📦", "speaker": "caller", "language": "es",
         "is_final": True},
        {"type": "transcript_span", "idempotency_key": "atom-0004",
         "captured_at_ns": ns + 900_000_000, "direction": "outbound",
         "text": "Un momento, lo reviso. 🙂", "speaker": "agent", "language": "es",
         "is_final": True},
        {"type": "tool_invocation_attempt", "idempotency_key": "atom-0005",
         "captured_at_ns": ns + 1_000_000_000, "tool_name": "lookup_order_status",
         "call_id": "call_demo_lookup", "arguments_hash": _sha('{"order":"A-1001"}')},
        {"type": "audio_chunk", "idempotency_key": "atom-0006",
         "captured_at_ns": ns + 1_200_000_000, "direction": "outbound",
         "content_hash": _sha("demo audio chunk 2"), "format": "pcm16/24000",
         "duration_ms": 960,
         "sidecar_signature": {"label": "ml-dsa-65", "key_id": "sidecar-pq-1",
                               "value": base64.b64encode(b"opaque ML-DSA-65 test signature"
                                                         ).decode()}},
        {"type": "provider_opaque_marker", "idempotency_key": "atom-0007",
         "captured_at_ns": ns + 1_300_000_000, "provider_event_type": "response.done",
         "marker_hash": _sha("provider marker 1")},
        {"type": "interruption", "idempotency_key": "atom-0008",
         "captured_at_ns": ns + 1_400_000_000, "direction": "inbound", "reason": "barge_in"},
    ]
    return [
        {"call": "start", "body": {
            "project_id": DEMO_PROJECT,
            "idempotency_key": "demo-session-start-1",
            "subject": {"type": "end_user", "id": "caller_demo_0001"},
            "action": "ai.generate",
            "resource": {"provider": "openai_realtime", "model": "gpt-4o-realtime-preview",
                         "operation": "realtime.session", "execution_mode": "sidecar"},
            "metadata": {"channel": "pstn", "fixture": "keel-emit demo", "locale": "es-MX"},
            "risk_budget_total_micros": 1_000_000,
            "schema_version": schema_version,
            "sidecar_keys": [{"key_id": DEMO_SIDECAR_KEY_ID,
                              "public_key": encoded_public_key(sidecar)}],
        }},
        {"call": "events", "body": {"batch_idempotency_key": "batch-0001",
                                    "atoms": first_batch}},
        # a retried batch: answered from the idempotency record, nothing appended
        {"call": "events", "body": {"batch_idempotency_key": "batch-0001",
                                    "atoms": first_batch}},
        {"call": "turns", "body": {
            "idempotency_key": "turn-0001", "input_tokens": 420, "output_tokens": 180,
            "risk_budget_used_micros": 150_000,
            "tool_call": {"tool_name": "lookup_order_status", "call_id": "call_demo_lookup",
                          "arguments_hash": _sha('{"order":"A-1001"}')},
        }},
        {"call": "turns", "body": {
            "idempotency_key": "turn-0002", "input_tokens": "512", "output_tokens": 240,
            "risk_budget_used_micros": 300_000,
            "tool_call": {"tool_name": "pay_shipping_upgrade", "call_id": "call_demo_pay",
                          "action_verb": "mpp.payment",
                          "payment": {"amount": 1250, "currency": "USD",
                                      "spend_authority": {"authority_id": "sa_demo_0001",
                                                          "amount_max": 5000,
                                                          "currency": "usd",
                                                          "ttl_seconds": 300,
                                                          "cadence": "one_shot"}}},
        }},
        {"call": "interruption_events", "body": {
            "idempotency_key": "interrupt-0001", "interrupted_turn_index": 2,
            "reason": "caller_barge_in", "captured_at_ns": str(ns + 9_000_000_000)}},
        {"call": "turns", "body": {  # denied: more than the 550,000 micros left
            "idempotency_key": "turn-0003", "input_tokens": 800, "output_tokens": 400,
            "risk_budget_used_micros": 900_000}},
        {"call": "action_permits", "body": {
            "idempotency_key": "action-0001", "action_name": "send_receipt_sms",
            "action_verb": "ai.generate", "resource_id": "sms_demo_receipt"}},
        {"call": "events", "body": {"batch_idempotency_key": "batch-0002", "atoms": [
            {"type": "transcript_span", "idempotency_key": "atom-0009",
             "captured_at_ns": ns + 12_000_000_000, "direction": "outbound",
             "text": "Listo: recibirá un SMS con el recibo. ¡Gracias! 🎉", "speaker": "agent",
             "language": "es", "is_final": True},
            {"type": "lifecycle_marker", "idempotency_key": "atom-0010",
             "captured_at_ns": ns + 13_000_000_000, "marker": "call_completed"},
        ]}},
        {"call": "end", "body": {
            "idempotency_key": "end-0001",
            "usage": {"input_tokens": 1732, "output_tokens": 820, "audio_input_ms": 41_000,
                      "audio_output_ms": 23_500, "duration_ms": 95_000}}},
    ]


def _filler_batches(count: int, text: str, first_ns: int) -> Iterator[dict[str, Any]]:
    """``count`` transcript-span atoms in batches of at most 100."""
    for start in range(0, count, MAX_BATCH_ATOMS):
        size = min(MAX_BATCH_ATOMS, count - start)
        yield {"batch_idempotency_key": f"bulk-{start // MAX_BATCH_ATOMS:07d}", "atoms": [
            {"type": "transcript_span", "idempotency_key": f"bulk-atom-{i:09d}",
             "captured_at_ns": first_ns + i * 10_000_000,
             "direction": "inbound" if i % 2 == 0 else "outbound", "text": text,
             "is_final": True}
            for i in range(start, start + size)
        ]}


def demo_entry_count(schema_version: int = 3) -> int:
    """How many chain entries the plain demo session has (the minimum ``events``)."""
    artifact = build_demo_artifact(schema_version, tsa=None)
    count: int = artifact["chain_head"]["event_count"]
    return count


def build_demo_artifact(
    schema_version: int = 3,
    *,
    tsa: TsaChoice = "local",
    seed: str | int | bytes = DEMO_SCENARIO_SEED,
    events: int | None = None,
    text: str = DEFAULT_TEXT,
    issuer_key: Ed25519PrivateKey | None = None,
) -> dict[str, Any]:
    """The signed artifact of the demo session, as a dict (write it with
    :func:`keel_verify.emit.artifact.dump_artifact`).

    ``events``: None for the plain demo; otherwise the exact number of chain entries,
    reached by adding transcript spans carrying ``text`` (ASCII or not) before the end.
    It must be at least :func:`demo_entry_count`. Same arguments, same bytes.
    """
    engine = demo_engine(schema_version=schema_version, tsa=tsa, seed=seed,
                         issuer_key=issuer_key)
    scenario = demo_scenario(schema_version)
    *body, end = scenario
    result = run_scenario(engine, body)
    session_id: str = result.responses[0]["session_id"]
    if events is not None:
        have: int = result.responses[-1]["chain_head"]["event_count"]
        if events < have:
            raise ValueError(f"events must be at least {have} (the demo session's own entries)")
        for batch in _filler_batches(events - have, text, DEMO_CAPTURED_AT_NS + 10**12):
            engine.events(session_id, batch)
    return engine.end(session_id, end["body"])
