"""Session facts (keel_verify/facts/) and the session_counters check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from keel_verify import Outcome, Verdict, verify_bytes, verify_path
from keel_verify.facts.model import SessionFacts
from keel_verify.results import Report
from keel_verify.trust.sources import TrustSpec, build_policy
from tests.helpers import TEST_ISSUER_PUBLIC, load_document, public_v1, resign, to_bytes

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_V1 = ROOT / "sample" / "voice_session_v1.json"
SAMPLE_V3 = ROOT / "sample" / "voice_session_v3.json"
TRUST_ROOT = str(ROOT / "sample" / "trust-root.json")
SAMPLE_TRUST = build_policy(TrustSpec((), False, TRUST_ROOT, (), False))
# The test issuer key pinned, plus the sample trust root's TSA roots: a re-signed sample
# then fails only where a test broke something.
RESIGNED_TRUST = build_policy(TrustSpec((TEST_ISSUER_PUBLIC,), False, TRUST_ROOT, (), False))


def _facts(report: Report) -> SessionFacts:
    assert report.session is not None
    return report.session


def _failing(report: Report) -> dict[str, str]:
    return {c.name: c.reason for c in report.checks if c.outcome is Outcome.FAIL}


def test_v1_sample_facts_show_the_session() -> None:
    report = verify_path(SAMPLE_V1, SAMPLE_TRUST)
    assert report.verdict is Verdict.VERIFIED
    facts = _facts(report)
    assert facts.session_id == "sess_30e5d150d5a022eb4297a866"
    assert facts.event_count == 18 and facts.payloads_embedded
    assert [(t.index, t.decision) for t in facts.turns] == [(1, "allowed"), (2, "allowed"), (3, "denied")]
    assert facts.denied_turns[0].reason == "This request would exceed the session's risk budget."
    assert [c.tool_name for c in facts.tool_calls] == [
        "lookup_order_status", "stripe_mpp_payment", "send_receipt_sms"]
    assert all(call.permit_found for call in facts.tool_calls)
    (payment,) = facts.payments
    assert payment.payment is not None and payment.payment.amount_text == "12.50 USD"
    assert payment.payment.cadence == "one_shot" and payment.payment.amount_max == (
        "5000 as stated (currency class USD_FIAT; the artifact does not give its unit)")
    assert payment.payment.purpose == "purchase.once"
    assert payment.payment.target_url == "https://merchant.example/mpp/pay"
    assert [p.kind for p in facts.permits] == ["session", "child", "child", "child"]
    assert [p.bound_sequence for p in facts.permits[1:]] == [11, 13, 16]
    # one interruption: the observed atom is the evidence of the turn.interrupted entry
    assert [i.event_type for i in facts.interruptions] == ["voice.turn.interrupted"]
    assert facts.interruptions[0].interrupted_turn_index == 2
    assert facts.interruptions_omitted == 0
    (receipt,) = facts.receipts
    assert receipt.status == "verified" and receipt.gen_time == "2026-05-21T14:32:08Z"
    assert dict(facts.counts_by_type)["voice.turn.evaluated"] == 3
    assert facts.budget.total_micros == 1_000_000 and facts.budget.used_by_chain_micros == 450_000
    assert facts.disagreeing_counters == ()
    assert len(facts.chain_first) == 18 and facts.chain_last == () and facts.chain_omitted == 0
    lanes = {mark.lane for mark in facts.timeline.marks}
    assert {"lifecycle", "audio_in", "audio_out", "transcript", "turns", "tools",
            "interruptions", "witness"} <= lanes
    assert report.check("session_counters").outcome is Outcome.PASS


def test_v3_sample_facts_come_from_entries_and_permits() -> None:
    report = verify_path(SAMPLE_V3, SAMPLE_TRUST)
    facts = _facts(report)
    assert not facts.payloads_embedded
    assert [t.decision for t in facts.turns] == ["allowed", "allowed", "denied"]
    assert [t.index for t in facts.turns] == [1, 2, 3]  # from resource_id turn_N
    assert facts.turns[2].reason is None  # hash-only: the reason is not in the artifact
    (payment,) = facts.payments  # from the child permit's custom_metadata
    assert payment.payment is not None and payment.payment.amount_text == "12.50 USD"
    result = report.check("session_counters")
    assert result.outcome is Outcome.PASS
    assert "session_counters.input_tokens" in result.details["not_comparable"]


def _zeroed(document: dict[str, Any]) -> dict[str, Any]:
    """The issue's case: counters set to 0 and the artifact re-signed."""
    metadata = document["session_metadata"]
    metadata["session_counters"]["turn_count"] = 0
    metadata["session_counters"]["tool_call_count"] = 0
    metadata["risk_budget_used_micros"] = 0
    return resign(document)


@pytest.mark.parametrize("sample", [SAMPLE_V1, SAMPLE_V3], ids=["v1", "v3"])
def test_zeroed_counters_fail_session_counters(sample: Path) -> None:
    report = verify_bytes(to_bytes(_zeroed(load_document(sample))), RESIGNED_TRUST)
    assert report.verdict is Verdict.FAILED
    assert set(_failing(report)) == {"session_counters"}  # nothing else notices
    result = report.check("session_counters")
    assert result.pointer == "/session_metadata/session_counters/tool_call_count"
    assert "tool_call_count is 0, but the chain holds 3" in result.reason
    disagreeing = {c.name for c in _facts(report).disagreeing_counters}
    expected = {"session_counters.turn_count", "session_counters.tool_call_count"}
    if sample == SAMPLE_V1:  # v1 payloads give the budget used; v3 only total - used
        expected |= {"risk_budget_used_micros"}
    else:
        expected |= {"risk_budget_remaining_micros"}
    assert disagreeing == expected
    assert result.details["problems"][0]["pointer"].startswith("/session_metadata/")


def test_untouched_resigned_sample_passes() -> None:
    report = verify_bytes(to_bytes(resign(load_document(SAMPLE_V1))), RESIGNED_TRUST)
    assert report.verdict is Verdict.VERIFIED


@pytest.mark.parametrize(("path", "value", "fails"), [
    (("session_counters", "event_count"), 17, True),
    (("session_counters", "denied_turn_count"), 0, True),
    (("session_counters", "interruption_count"), 2, True),
    (("session_counters", "atom_count"), 11, True),
    (("session_counters", "input_tokens"), 1, True),
    (("session_counters", "turn_count"), "3", True),  # not an integer
    (("session_counters", "future_counter"), 5, False),  # unknown: not comparable
    (("risk_budget_total_micros",), 2_000_000, True),
    (("risk_budget_remaining_micros",), 1, True),
])
def test_each_counter_is_compared(path: tuple[str, ...], value: Any, fails: bool) -> None:
    document = load_document(SAMPLE_V1)
    holder = document["session_metadata"]
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = value
    report = verify_bytes(to_bytes(resign(document)), RESIGNED_TRUST)
    result = report.check("session_counters")
    assert (result.outcome is Outcome.FAIL) is fails, result.reason
    if fails:
        assert result.pointer == "/session_metadata/" + "/".join(path)


@pytest.mark.parametrize(("key", "value"), [("input_tokens", 5), ("audio_input_ms", 100)])
def test_usage_disagreement_warns(key: str, value: int) -> None:
    document = load_document(SAMPLE_V1)
    document["session_metadata"]["usage"][key] = value
    report = verify_bytes(to_bytes(resign(document)), RESIGNED_TRUST)
    result = report.check("session_counters")
    assert result.outcome is Outcome.WARN and result.pointer == f"/session_metadata/usage/{key}"


def test_audio_usage_may_exceed_the_recorded_chunks() -> None:
    document = load_document(SAMPLE_V1)
    document["session_metadata"]["usage"]["audio_input_ms"] = 480  # exactly the chunks
    report = verify_bytes(to_bytes(resign(document)), RESIGNED_TRUST)
    assert report.check("session_counters").outcome is Outcome.PASS


def test_absent_counters_are_not_an_error() -> None:
    report = verify_bytes(to_bytes(resign(public_v1())), RESIGNED_TRUST)
    result = report.check("session_counters")
    assert result.outcome is Outcome.PASS and result.details["compared"] == 0
    document = load_document(SAMPLE_V1)
    for key in ("session_counters", "usage", "risk_budget_used_micros"):
        del document["session_metadata"][key]
    report = verify_bytes(to_bytes(resign(document)), RESIGNED_TRUST)
    assert report.check("session_counters").outcome is Outcome.PASS


@pytest.mark.parametrize("junk", [None, [], "x", {"turn_count": None}])
def test_counters_of_any_shape_never_crash(junk: Any) -> None:
    document = load_document(SAMPLE_V1)
    document["session_metadata"]["session_counters"] = junk
    document["chain"][9]["canonicalized_payload"] = junk  # a turn payload of any shape
    report = verify_bytes(to_bytes(resign(document)), RESIGNED_TRUST)
    assert report.session is not None
    assert "internal error" not in report.check("session_counters").reason


def test_large_chains_keep_bounded_rows() -> None:
    from keel_verify.emit import build_demo_artifact, dump_artifact

    artifact = build_demo_artifact(3, tsa="local", events=700)
    report = verify_bytes(dump_artifact(artifact), SAMPLE_TRUST)
    facts = _facts(report)
    assert report.verdict is Verdict.VERIFIED
    assert facts.event_count == 700
    assert len(facts.chain_first) == 50 and len(facts.chain_last) == 50
    assert facts.chain_omitted == 600
    assert facts.chain_last[-1].index == 699
    (transcripts,) = [b for b in facts.timeline.bins if b.lane == "transcript"]
    assert sum(transcripts.counts) == transcripts.total == dict(facts.counts_by_type)[
        "voice.transcript_span.recorded"]


def test_hash_prefixes_are_plain_hex_or_empty() -> None:
    from keel_verify.facts.collect import hash_prefix

    assert hash_prefix("sha256:" + "ab" * 32) == "ab" * 6
    for junk in ("sha256:<script>alert", "sha256:\u202eabcdefabcdef", "sha256:ABCDEFABCDEF", 7, None):
        assert hash_prefix(junk) == ""
