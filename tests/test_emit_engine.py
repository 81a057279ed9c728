"""The session engine end to end: engine -> artifact -> keel_verify.verify_bytes, and
every invalid call refused with nothing stored."""

from __future__ import annotations

import base64
import copy
import hashlib
import itertools
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keel_verify.crypto.canonical import GENESIS_HASH, canonical_bytes, canonical_hash, hash_hex
from keel_verify.crypto.format import snapshot_hash_hex
from keel_verify.crypto.rfc3161 import parse_token
from keel_verify.emit import (
    DEMO_START,
    EmitError,
    Engine,
    EngineConfig,
    MemoryStore,
    SeededIds,
    SQLiteStore,
    SteppingClock,
    TimestampError,
    build_demo_artifact,
    demo_engine,
    demo_issuer_key,
    demo_scenario,
    dump_artifact,
    run_scenario,
)
from keel_verify.emit.demo import DEMO_CAPTURED_AT_NS, demo_entry_count, demo_signer
from keel_verify.emit.store import Store
from keel_verify.results import Outcome
from tests.test_emit_support import (
    assert_verified,
    demo_trust,
    pinned_trust,
    schema_errors,
    verify,
)

SCENARIO = demo_scenario(3)
START = SCENARIO[0]["body"]


def start_body(idempotency_key: str | None = None, **changes: Any) -> dict[str, Any]:
    """The demo start body; ``idempotency_key`` goes into the permit."""
    body = copy.deepcopy(START)
    if idempotency_key is not None:
        body["permit"]["idempotency_key"] = idempotency_key
    return {**body, **changes}


def started(engine: Engine, idempotency_key: str | None = None, **changes: Any) -> str:
    session_id: str = engine.start(start_body(idempotency_key, **changes))["session_id"]
    return session_id


def atom(key: str, atom_type: str = "transcript_span", payload: dict[str, Any] | None = None,
         **fields: Any) -> dict[str, Any]:
    base = {"atom_type": atom_type, "idempotency_key": key, "captured_at_ns": 1,
            "direction": "inbound", "payload": {"text": "hi"} if payload is None else payload}
    return {**base, **fields}


def audio(key: str, **payload: Any) -> dict[str, Any]:
    return atom(key, "audio_chunk", {"content_hash": "sha256:" + "a" * 64, "format": "pcm16",
                                     "duration_ms": 10, **payload})


def batch(key: str, *atoms: dict[str, Any]) -> dict[str, Any]:
    return {"batch_idempotency_key": key, "events": list(atoms)}


def turn(key: str, **fields: Any) -> dict[str, Any]:
    return {"idempotency_key": key, "input_tokens": 10, "output_tokens": 5, **fields}


# -- whole sessions verify ---------------------------------------------------------------


@pytest.mark.parametrize("schema_version", [3, 1])
@pytest.mark.parametrize("tsa", ["local", None])
def test_demo_artifact_verifies(schema_version: int, tsa: str | None, tmp_path: Path) -> None:
    artifact = build_demo_artifact(schema_version, tsa=tsa)
    assert schema_errors(artifact) == []
    assert artifact["schema_version"] == schema_version
    assert artifact["artifact_version"] == {3: "1.2.0", 1: "1.0.0"}[schema_version]
    assert_verified(verify(artifact, pinned_trust()), witnessed=tsa is not None)
    report = verify(artifact, demo_trust(tmp_path))
    assert_verified(report, witnessed=tsa is not None)
    if tsa is not None:  # signed token, chained to the trusted test TSA root
        assert report.check("timestamp_witness").outcome is Outcome.PASS
        assert "tsa_status" not in artifact
    else:
        assert artifact["tsa_status"] == "degraded_no_receipt"
        assert artifact["timestamp_receipts"] == []
        assert artifact["rfc3161_timestamp_receipt"] is None
        assert artifact["rfc3161_timestamp_attempts"] == []


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    first = dump_artifact(build_demo_artifact(3))
    assert dump_artifact(build_demo_artifact(3)) == first
    assert dump_artifact(build_demo_artifact(3, seed="another seed")) != first


def test_artifact_shape_follows_the_public_samples() -> None:
    artifact = build_demo_artifact(1)
    public = json.loads((Path(__file__).parent / "data/keel-public/voice_session_export.json")
                        .read_text())
    assert set(public) <= set(artifact)
    assert set(public["chain"][0]) <= set(artifact["chain"][0])
    assert set(public["permits"]["child_tool_call_permits"][0]) <= set(
        artifact["permits"]["child_tool_call_permits"][0])
    assert set(public["session_metadata"]) <= set(artifact["session_metadata"])
    assert set(public["timestamp_receipts"][0]) <= set(artifact["timestamp_receipts"][0])
    assert set(public["project_chain_head"]) == set(artifact["project_chain_head"])
    assert artifact["issued_at"].endswith("Z") and artifact["session_metadata"]["started_at"] \
        == "2026-05-21T14:32:00Z"


@pytest.mark.parametrize("schema_version", [3, 1])
def test_chain_links_payloads_and_heads(schema_version: int) -> None:
    artifact = build_demo_artifact(schema_version)
    chain = artifact["chain"]
    previous = GENESIS_HASH
    for position, entry in enumerate(chain, start=1):
        assert entry["artifact_sequence"] == position
        assert entry["previous_content_hash"] == previous
        body = {k: v for k, v in entry.items() if k != "content_hash"}
        assert entry["content_hash"] == canonical_hash(body)
        if schema_version == 1:
            assert entry["canonicalized_payload_hash"] == canonical_hash(
                entry["canonicalized_payload"])
            assert "payload_materialization" not in entry
        else:
            assert entry["payload_materialization"] == "hash_only"
            assert "canonicalized_payload" not in entry
        previous = entry["content_hash"]
    sequences = [entry["sequence"] for entry in chain]
    assert sequences == sorted(set(sequences))
    head, project = artifact["chain_head"], artifact["project_chain_head"]
    assert head == {"content_hash": previous, "event_count": len(chain),
                    "sequence": sequences[-1]}
    assert project["sequence"] > head["sequence"]
    assert project["event_type"] == "voice.session.ended"
    assert project["chain_scope"] == "project:proj_keel_emit_demo"
    # each entry names the project record it is, linked record to record
    records = [(e["governance_previous_record_hash"], e["governance_record_hash"]) for e in chain]
    for (_, before), (after_previous, _) in itertools.pairwise(records):
        assert after_previous == before
    assert project["previous_content_hash"] == records[-1][1]


@pytest.mark.parametrize("schema_version", [3, 1])
def test_stored_entry_bytes_are_the_canonical_bytes(schema_version: int) -> None:
    """The builder splices content_hash into the entry's bytes; a nested "created_at"
    member (here in a v1 turn's metadata) must not fool it."""
    engine = fresh_engine()
    session_id = started(engine, schema_version=schema_version)
    engine.turn(session_id, turn("t", metadata={"created_at": "x", "z": {"created_at": 1}}))
    engine.events(session_id, batch("b", atom("a", payload={"text": '","created_at":"'})))
    stored = engine.store.entry_bytes(session_id)
    assert len(stored) == 3  # start, turn, atom
    for data in stored:
        assert data == canonical_bytes(json.loads(data))


def test_receipt_covers_the_project_chain_head() -> None:
    artifact = build_demo_artifact(3)
    project = artifact["project_chain_head"]
    [receipt] = artifact["timestamp_receipts"]
    assert artifact["rfc3161_timestamp_receipt"] == receipt
    token_der = base64.b64decode(receipt["tsa_response_base64"])
    token = parse_token(token_der)
    assert token.token_der == token_der  # the token (ContentInfo), not the TimeStampResp
    assert token.signer_count == 1
    assert token.imprint.hex() == hash_hex(project["content_hash"])
    assert receipt["request_hash"] == receipt["covers_chain_head_hash"] == project["content_hash"]
    assert receipt["covers_chain_head_at_sequence"] == project["sequence"]
    assert receipt["receipt_hash"] == "sha256:" + hashlib.sha256(token_der).hexdigest()
    assert artifact["rfc3161_timestamp_attempts"][0]["status"] == "granted"


def test_policy_snapshot_and_permits_bind() -> None:
    artifact = build_demo_artifact(1)
    snapshot = artifact["policy_snapshot"]
    hex_hash = snapshot_hash_hex(snapshot)
    assert artifact["session_metadata"]["policy_snapshot_hash"] == hex_hash
    assert snapshot["snapshot_hash"] == "sha256:" + hex_hash
    by_permit = {e["permit_id"]: e for e in artifact["chain"] if e["permit_id"]}
    children = artifact["permits"]["child_tool_call_permits"]
    assert [p["custom_metadata"]["action_verb"] for p in children] == [
        "ai.generate", "mpp.payment", "ai.generate"]
    for permit in children:
        entry = by_permit[permit["permit_id"]]
        assert permit["binding_session_event_hash"] == entry["content_hash"]
        assert permit["binding_session_id"] == permit["session_id"] == entry["session_id"]
        assert permit["policy_snapshot_hash"] == "sha256:" + hex_hash
        assert permit["binding_project_anchor_hash"] == entry["governance_record_hash"]
        assert permit["parent_permit_id"] == artifact["permits"]["parent_session_permit"][
            "permit_id"]
    payment = children[1]
    assert payment["custom_metadata"]["payment"]["requested_amount"] == 1250
    assert payment["binding_expires_at"] == _plus(payment["binding_issued_at"], 300)


def _plus(stamp: str, seconds: int) -> str:
    moment = datetime.fromisoformat(stamp).timestamp() + seconds
    return datetime.fromtimestamp(moment, tz=DEMO_START.tzinfo).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_demo_covers_every_atom_type_and_decision() -> None:
    artifact = build_demo_artifact(1)
    payloads = [e["canonicalized_payload"] for e in artifact["chain"]]
    kinds = {p.get("atom_type") for p in payloads} - {None}
    assert kinds == {"audio_chunk", "transcript_span", "tool_invocation_attempt",
                     "lifecycle_marker", "interruption", "provider_opaque_marker"}
    types = [e["event_type"] for e in artifact["chain"]]
    assert types[0] == "voice.session.started"
    assert "voice.ai_disclosure.emitted" in types and "voice.turn.interrupted" in types
    turns = [p for p in payloads if "turn_index" in p and "decision" in p]
    assert [t["decision"] for t in turns] == ["allow", "allow", "deny"]
    assert turns[2]["user_facing_reason"]
    statuses = sorted({s["status"] for p in payloads for s in p.get("signatures", [])})
    assert statuses == ["unverified", "verified"]
    counters = artifact["session_metadata"]["session_counters"]
    assert counters["turn_count"] == 3 and counters["denied_turn_count"] == 1
    assert artifact["session_metadata"]["risk_budget_used_micros"] == 450_000
    # epoch nanoseconds beyond 2^53 stay exact, as strings (inside the JCS domain)
    captured = [p["captured_at_ns"] for p in payloads if "captured_at_ns" in p]
    assert str(DEMO_CAPTURED_AT_NS) in captured and DEMO_CAPTURED_AT_NS > 2**53
    assert all(isinstance(value, str) for value in captured)


@pytest.mark.parametrize("text", ["plain ascii words", "Grüße aus 東京 🎙 — ¿qué tal?"])
def test_benchmark_builder_scales_and_verifies(text: str, tmp_path: Path) -> None:
    artifact = build_demo_artifact(1, events=1500, text=text)
    assert artifact["chain_head"]["event_count"] == len(artifact["chain"]) == 1500
    assert artifact["chain"][-1]["canonicalized_payload"]["payload"]["text"] == text
    assert_verified(verify(artifact, demo_trust(tmp_path)), witnessed=True)
    with pytest.raises(ValueError, match="at least"):
        build_demo_artifact(3, events=demo_entry_count() - 1)


# -- state, idempotency, atomicity -------------------------------------------------------


def fresh_engine(store: Store | None = None, timestamper: Any = "local") -> Engine:
    engine = demo_engine(tsa=timestamper)
    if store is not None:
        engine.store = store
    return engine


def test_same_idempotency_key_same_session() -> None:
    engine = fresh_engine()
    first = engine.start(START)
    assert engine.start(copy.deepcopy(START)) == first
    other = engine.start(start_body("another"))
    assert other["session_id"] != first["session_id"]


def test_replayed_atoms_and_batches_are_not_appended_twice() -> None:
    engine = fresh_engine()
    session_id = started(engine)
    first = engine.events(session_id, batch("b1", atom("a1"), atom("a2")))
    assert first["accepted"] == 2 and first["chain_head"]["event_count"] == 3
    assert engine.events(session_id, batch("b1", atom("a1"), atom("a2"))) == first
    again = engine.events(session_id, batch("b2", atom("a2"), atom("a3")))
    assert again["accepted"] == 1 and again["duplicates"] == ["a2"]
    assert again["chain_head"]["event_count"] == 4
    assert len(engine.store.entry_bytes(session_id)) == 4


def test_retried_end_returns_the_same_answer() -> None:
    engine = fresh_engine()
    session_id = started(engine)
    body = {"usage_metrics": [{"meter": "realtime_minutes", "quantity": 1}]}
    answer = engine.end(session_id, body)
    assert engine.end(session_id, copy.deepcopy(body)) == answer
    assert engine.attestation(session_id) == answer["attestation_artifact"]
    with pytest.raises(EmitError) as caught:
        engine.end(session_id, {"metadata": {"ended_by": "someone else"}})
    assert caught.value.status == 409


def test_batch_replayed_after_the_end_gets_its_stored_answer() -> None:
    engine = fresh_engine()
    session_id = started(engine)
    first = engine.events(session_id, batch("b1", atom("a1")))
    engine.end(session_id, {})
    assert engine.events(session_id, batch("b1", atom("a1"))) == first
    with pytest.raises(EmitError, match="has ended"):
        engine.events(session_id, batch("b2", atom("a2")))


def _with_session(engine: Engine, key: str) -> str:
    session_id = started(engine, key, risk_budget_total_micros=1000)
    engine.events(session_id, batch("seen", atom("seen-atom")))
    return session_id


def _exhausted(engine: Engine, key: str) -> str:
    session_id = started(engine, key, risk_budget_total_micros=100)
    engine.turn(session_id, turn("spend-all", risk_budget_used_micros=100))
    return session_id


def _ended(engine: Engine, key: str) -> str:
    session_id = started(engine, key)
    engine.end(session_id, {})
    return session_id


def _signed_session(engine: Engine, key: str) -> str:
    return started(engine, key, sidecar_keys=[demo_signer().registration()])


GOOD = atom("fine")
# signed for another session: the signature does not verify for this one
BAD_SIGNATURE = demo_signer().sign(atom("tampered"), session_id="sess_other",
                                   signed_at="2026-05-21T14:32:00Z")
PAY_ARGUMENTS: dict[str, Any] = SCENARIO[4]["body"]["tool_call"]["arguments"]

# (name, how to get the session, call, body, status, words the message must contain)
INVALID_CALLS: list[tuple[str, Any, str, Any, int, str]] = [
    ("unknown session", None, "events", batch("x", GOOD), 404, "unknown session"),
    ("unknown session end", None, "end", {}, 404, "unknown session"),
    ("ended session events", _ended, "events", batch("x", GOOD), 409, "has ended"),
    ("ended session turn", _ended, "turns", turn("t"), 409, "has ended"),
    ("ended session end, another body", _ended, "end", {"metadata": {"x": "y"}}, 409,
     "already ended"),
    ("batch over 100", _with_session, "events",
     batch("x", *[atom(f"k{i}") for i in range(101)]), 413, "at most 100"),
    ("empty batch", _with_session, "events", batch("x"), 422, "length >= 1"),
    ("bad atom type", _with_session, "events", batch("x", atom("k", "video_frame")),
     422, "Invalid value 'video_frame'"),
    ("bad atom late in batch", _with_session, "events",
     batch("x", *[atom(f"k{i}") for i in range(50)], atom("k50", "nope")), 422,
     "events[50].atom_type"),
    ("media bytes", _with_session, "events", batch("x", audio("k", audio_base64="AAAA")),
     422, "unknown member 'audio_base64'"),
    ("unknown atom member", _with_session, "events", batch("x", atom("k", type="x")),
     422, "unknown member 'type'"),
    ("audio without direction", _with_session, "events",
     batch("x", {k: v for k, v in audio("k").items() if k != "direction"}), 422,
     "direction is required"),
    ("captured_at_ns not digits", _with_session, "events",
     batch("x", atom("k", captured_at_ns="12a")), 422, "captured_at_ns"),
    ("captured_at_ns float", _with_session, "events",
     batch("x", atom("k", captured_at_ns=1.5)), 422, "captured_at_ns"),
    ("captured_at_ns boolean", _with_session, "events",
     batch("x", atom("k", captured_at_ns=True)), 422, "captured_at_ns"),
    ("captured_at_ns negative", _with_session, "events",
     batch("x", atom("k", captured_at_ns=-1)), 422, "captured_at_ns"),
    ("captured_at_ns over 2^63-1", _with_session, "events",
     batch("x", atom("k", captured_at_ns=str(2**63))), 422, "captured_at_ns"),
    ("duration exponent", _with_session, "events", batch("x", audio("k", duration_ms="1e3")),
     422, "duration_ms"),
    ("placeholder signature with a bad algorithm", _with_session, "events",
     batch("x", atom("k", signatures=[{"algorithm": "rsa", "key_id": "k", "signature": "s",
                                       "signed_at": "2026-06-03T18:00:00Z"}])), 422,
     "algorithm"),
    ("duplicate atom key in batch", _with_session, "events",
     batch("x", atom("same"), atom("same")), 422, "appears twice"),
    ("bad sidecar signature", _signed_session, "events", batch("x", BAD_SIGNATURE), 422,
     "does not verify"),
    ("batch key reused with another body", _with_session, "events",
     batch("seen", atom("other")), 409, "different request"),
    ("tokens not a number", _with_session, "turns", turn("t", input_tokens="ten"), 422,
     "input_tokens"),
    ("tokens over 2^53", _with_session, "turns", turn("t", output_tokens=2**53), 422,
     "output_tokens"),
    ("metadata with a float", _with_session, "turns", turn("t", metadata={"x": 0.5}), 422,
     "floating-point"),
    ("budget exhausted", _exhausted, "turns", turn("t2"), 409, "exhausted"),
    ("payment cadence", _with_session, "turns",
     turn("t", tool_call={"tool_name": "pay", "action_verb": "mpp.payment", "arguments": {
         **PAY_ARGUMENTS, "authority": {**PAY_ARGUMENTS["authority"], "cadence": "monthly"}}}),
     422, "cadence"),
    ("payment without authority", _with_session, "turns",
     turn("t", tool_call={"tool_name": "pay", "action_verb": "mpp.payment", "arguments": {
         k: v for k, v in PAY_ARGUMENTS.items() if k != "authority"}}), 422,
     "missing required member 'authority'"),
    ("payment amount_max not a decimal string", _with_session, "turns",
     turn("t", tool_call={"tool_name": "pay", "action_verb": "mpp.payment", "arguments": {
         **PAY_ARGUMENTS, "authority": {**PAY_ARGUMENTS["authority"], "amount_max": 1499}}}),
     422, "amount_max"),
    ("action permit with an unknown member", _with_session, "action_permits",
     {"idempotency_key": "a", "tool_name": "x", "action_name": "x"}, 422,
     "unknown member 'action_name'"),
    ("interruption of a future turn", _with_session, "interruption_events",
     {"idempotency_key": "i", "interrupted_turn_index": 9}, 422,
     "interrupted_turn_index 9 is above the session's turn count (0)"),
    ("end with a bad status", _with_session, "end", {"status": "paused"}, 422, "status"),
    ("end usage not integer", _with_session, "end",
     {"usage_metrics": [{"meter": "realtime_minutes", "quantity": 1.5}]}, 422, "quantity"),
    ("end meter twice", _with_session, "end",
     {"usage_metrics": [{"meter": "m", "quantity": 1}, {"meter": "m", "quantity": 2}]}, 422,
     "twice"),
    ("not an object", _with_session, "turns", ["x"], 422, "Expected `object`"),
]


def _state_checked(store: Store) -> None:
    engine = fresh_engine(store)
    for name, setup, call, body, status, words in INVALID_CALLS:
        session_id = setup(engine, f"setup {name}") if setup else "sess_does_not_exist"
        before = store.snapshot()
        with pytest.raises(EmitError) as caught:
            engine.call(call, session_id, body)
        assert (caught.value.status, name) == (status, name)
        assert words in caught.value.message, (name, caught.value.message)
        assert "\n" not in caught.value.message
        assert store.snapshot() == before, f"{name}: state changed"


def test_invalid_calls_change_nothing_in_memory() -> None:
    _state_checked(MemoryStore())


def test_invalid_calls_change_nothing_in_sqlite(tmp_path: Path) -> None:
    _state_checked(SQLiteStore(tmp_path / "emit.db"))


def _permit(**changes: Any) -> dict[str, Any]:
    return {**START, "permit": {**START["permit"], **changes}}


def _attributes(**changes: Any) -> dict[str, Any]:
    resource = START["permit"]["resource"]
    return _permit(resource={**resource, "attributes": {**resource["attributes"], **changes}})


@pytest.mark.parametrize(("body", "words"), [
    ({**START, "metadata": {"score": 0.5}}, "floating-point"),
    ({**START, "metadata": {"big": 2**60}}, "beyond"),
    (_attributes(operation="chat"), "operation"),
    (_permit(action={"name": "chat"}), "action.name"),
    ({**START, "schema_version": 2}, "schema_version"),
    (_permit(subject={"type": "user", "id": ""}), "subject.id"),
    ({**START, "surprise": 1}, "unknown member 'surprise'"),
    (_attributes(surprise=1), "unknown member 'surprise' (at permit.resource.attributes)"),
    (_permit(idempotency_key=None), "idempotency_key"),
    ({"project_id": "p", "idempotency_key": "k"}, "unknown member"),
])
def test_invalid_start_changes_nothing(body: dict[str, Any], words: str) -> None:
    engine = fresh_engine()
    before = engine.store.snapshot()
    with pytest.raises(EmitError) as caught:
        engine.start(body)
    assert caught.value.status == 422
    assert words in caught.value.message
    assert engine.store.snapshot() == before


def test_start_key_reused_with_another_body() -> None:
    engine = fresh_engine()
    engine.start(START)
    before = engine.store.snapshot()
    with pytest.raises(EmitError) as caught:
        engine.start({**START, "risk_budget_total_micros": 5})
    assert caught.value.status == 409
    assert engine.store.snapshot() == before


# -- decisions ---------------------------------------------------------------------------

PAY: dict[str, Any] = {"tool_name": "pay", "call_id": "c-pay", "action_verb": "mpp.payment",
                       "arguments": {**PAY_ARGUMENTS, "authority": {
                           **PAY_ARGUMENTS["authority"], "ttl_seconds": 120}}}


def _pay(**changes: Any) -> dict[str, Any]:
    """PAY with top-level MPP context members changed."""
    return {**PAY, "arguments": {**PAY["arguments"], **changes}}


def _spend(**changes: Any) -> dict[str, Any]:
    spend = PAY["arguments"]["spend_request_payload"]
    return _pay(spend_request_payload={**spend, **changes})


def test_budget_denial_is_recorded_and_consumes_nothing() -> None:
    engine = fresh_engine()
    session_id = started(engine, risk_budget_total_micros=1000)
    answer = engine.turn(session_id, turn("t1", risk_budget_used_micros=1500))
    assert answer["decision"] == "deny" and answer["user_facing_reason"]
    assert answer["risk_budget_remaining_micros"] == 1000
    assert engine.turn(session_id, turn("t2", risk_budget_used_micros=1000))["decision"] == "allow"
    with pytest.raises(EmitError, match="exhausted"):
        engine.turn(session_id, turn("t3"))


@pytest.mark.parametrize(("tool_call", "reason"), [
    (_pay(requested_amount=5001), "exceeds"),
    (_pay(requested_currency="eur"), "currency"),
    (_pay(authority={**PAY["arguments"]["authority"], "currency_class": "EUR_FIAT"}),
     "currency class"),
    (_spend(status="pending"), "not approved"),
    (_spend(amount=1), "differs"),
    (_spend(shared_payment_token={"id": "spt", "valid_until": "2026-05-21T14:00:00Z"}),
     "expired"),
])
def test_payment_outside_the_spend_authority_is_denied(tool_call: dict[str, Any],
                                                       reason: str) -> None:
    engine = fresh_engine()
    session_id = started(engine)
    answer = engine.turn(session_id, turn("t", tool_call=tool_call))
    assert answer["decision"] == "allow"
    assert answer["tool_call"]["decision"] == "deny"
    assert reason in answer["tool_call"]["user_facing_reason"]
    assert engine.store.get_session(session_id).child_permits == ()  # type: ignore[union-attr]


def test_one_shot_authority_pays_once() -> None:
    engine = fresh_engine()
    session_id = started(engine)
    first = engine.turn(session_id, turn("t1", tool_call=PAY))
    assert first["tool_call"]["decision"] == "allow"
    assert first["tool_call"]["permit"]["binding_expires_at"] == _plus(
        first["tool_call"]["permit"]["binding_issued_at"], 120)
    second = engine.turn(session_id, turn("t2", tool_call={**PAY, "call_id": "c-pay-2"}))
    permit = first["tool_call"]["permit"]
    assert (permit["action_name"], permit["resource_provider"], permit["resource_model"]) == (
        "mpp.payment", "stripe_mpp", "stripe.mpp.v1")
    assert second["tool_call"]["decision"] == "deny"
    assert "already used" in second["tool_call"]["user_facing_reason"]


def test_denied_tool_and_default_action_verb() -> None:
    engine = fresh_engine()
    session_id = started(engine)
    denied = engine.turn(session_id, turn("t1", tool_call={"tool_name": "collect_payment_card"}))
    assert denied["tool_call"]["decision"] == "deny"
    allowed = engine.action_permit(session_id, {"idempotency_key": "a1",
                                                "tool_name": "summarise"})
    assert allowed["decision"] == "allow"
    assert allowed["permit"]["custom_metadata"]["action_verb"] == "ai.generate"
    unknown_verb = engine.action_permit(session_id, {"tool_name": "x", "action_verb": "db.drop"})
    assert unknown_verb["decision"] == "deny" and "db.drop" in unknown_verb["user_facing_reason"]
    artifact = engine.end(session_id, {})["attestation_artifact"]
    entries = {e["permit_id"]: e for e in artifact["chain"] if e["permit_id"]}
    assert entries[allowed["permit_id"]]["content_hash"] == allowed["permit"][
        "binding_session_event_hash"]


def test_failed_session_and_failed_timestamp_attempt(tmp_path: Path) -> None:
    class BrokenTsa:
        def timestamp(self, digest: bytes, at: datetime) -> tuple[bytes, str, str]:
            raise TimestampError("TSA unreachable", tsa="http://tsa.invalid/", provider="x")

    engine = fresh_engine(timestamper=BrokenTsa())
    session_id = started(engine)
    answer = engine.end(session_id, {"status": "failed", "failure_reason": "carrier drop"})
    assert answer["status"] == "failed"
    artifact = answer["attestation_artifact"]
    assert artifact["session_metadata"]["status"] == "failed"
    assert artifact["tsa_status"] == "degraded_no_receipt"
    [attempt] = artifact["rfc3161_timestamp_attempts"]
    assert attempt["status"] == "failed" and "unreachable" in attempt["error"]
    assert schema_errors(artifact) == []
    assert_verified(verify(artifact, demo_trust(tmp_path)), witnessed=False)


def test_two_sessions_share_the_project_chain() -> None:
    engine = fresh_engine()
    first = started(engine)
    second = started(engine, "second")
    engine.events(first, batch("b", atom("a")))
    artifact_second = engine.end(second, {})["attestation_artifact"]
    artifact_first = engine.end(first, {})["attestation_artifact"]
    assert [e["sequence"] for e in artifact_first["chain"]] == [1, 3]
    assert artifact_second["project_chain_head"]["sequence"] == 4
    assert artifact_first["project_chain_head"]["sequence"] == 5
    for artifact in (artifact_first, artifact_second):
        assert_verified(verify(artifact, pinned_trust()), witnessed=True)


def test_sqlite_store_resumes_a_session(tmp_path: Path) -> None:
    path = tmp_path / "emit.db"
    calls = demo_scenario(1)
    *middle, end = calls

    def engine_on(store: Store) -> Engine:
        return Engine(store, issuer_key=demo_issuer_key(), clock=SteppingClock(DEMO_START),
                      ids=SeededIds("resume"), config=EngineConfig(schema_version=1))

    store = SQLiteStore(path)
    session_id = run_scenario(engine_on(store), middle[:4]).responses[0]["session_id"]
    store.close()
    store = SQLiteStore(path)
    engine = engine_on(store)
    engine.ids = SeededIds("resume, after restart")  # a restarted server: fresh ids
    for step in middle[4:]:
        engine.call(step["call"], session_id, step["body"])
    artifact = engine.end(session_id, end["body"])["attestation_artifact"]
    store.close()
    assert artifact["chain_head"]["event_count"] == demo_entry_count(1)
    assert schema_errors(artifact) == []
    assert_verified(verify(artifact, pinned_trust()), witnessed=False)


# -- property: any accepted atom sequence gives a verifying artifact ---------------------

_TEXT = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40)
_ATOMS = st.lists(
    st.tuples(st.sampled_from(["transcript_span", "lifecycle_marker", "interruption"]),
              st.integers(0, 30), _TEXT, st.integers(0, 2**63 - 1), st.booleans()),
    min_size=1, max_size=60)


@settings(max_examples=25, deadline=None)
@given(atoms=_ATOMS, schema_version=st.sampled_from([1, 3]))
def test_any_atom_sequence_verifies(atoms: list[tuple[str, int, str, int, bool]],
                                    schema_version: int) -> None:
    engine = demo_engine(schema_version=schema_version, tsa=None)
    session_id = started(engine, schema_version=schema_version)
    keys: set[str] = set()
    for start in range(0, len(atoms), 7):
        body: list[dict[str, Any]] = []
        for kind, key_number, text, captured, as_string in atoms[start:start + 7]:
            key = f"k{key_number}"
            if any(a["idempotency_key"] == key for a in body):
                continue
            keys.add(key)
            item: dict[str, Any] = {"atom_type": kind, "idempotency_key": key,
                                    "captured_at_ns": str(captured) if as_string else captured}
            if kind == "transcript_span":
                item.update(direction="outbound", payload={"text": text})
            elif kind == "lifecycle_marker":
                item["payload"] = {"marker_type": text}
            else:
                item["payload"] = {"reason": text}
            body.append(item)
        engine.events(session_id, batch(f"b{start}", *body))
    artifact = engine.end(session_id, {})["attestation_artifact"]
    assert artifact["chain_head"]["event_count"] == 1 + len(keys)
    assert schema_errors(artifact) == []
    assert_verified(verify(artifact, pinned_trust()), witnessed=False)
