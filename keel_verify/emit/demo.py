"""The demo session, scenario replay, and the builder tests and benchmarks call.

A *scenario* is a JSON list of API calls with their request bodies::

    [{"call": "start", "body": {...}},
     {"call": "events", "body": {"batch_idempotency_key": "b1", "events": [...]}},
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
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keel_verify.emit.bodies import MAX_BATCH_ATOMS
from keel_verify.emit.clock import DEMO_START, Clock, SeededIds, SteppingClock, format_time
from keel_verify.emit.engine import CALLS, Engine, EngineConfig
from keel_verify.emit.errors import UNPROCESSABLE, EmitError
from keel_verify.emit.keys import DEMO_SCENARIO_SEED, DEMO_TSA_SEED, demo_issuer_key
from keel_verify.emit.sidecar import (
    EngineTransport,
    KeelApiError,
    SidecarClient,
    SidecarSigner,
)
from keel_verify.emit.sidecar import atom as sidecar_atom
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


def captured_at_ns_of(day: datetime) -> int:
    """The first atom's capture time in a session on ``day`` (epoch nanoseconds)."""
    return int(day.timestamp()) * 1_000_000_000 + 123_456_789


#: Start of the demo's atom capture clock (epoch nanoseconds: beyond 2^53, kept exact).
DEMO_CAPTURED_AT_NS = captured_at_ns_of(DEMO_START)

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
                issuer_key: Ed25519PrivateKey | None = None,
                clock: Clock | None = None) -> Engine:
    """A deterministic in-memory engine: fixed clock (unless ``clock``), seeded ids,
    seeded issuer key."""
    seed_text = seed.hex() if isinstance(seed, bytes) else str(seed)
    return Engine(
        MemoryStore(),
        issuer_key=issuer_key or demo_issuer_key(),
        clock=clock or SteppingClock(DEMO_START),
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


def demo_signer() -> SidecarSigner:
    """The demo sidecar's signing key (derived from a PUBLIC seed: a TEST key)."""
    return SidecarSigner.from_seed(DEMO_SIDECAR_SEED, DEMO_SIDECAR_KEY_ID)


def run_scenario(engine: Engine, calls: Any, *, signer: SidecarSigner | None = None
                 ) -> ReplayResult:
    """Run each call in order through the sidecar client (:mod:`keel_verify.emit.sidecar`)
    on ``engine``; with ``signer``, its key is registered at each start and every atom is
    signed with it before it is sent. The first invalid call raises :class:`EmitError`
    naming its position."""
    return run_scenario_with(SidecarClient(EngineTransport(engine), signer), calls)


def run_scenario_with(client: SidecarClient, calls: Any) -> ReplayResult:
    """:func:`run_scenario` through any sidecar client (an HTTP one, for instance)."""
    if not isinstance(calls, list):
        raise EmitError(UNPROCESSABLE, "a scenario is a JSON array of calls")
    result = ReplayResult()
    sessions: dict[str, str] = {}
    for index, step in enumerate(calls):
        try:
            name, label, body = _step(step)
            if name == "start":
                response = client.start(body)
                sessions[label or response["session_id"]] = response["session_id"]
            else:
                if label is not None:
                    if label not in sessions:
                        raise EmitError(UNPROCESSABLE, f"no session labelled {label!r}")
                    client.session_id = sessions[label]
                if client.session_id is None:
                    raise EmitError(UNPROCESSABLE, "no session: start one first")
                if name == "events" and isinstance(body, dict) and isinstance(
                        body.get("events"), list):
                    body = {**body, "events": [client.sign(a) if isinstance(a, dict) else a
                                               for a in body["events"]]}
                response = client.call(name, body)
                if name == "end":
                    result.artifacts.append(response["attestation_artifact"])
        except (KeelApiError, EmitError) as error:
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


def _placeholder(label: str, name: str, at: str) -> list[dict[str, str]]:
    """A signature the service only records (an algorithm it does not verify here)."""
    return [{"algorithm": label, "key_id": "sidecar-pq-1", "signed_at": at,
             "signature": base64.b64encode(f"opaque {name} test signature".encode()).decode()}]


def demo_scenario(schema_version: int = 3, *, day: datetime = DEMO_START
                  ) -> list[dict[str, Any]]:
    """One complete session in the public API's bodies: every atom type, an allowed and a
    denied turn, an ``ai.generate`` and an ``mpp.payment`` tool call with child permits,
    an action permit, an interruption, and the end. Atoms are unsigned here: the replay
    signs them with the demo sidecar key (:func:`demo_signer`). ``day``: when the session
    happens (capture times and the payment token's validity follow it)."""
    ns = captured_at_ns_of(day)
    at = format_time(day)
    disclosure = "This call uses an AI assistant and may be recorded."
    first_batch = [
        sidecar_atom("lifecycle_marker", "atom-0001", ns,
                     {"marker_type": "ai_disclosure_emitted", "jurisdiction_codes": ["US-TCPA"],
                      "text_hash": _sha(disclosure)}),
        sidecar_atom("audio_chunk", "atom-0002", str(ns + 20_000_000),
                     {"content_hash": _sha("demo audio chunk 1"), "format": "pcm16",
                      "duration_ms": 480, "sample_rate_hz": 24000}, direction="inbound"),
        sidecar_atom("transcript_span", "atom-0003", ns + 500_000_000,
                     {"text": "Hola, ¿dónde está mi pedido? 📦", "language": "es",
                      "speaker": "caller", "is_final": True}, direction="inbound"),
        sidecar_atom("transcript_span", "atom-0004", ns + 900_000_000,
                     {"text": "Un momento, lo reviso. 🙂", "language": "es", "speaker": "agent",
                      "is_final": True}, direction="outbound"),
        sidecar_atom("tool_invocation_attempt", "atom-0005", ns + 1_000_000_000,
                     {"tool_name": "lookup_order_status", "call_id": "call_demo_lookup",
                      "arguments_hash": _sha('{"order":"A-1001"}')}),
        {**sidecar_atom("audio_chunk", "atom-0006", ns + 1_200_000_000,
                        {"content_hash": _sha("demo audio chunk 2"), "format": "pcm16",
                         "duration_ms": 960}, direction="outbound"),
         "signatures": _placeholder("ml-dsa-65", "ML-DSA-65", at)},
        sidecar_atom("provider_opaque_marker", "atom-0007", ns + 1_300_000_000,
                     {"provider_event_type": "response.done",
                      "marker_hash": _sha("provider marker 1")}),
        sidecar_atom("interruption", "atom-0008", ns + 1_400_000_000,
                     {"reason": "barge_in", "delivered_ms": 700, "withheld_ms": 260},
                     direction="inbound"),
    ]
    payment_arguments = {
        "requested_amount": 1250,
        "requested_currency": "usd",
        "mpp_target_url": "https://merchant.example/mpp/pay",
        "spend_request_payload": {
            "id": "lsrq_demo_0001", "amount": 1250, "currency": "usd", "status": "approved",
            "credential_type": "shared_payment_token",
            "shared_payment_token": {"id": "spt_demo_0001",
                                     "valid_until": format_time(day + timedelta(hours=1))},
            "merchant_name": "Demo Shipping", "merchant_url": "https://merchant.example/checkout",
            "context": "The caller approved a one-time shipping upgrade of at most $50.00 USD.",
        },
        "authority": {"amount_max": "5000", "currency_class": "USD_FIAT", "cadence": "one_shot",
                      "ttl_seconds": 300, "purpose_binding": "purchase.once"},
    }
    return [
        {"call": "start", "body": {
            "permit": {
                "project_id": DEMO_PROJECT,
                "idempotency_key": "demo-session-start-1",
                "subject": {"type": "user", "id": "usr_demo_caller_0001"},
                "action": {"name": "realtime.session"},
                "resource": {"type": "request", "id": "req_demo_voice_0001", "attributes": {
                    "provider": "openai", "model": "gpt-4o-realtime-preview",
                    "operation": "realtime.session", "execution_mode": "realtime",
                    "estimated_input_tokens": 2000, "estimated_output_tokens": 1000}},
            },
            "metadata": {"voice_provider": "openai_realtime", "channel": "pstn",
                         "fixture": "keel-emit demo", "locale": "es-MX"},
            "risk_budget_total_micros": 1_000_000,
            "schema_version": schema_version,
        }},
        {"call": "events", "body": {"batch_idempotency_key": "batch-0001",
                                    "events": first_batch}},
        # a retried batch: answered from the idempotency record, nothing appended
        {"call": "events", "body": {"batch_idempotency_key": "batch-0001",
                                    "events": first_batch}},
        {"call": "turns", "body": {
            "idempotency_key": "turn-0001", "input_tokens": 420, "output_tokens": 180,
            "risk_budget_used_micros": 150_000,
            "metadata": {"provider_response_id": "resp_demo_0001"},
            "tool_call": {"tool_name": "lookup_order_status", "call_id": "call_demo_lookup",
                          "arguments": {"order": "A-1001"}},
        }},
        {"call": "turns", "body": {
            "idempotency_key": "turn-0002", "input_tokens": 512, "output_tokens": 240,
            "risk_budget_used_micros": 300_000,
            "metadata": {"provider_response_id": "resp_demo_0002"},
            "tool_call": {"tool_name": "stripe_mpp_payment", "call_id": "call_demo_pay",
                          "action_verb": "mpp.payment", "arguments": payment_arguments},
        }},
        {"call": "interruption_events", "body": {
            "idempotency_key": "interrupt-0001", "interrupted_turn_index": 2,
            "reason": "caller_barge_in", "captured_at_ns": str(ns + 9_000_000_000),
            "delivered_ms": 1800, "withheld_ms": 2400, "cutoff_offset_ms": 1800,
            "withheld_digest": _sha("withheld reply 2"), "provider_cancel_ack": "response.cancelled"}},
        {"call": "turns", "body": {  # denied: more than the 550,000 micros left
            "idempotency_key": "turn-0003", "input_tokens": 800, "output_tokens": 400,
            "risk_budget_used_micros": 900_000}},
        {"call": "action_permits", "body": {
            "idempotency_key": "action-0001", "tool_name": "send_receipt_sms",
            "action_verb": "ai.generate", "call_id": "call_demo_sms",
            "arguments": {"template": "receipt"}, "target": "sms:+15555550100"}},
        {"call": "events", "body": {"batch_idempotency_key": "batch-0002", "events": [
            sidecar_atom("transcript_span", "atom-0009", ns + 12_000_000_000,
                         {"text": "Listo: recibirá un SMS con el recibo. ¡Gracias! 🎉",
                          "language": "es", "speaker": "agent", "is_final": True},
                         direction="outbound"),
            sidecar_atom("lifecycle_marker", "atom-0010", ns + 13_000_000_000,
                         {"marker_type": "call_completed"}),
        ]}},
        {"call": "end", "body": {
            "usage_metrics": [{"meter": "realtime_minutes", "quantity": 2},
                              {"meter": "input_tokens", "quantity": 1732},
                              {"meter": "output_tokens", "quantity": 820}],
            "metadata": {"ended_by": "voice_gateway"}}},
    ]


def _filler_batches(count: int, text: str, first_ns: int) -> Iterator[list[dict[str, Any]]]:
    """``count`` transcript-span atoms in batches of at most 100."""
    for start in range(0, count, MAX_BATCH_ATOMS):
        size = min(MAX_BATCH_ATOMS, count - start)
        yield [sidecar_atom("transcript_span", f"bulk-atom-{i:09d}", first_ns + i * 10_000_000,
                            {"text": text, "is_final": True},
                            direction="inbound" if i % 2 == 0 else "outbound")
               for i in range(start, start + size)]


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
    clock: Clock | None = None,
) -> dict[str, Any]:
    """The signed artifact of the demo session, as a dict (write it with
    :func:`keel_verify.emit.artifact.dump_artifact`).

    ``events``: None for the plain demo; otherwise the exact number of chain entries,
    reached by adding transcript spans carrying ``text`` (ASCII or not) before the end.
    It must be at least :func:`demo_entry_count`. Same arguments, same bytes.
    """
    engine = demo_engine(schema_version=schema_version, tsa=tsa, seed=seed,
                         issuer_key=issuer_key, clock=clock)
    day = DEMO_START if clock is None else clock.now()
    scenario = demo_scenario(schema_version, day=day)
    *body, end = scenario
    signer = demo_signer()
    result = run_scenario(engine, body, signer=signer)
    session_id: str = result.responses[0]["session_id"]
    if events is not None:
        have: int = result.responses[-1]["chain_head"]["event_count"]
        if events < have:
            raise ValueError(f"events must be at least {have} (the demo session's own entries)")
        client = SidecarClient(EngineTransport(engine), signer, session_id=session_id)
        for batch in _filler_batches(events - have, text, captured_at_ns_of(day) + 10**12):
            client.send_batch(batch, f"bulk-{batch[0]['idempotency_key']}")
    artifact: dict[str, Any] = engine.end(session_id, end["body"])["attestation_artifact"]
    return artifact
