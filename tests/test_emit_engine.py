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

from keel_verify.crypto.canonical import GENESIS_HASH, canonical_hash, hash_hex
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
from keel_verify.emit.demo import DEMO_CAPTURED_AT_NS, demo_entry_count
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


def started(engine: Engine, **changes: Any) -> str:
    session_id: str = engine.start({**START, **changes})["session_id"]
    return session_id


def atom(key: str, **fields: Any) -> dict[str, Any]:
    base = {"type": "transcript_span", "idempotency_key": key, "captured_at_ns": 1,
            "direction": "inbound", "text": "hi"}
    return {**base, **fields}


def batch(key: str, *atoms: dict[str, Any]) -> dict[str, Any]:
    return {"batch_idempotency_key": key, "atoms": list(atoms)}


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
    assert payment["custom_metadata"]["payment"]["amount"] == 1250
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
    statuses = sorted(p["sidecar_signature"]["status"] for p in payloads
                      if "sidecar_signature" in p)
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
    assert artifact["chain"][-1]["canonicalized_payload"]["text"] == text
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
    other = engine.start({**START, "idempotency_key": "another"})
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
    assert len(engine.store.entries(session_id)) == 4


def test_retried_end_returns_the_same_artifact() -> None:
    engine = fresh_engine()
    session_id = started(engine)
    artifact = engine.end(session_id, {"idempotency_key": "e1"})
    assert engine.end(session_id, {"idempotency_key": "e1"}) == artifact
    with pytest.raises(EmitError) as caught:
        engine.end(session_id, {"idempotency_key": "e2"})
    assert caught.value.status == 409


def _with_session(engine: Engine, key: str) -> str:
    session_id = started(engine, idempotency_key=key, risk_budget_total_micros=1000)
    engine.events(session_id, batch("seen", atom("seen-atom")))
    return session_id


def _exhausted(engine: Engine, key: str) -> str:
    session_id = started(engine, idempotency_key=key, risk_budget_total_micros=100)
    engine.turn(session_id, turn("spend-all", risk_budget_used_micros=100))
    return session_id


def _ended(engine: Engine, key: str) -> str:
    session_id = started(engine, idempotency_key=key)
    engine.end(session_id, {})
    return session_id


def _signed_session(engine: Engine, key: str) -> str:
    return started(engine, idempotency_key=key)  # registers the demo sidecar key


GOOD = atom("fine")
BAD_SIGNATURE = {**SCENARIO[1]["body"]["atoms"][1], "idempotency_key": "tampered"}

# (name, how to get the session, call, body, status, words the message must contain)
INVALID_CALLS: list[tuple[str, Any, str, Any, int, str]] = [
    ("unknown session", None, "events", batch("x", GOOD), 404, "unknown session"),
    ("unknown session end", None, "end", {}, 404, "unknown session"),
    ("ended session events", _ended, "events", batch("x", GOOD), 409, "has ended"),
    ("ended session turn", _ended, "turns", turn("t"), 409, "has ended"),
    ("ended session end", _ended, "end", {}, 409, "already ended"),
    ("batch over 100", _with_session, "events",
     batch("x", *[atom(f"k{i}") for i in range(101)]), 413, "at most 100"),
    ("empty batch", _with_session, "events", batch("x"), 422, "non-empty"),
    ("bad atom type", _with_session, "events", batch("x", atom("k", type="video_frame")),
     422, "not an atom type"),
    ("bad atom late in batch", _with_session, "events",
     batch("x", *[atom(f"k{i}") for i in range(50)], atom("k50", type="nope")), 422,
     "atoms[50].type"),
    ("media bytes", _with_session, "events",
     batch("x", {"type": "audio_chunk", "idempotency_key": "k", "captured_at_ns": 1,
                 "direction": "inbound", "content_hash": "sha256:" + "a" * 64,
                 "format": "pcm16", "duration_ms": 10, "audio_base64": "AAAA"}),
     422, "media bytes"),
    ("audio without direction", _with_session, "events",
     batch("x", {"type": "audio_chunk", "idempotency_key": "k", "captured_at_ns": 1,
                 "content_hash": "sha256:" + "a" * 64, "format": "pcm16",
                 "duration_ms": 10}), 422, "direction"),
    ("captured_at_ns not digits", _with_session, "events",
     batch("x", atom("k", captured_at_ns="12a")), 422, "captured_at_ns"),
    ("captured_at_ns float", _with_session, "events",
     batch("x", atom("k", captured_at_ns=1.5)), 422, "captured_at_ns"),
    ("captured_at_ns boolean", _with_session, "events",
     batch("x", atom("k", captured_at_ns=True)), 422, "captured_at_ns"),
    ("captured_at_ns negative", _with_session, "events",
     batch("x", atom("k", captured_at_ns=-1)), 422, "captured_at_ns"),
    ("duration exponent", _with_session, "events",
     batch("x", {"type": "audio_chunk", "idempotency_key": "k", "captured_at_ns": 1,
                 "direction": "inbound", "content_hash": "sha256:" + "a" * 64,
                 "format": "pcm16", "duration_ms": "1e3"}), 422, "duration_ms"),
    ("duplicate atom key in batch", _with_session, "events",
     batch("x", atom("same"), atom("same")), 422, "appears twice"),
    ("bad sidecar signature", _signed_session, "events", batch("x", BAD_SIGNATURE), 422,
     "does not verify"),
    ("batch key reused with another body", _with_session, "events",
     batch("seen", atom("other")), 409, "different request"),
    ("tokens not a number", _with_session, "turns", turn("t", input_tokens="ten"), 422,
     "input_tokens"),
    ("tokens over 2^53", _with_session, "turns", turn("t", output_tokens=2**53), 422,
     "at most"),
    ("budget exhausted", _exhausted, "turns", turn("t2"), 409, "exhausted"),
    ("payment cadence", _with_session, "turns",
     turn("t", tool_call={"tool_name": "pay", "action_verb": "mpp.payment",
                          "payment": {"amount": 1, "currency": "usd", "spend_authority": {
                              "authority_id": "sa", "amount_max": 5, "currency": "usd",
                              "ttl_seconds": 60, "cadence": "monthly"}}}), 422, "cadence"),
    ("payment without authority", _with_session, "turns",
     turn("t", tool_call={"tool_name": "pay", "action_verb": "mpp.payment",
                          "payment": {"amount": 1, "currency": "usd"}}), 422,
     "spend_authority"),
    ("unknown action verb", _with_session, "action_permits",
     {"idempotency_key": "a", "action_name": "x", "action_verb": "db.drop"}, 422,
     "action_verb"),
    ("interruption of a future turn", _with_session, "interruption_events",
     {"idempotency_key": "i", "interrupted_turn_index": 9}, 422, "0 turn"),
    ("end with a bad status", _with_session, "end", {"status": "paused"}, 422, "status"),
    ("end usage not integer", _with_session, "end", {"usage": {"duration_ms": 1.5}}, 422,
     "duration_ms"),
    ("not an object", _with_session, "turns", ["x"], 422, "JSON object"),
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


@pytest.mark.parametrize("body", [
    {**START, "metadata": {"score": 0.5}},
    {**START, "metadata": {"big": 2**60}},
    {**START, "resource": {**START["resource"], "operation": "chat"}},
    {**START, "schema_version": 2},
    {**START, "subject": ""},
    {**START, "surprise": 1},
    {k: v for k, v in START.items() if k != "idempotency_key"},
])
def test_invalid_start_changes_nothing(body: dict[str, Any]) -> None:
    engine = fresh_engine()
    before = engine.store.snapshot()
    with pytest.raises(EmitError) as caught:
        engine.start(body)
    assert caught.value.status == 422
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
       "payment": {"amount": 900, "currency": "usd", "spend_authority": {
           "authority_id": "sa-1", "amount_max": 1000, "currency": "USD", "ttl_seconds": 120,
           "cadence": "one_shot"}}}


def test_budget_denial_is_recorded_and_consumes_nothing() -> None:
    engine = fresh_engine()
    session_id = started(engine, risk_budget_total_micros=1000)
    answer = engine.turn(session_id, turn("t1", risk_budget_used_micros=1500))
    assert answer["decision"] == "deny" and answer["user_facing_reason"]
    assert answer["risk_budget_remaining_micros"] == 1000
    assert engine.turn(session_id, turn("t2", risk_budget_used_micros=1000))["decision"] == "allow"
    with pytest.raises(EmitError, match="exhausted"):
        engine.turn(session_id, turn("t3"))


@pytest.mark.parametrize(("change", "reason"), [
    ({"amount": 1001}, "exceeds"),
    ({"currency": "eur"}, "currency"),
])
def test_payment_outside_the_spend_authority_is_denied(change: dict[str, Any],
                                                       reason: str) -> None:
    engine = fresh_engine()
    session_id = started(engine)
    tool_call = {**PAY, "payment": {**PAY["payment"], **change}}
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
    assert second["tool_call"]["decision"] == "deny"
    assert "already used" in second["tool_call"]["user_facing_reason"]


def test_denied_tool_and_default_action_verb() -> None:
    engine = fresh_engine()
    session_id = started(engine)
    denied = engine.turn(session_id, turn("t1", tool_call={"tool_name": "collect_payment_card"}))
    assert denied["tool_call"]["decision"] == "deny"
    allowed = engine.action_permit(session_id, {"idempotency_key": "a1",
                                                "action_name": "summarise"})
    assert allowed["decision"] == "allow"
    assert allowed["permit"]["custom_metadata"]["action_verb"] == "ai.generate"
    artifact = engine.end(session_id, {})
    entries = {e["permit_id"]: e for e in artifact["chain"] if e["permit_id"]}
    assert entries[allowed["permit_id"]]["content_hash"] == allowed["permit"][
        "binding_session_event_hash"]


def test_failed_session_and_failed_timestamp_attempt(tmp_path: Path) -> None:
    class BrokenTsa:
        def timestamp(self, digest: bytes, at: datetime) -> tuple[bytes, str, str]:
            raise TimestampError("TSA unreachable", tsa="http://tsa.invalid/", provider="x")

    engine = fresh_engine(timestamper=BrokenTsa())
    session_id = started(engine)
    artifact = engine.end(session_id, {"status": "failed", "failure_reason": "carrier drop"})
    assert artifact["session_metadata"]["status"] == "failed"
    assert artifact["tsa_status"] == "degraded_no_receipt"
    [attempt] = artifact["rfc3161_timestamp_attempts"]
    assert attempt["status"] == "failed" and "unreachable" in attempt["error"]
    assert schema_errors(artifact) == []
    assert_verified(verify(artifact, demo_trust(tmp_path)), witnessed=False)


def test_two_sessions_share_the_project_chain() -> None:
    engine = fresh_engine()
    first = started(engine)
    second = started(engine, idempotency_key="second")
    engine.events(first, batch("b", atom("a")))
    artifact_second = engine.end(second, {})
    artifact_first = engine.end(first, {})
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
    artifact = engine.end(session_id, end["body"])
    store.close()
    assert artifact["chain_head"]["event_count"] == demo_entry_count(1)
    assert schema_errors(artifact) == []
    assert_verified(verify(artifact, pinned_trust()), witnessed=False)


# -- property: any accepted atom sequence gives a verifying artifact ---------------------

_TEXT = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40)
_ATOMS = st.lists(
    st.tuples(st.sampled_from(["transcript_span", "lifecycle_marker", "interruption"]),
              st.integers(0, 30), _TEXT, st.integers(0, 2**64 - 1), st.booleans()),
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
            item: dict[str, Any] = {"type": kind, "idempotency_key": key,
                                    "captured_at_ns": str(captured) if as_string else captured}
            if kind == "transcript_span":
                item.update(direction="outbound", text=text)
            elif kind == "lifecycle_marker":
                item["marker"] = text
            else:
                item["reason"] = text
            body.append(item)
        engine.events(session_id, batch(f"b{start}", *body))
    artifact = engine.end(session_id, {})
    assert artifact["chain_head"]["event_count"] == 1 + len(keys)
    assert schema_errors(artifact) == []
    assert_verified(verify(artifact, pinned_trust()), witnessed=False)
