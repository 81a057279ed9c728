"""``time_consistency``: the artifact's signed times, and the witnessed genTime against them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from keel_verify import Outcome, TrustPolicy, load_trust_policy, verify_path
from keel_verify.checks.time_consistency import (
    GEN_TIME_AFTER_ISSUED_TOLERANCE,
    RECEIVED_AT_TOLERANCE,
    witness_basis,
)
from keel_verify.emit.tsa_authority import TokenOptions
from keel_verify.results import CheckResult
from tests.helpers import PUBLIC_V1, PUBLIC_V3, public_v3, rechain, resign
from tests.tsa_support import GEN_TIME, policy, token_for, verify, witnessed_v3

NAME = "time_consistency"
ISSUED_AT = datetime(2026, 5, 21, 14, 35, 0, tzinfo=UTC)  # the v3 sample's issued_at
LAST_EVENT = datetime(2026, 5, 21, 14, 33, 12, tzinfo=UTC)  # its second entry's occurred_at


def z(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def judge(document: dict[str, Any], *, anchored: bool = True) -> CheckResult:
    return verify(document, policy() if anchored else policy(roots=())).check(NAME)


def at_gen_time(
    gen_time: datetime, *, received_at: datetime | None = None, anchored: bool = True,
    document: dict[str, Any] | None = None, options: TokenOptions | None = None,
) -> CheckResult:
    base = document if document is not None else public_v3()
    token = token_for(base, gen_time=gen_time, options=options)
    signed = witnessed_v3(token, document=base, received_at=z(received_at or gen_time))
    return judge(signed, anchored=anchored)


def test_tolerances_are_documented_constants() -> None:
    assert timedelta(minutes=10) == GEN_TIME_AFTER_ISSUED_TOLERANCE
    assert timedelta(minutes=5) == RECEIVED_AT_TOLERANCE


# -- the public samples ----------------------------------------------------------------


@pytest.mark.parametrize("path", [PUBLIC_V1, PUBLIC_V3], ids=["v1", "v3"])
def test_public_samples_warn_that_gen_time_precedes_the_session(path: Path) -> None:
    result = verify_path(str(path), TrustPolicy.self_attested_only()).check(NAME)
    assert result.outcome is Outcome.WARN
    assert result.reason.startswith(
        "genTime 2026-04-15T12:00:01Z (unauthenticated) precedes the session itself "
        "(started_at 2026-05-21T14:32:00Z"
    )
    assert "reported, not failed" in result.reason
    assert result.pointer == "/timestamp_receipts/0/tsa_response_base64"
    problems = {p["pointer"] for p in result.details["problems"]}
    assert problems == {
        "/timestamp_receipts/0/tsa_response_base64",
        "/timestamp_receipts/0/received_at",
    }


# -- consistent ------------------------------------------------------------------------


def test_witnessed_sample_is_consistent() -> None:
    result = judge(witnessed_v3())
    assert result.outcome is Outcome.PASS, result.reason
    assert "(authenticated)" in result.reason
    assert result.details["gen_times_judged"] == 1


def test_no_receipt_is_judged_on_signed_times_alone() -> None:
    document = public_v3()
    document["timestamp_receipts"] = []
    document["rfc3161_timestamp_receipt"] = None
    document["tsa_status"] = "degraded_no_receipt"
    result = judge(resign(document))
    assert result.outcome is Outcome.PASS
    assert "no witnessed genTime" in result.reason


# -- signed contradictions fail --------------------------------------------------------


def _edited(edit: Any) -> dict[str, Any]:
    document = public_v3()
    edit(document)
    rechain(document)
    return witnessed_v3(document=document)


@pytest.mark.parametrize(
    ("edit", "pointer", "words"),
    [
        (lambda d: d["chain"][1].update(occurred_at="2026-05-21T14:35:30Z"),
         "/chain/1/occurred_at", "is after ended_at 2026-05-21T14:35:00Z"),
        (lambda d: d["chain"][0].update(occurred_at="2026-05-21T14:31:00Z"),
         "/chain/0/occurred_at", "precedes started_at"),
        (lambda d: d["session_metadata"].update(ended_at="2026-05-21T14:36:00Z"),
         "/session_metadata/ended_at", "is after issued_at"),
        (lambda d: d["session_metadata"].update(ended_at="2026-05-21T14:31:00Z"),
         "/session_metadata/ended_at", "precedes started_at"),
        (lambda d: d["session_metadata"].update(ended_at=None),
         "/session_metadata/ended_at", "status is \"ended\" but ended_at is null"),
        (lambda d: d["chain"][0].update(occurred_at="yesterday"),
         "/chain/0/occurred_at", "not an RFC 3339 UTC timestamp"),
    ],
    ids=["event-after-end", "event-before-start", "end-after-issue", "end-before-start",
         "ended-without-end", "bad-occurred-at"],
)
def test_contradictions_among_signed_times_fail(edit: Any, pointer: str, words: str) -> None:
    result = judge(_edited(edit))
    assert result.outcome is Outcome.FAIL
    assert result.pointer == pointer
    assert words in result.reason


def test_signed_contradictions_fail_even_with_only_unauthenticated_witnesses() -> None:
    edit = lambda d: d["chain"][1].update(occurred_at="2026-05-21T14:35:30Z")  # noqa: E731
    assert judge(_edited(edit), anchored=False).outcome is Outcome.FAIL


def _active(document: dict[str, Any]) -> None:
    document["session_metadata"].update(status="active", ended_at=None)


def test_active_session_without_end_is_bounded_by_issued_at() -> None:
    assert judge(_edited(_active)).outcome is Outcome.PASS


def test_active_session_event_after_issued_at_fails() -> None:
    def edit(document: dict[str, Any]) -> None:
        _active(document)
        document["chain"][1]["occurred_at"] = "2026-05-21T14:35:30Z"

    result = judge(_edited(edit))
    assert result.outcome is Outcome.FAIL
    assert "is after issued_at" in result.reason


# -- the witnessed genTime -------------------------------------------------------------


def test_authenticated_gen_time_before_the_last_covered_event_fails() -> None:
    result = at_gen_time(datetime(2026, 5, 21, 14, 33, 0, tzinfo=UTC))
    assert result.outcome is Outcome.FAIL
    assert "(authenticated) precedes the last chain event it covers" in result.reason
    assert "/chain/1/occurred_at" in result.reason


def test_unauthenticated_gen_time_before_the_last_event_only_warns() -> None:
    result = at_gen_time(datetime(2026, 5, 21, 14, 33, 0, tzinfo=UTC), anchored=False)
    assert result.outcome is Outcome.WARN
    assert "(unauthenticated) precedes the last chain event" in result.reason


def test_authenticated_gen_time_before_the_session_fails() -> None:
    result = at_gen_time(datetime(2026, 5, 21, 14, 0, 0, tzinfo=UTC),
                         received_at=datetime(2026, 5, 21, 14, 0, 0, tzinfo=UTC))
    assert result.outcome is Outcome.FAIL
    assert "precedes the session itself" in result.reason


@pytest.mark.parametrize(
    ("seconds_before_event", "outcome"),
    [(1, Outcome.PASS), (2, Outcome.FAIL)],
    ids=["within-accuracy", "beyond-accuracy"],
)
def test_gen_time_accuracy_widens_the_comparison(
    seconds_before_event: int, outcome: Outcome
) -> None:
    gen_time = LAST_EVENT - timedelta(seconds=seconds_before_event)
    result = at_gen_time(gen_time, options=TokenOptions(accuracy_seconds=1))
    assert result.outcome is outcome, result.reason


def test_only_covered_events_bound_the_gen_time() -> None:
    document = public_v3()
    for receipt in (document["timestamp_receipts"][0], document["rfc3161_timestamp_receipt"]):
        receipt["covers_chain_head_at_sequence"] = 101  # the first entry only
    result = at_gen_time(datetime(2026, 5, 21, 14, 33, 0, tzinfo=UTC), document=document)
    assert result.outcome is Outcome.PASS, result.reason


@pytest.mark.parametrize(
    ("minutes_after_issue", "outcome"),
    [(9, Outcome.PASS), (11, Outcome.FAIL)],
    ids=["within-tolerance", "beyond-tolerance"],
)
def test_gen_time_long_after_issued_at_fails(minutes_after_issue: int, outcome: Outcome) -> None:
    result = at_gen_time(ISSUED_AT + timedelta(minutes=minutes_after_issue))
    assert result.outcome is outcome, result.reason
    if outcome is Outcome.FAIL:
        assert "after issued_at 2026-05-21T14:35:00Z (tolerance 10 min 0 s)" in result.reason


def test_received_at_far_from_gen_time_fails_when_authenticated() -> None:
    result = at_gen_time(GEN_TIME, received_at=GEN_TIME + timedelta(hours=1))
    assert result.outcome is Outcome.FAIL
    assert result.pointer == "/timestamp_receipts/0/received_at"
    assert "received_at 2026-05-21T15:35:01Z is 1 h 0 min from genTime" in result.reason


def test_received_at_near_gen_time_passes() -> None:
    result = at_gen_time(GEN_TIME, received_at=GEN_TIME + timedelta(minutes=4))
    assert result.outcome is Outcome.PASS


def test_tokens_that_fail_verification_are_left_to_timestamp_witness() -> None:
    broken = token_for(public_v3(), gen_time=datetime(2026, 1, 1, tzinfo=UTC),
                       options=TokenOptions(ess="none"))
    report = verify(witnessed_v3(broken, received_at="2026-01-01T00:00:00Z"), policy())
    assert report.check("timestamp_witness").outcome is Outcome.FAIL
    result = report.check(NAME)
    assert result.outcome is Outcome.PASS
    assert result.details["gen_times_judged"] == 0


@pytest.mark.parametrize(
    ("authenticated", "total", "words"),
    [(1, 1, "authenticated"), (3, 3, "all authenticated"), (0, 1, "unauthenticated"),
     (0, 2, "none authenticated"), (1, 3, "1 authenticated, 2 unauthenticated"),
     (2, 3, "2 authenticated, 1 unauthenticated")],
)
def test_the_witness_basis_is_true_for_one_and_for_many(authenticated: int, total: int,
                                                        words: str) -> None:
    assert witness_basis(authenticated, total) == words


def test_a_single_unauthenticated_gen_time_is_not_called_partly_unauthenticated() -> None:
    sample = Path(__file__).resolve().parent.parent / "sample" / "voice_session_v3.json"
    policy = load_trust_policy(public_keys=["ed25519:La7wanEjRdscOGZ3HJQdabcMAy9Oqbk8QLjkeNU9Qws="])
    reason = verify_path(sample, policy).check("time_consistency").reason
    assert "; 1 witnessed genTime (unauthenticated): after the events covered" in reason
    assert "partly" not in reason
