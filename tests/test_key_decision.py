"""Trust that cannot be talked into VERIFIED: key windows and revocation rest only on times
that bound the signing; the strictest statement about the key bytes wins; purpose comes
from the trust policy; the signer is named by what verified; self-attested shows."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keel_verify import Outcome, TrustedKey, TrustPolicy, Verdict
from keel_verify.crypto.signatures import key_fingerprint
from keel_verify.emit.signing import raw_public_key
from keel_verify.errors import TrustConfigError
from keel_verify.trust.key_decision import (
    KEY_EXPIRED,
    KEY_NOT_YET_VALID,
    KEY_PURPOSE_MISMATCH,
    KEY_REVOKED,
    KEY_WINDOW_ON_CLAIM,
    SigningTimes,
    Standing,
    decide_key,
)
from tests.helpers import OTHER_KEY, OTHER_PUBLIC, TEST_ISSUER_KEY, TEST_ISSUER_PUBLIC, to_bytes
from tests.test_cli import run
from tests.tsa_support import authority, policy, trusted_issuer, verify, witnessed_v3

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
MAY = datetime(2026, 5, 21, 14, 35, tzinfo=UTC)
JUNE = datetime(2026, 6, 1, tzinfo=UTC)
RAW = raw_public_key(TEST_ISSUER_KEY)


def stated(**conditions: Any) -> TrustedKey:
    return TrustedKey(public_key=RAW, source=conditions.pop("source", "test"), **conditions)


def at(witnessed: datetime | None = None, claimed: datetime | None = MAY,
       verified_at: datetime = NOW) -> SigningTimes:
    return SigningTimes(witnessed, claimed, verified_at)


# -- the rules, as pure functions --------------------------------------------------------


def test_no_statement_is_silent() -> None:
    assert decide_key((), at()).standing is Standing.SILENT


@pytest.mark.parametrize(("statement", "times", "standing", "kind"), [
    (stated(), at(), Standing.VOUCHES, None),
    # a window still open now: the signing happened before now, proven
    (stated(not_after=datetime(2027, 1, 1, tzinfo=UTC)), at(), Standing.VOUCHES, None),
    # closed window: only issued_at keeps the signing inside it
    (stated(not_after=JUNE), at(), Standing.VOUCHES_ON_CLAIM, KEY_WINDOW_ON_CLAIM),
    (stated(not_after=JUNE), at(witnessed=MAY), Standing.VOUCHES_ON_CLAIM, KEY_WINDOW_ON_CLAIM),
    # closed before the authenticated lower bound, or before the issuer's own claim
    (stated(not_after=JUNE), at(witnessed=JUNE + timedelta(seconds=1)), Standing.REFUSES,
     KEY_EXPIRED),
    (stated(not_after=JUNE), at(claimed=NOW), Standing.REFUSES, KEY_EXPIRED),
    (stated(not_before=JUNE), at(), Standing.REFUSES, KEY_NOT_YET_VALID),
    (stated(not_before=JUNE), at(witnessed=JUNE), Standing.VOUCHES, None),
    (stated(not_before=datetime(2027, 1, 1, tzinfo=UTC)), at(claimed=datetime(2027, 2, 1,
     tzinfo=UTC)), Standing.REFUSES, KEY_NOT_YET_VALID),
    # revocation: whatever issued_at or genTime say, unless it is still to come
    (stated(status="revoked", revoked_at=JUNE), at(), Standing.REFUSES, KEY_REVOKED),
    (stated(status="revoked", revoked_at=JUNE), at(witnessed=MAY), Standing.REFUSES, KEY_REVOKED),
    (stated(status="revoked"), at(), Standing.REFUSES, KEY_REVOKED),
    (stated(status="revoked", revoked_at=datetime(2027, 1, 1, tzinfo=UTC)), at(),
     Standing.VOUCHES, None),
    # purpose from the policy
    (stated(purpose="receipt_signing"), at(), Standing.REFUSES, KEY_PURPOSE_MISMATCH),
    # a retired key (Keel manifests) without an end: signing before retirement is a claim
    (stated(status="retired"), at(), Standing.VOUCHES_ON_CLAIM, KEY_WINDOW_ON_CLAIM),
], ids=["plain", "open-window", "closed-window", "closed-window-witnessed",
        "expired-before-genTime", "expired-before-issued_at", "not-yet-valid-at-issued_at",
        "valid-from-genTime", "not-yet-valid-now", "revoked", "revoked-witnessed-before",
        "revoked-undated", "revocation-scheduled", "other-purpose", "retired"])
def test_decide_key(statement: TrustedKey, times: SigningTimes, standing: Standing,
                    kind: str | None) -> None:
    decision = decide_key((statement,), times)
    assert decision.standing is standing, decision
    assert decision.kind == kind


def test_the_strictest_statement_wins_in_any_order() -> None:
    active, revoked = stated(source="first"), stated(status="revoked", revoked_at=JUNE, source="b")
    early_end = stated(not_after=datetime(2026, 5, 1, tzinfo=UTC))
    for statements in ((active, revoked), (revoked, active), (active, active, revoked)):
        decision = decide_key(statements, at())
        assert decision.standing is Standing.REFUSES and decision.kind == KEY_REVOKED
    # windows intersect: the earliest end and the latest start apply
    assert decide_key((active, early_end), at()).kind == KEY_EXPIRED
    # purposes add up: one grant of export_signing suffices
    other = stated(purpose="receipt_signing")
    assert decide_key((other, active), at()).standing is Standing.VOUCHES


revocations = st.one_of(
    st.just({"status": "revoked"}),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2026, 11, 30, 11, 59),
                 timezones=st.just(UTC)).map(lambda when: {"status": "revoked",
                                                            "revoked_at": when}),
)
other_conditions = st.fixed_dictionaries({}, optional={
    "purpose": st.sampled_from(["export_signing", "receipt_signing"]),
    "not_after": st.datetimes(min_value=datetime(2000, 1, 1), timezones=st.just(UTC)),
    "label": st.text(max_size=10),
})
times = st.builds(
    SigningTimes,
    st.none() | st.datetimes(min_value=datetime(2000, 1, 1), timezones=st.just(UTC)),
    st.none() | st.datetimes(min_value=datetime(2000, 1, 1), timezones=st.just(UTC)),
    st.just(NOW),
)


@given(revocation=revocations, others=st.lists(other_conditions, max_size=4),
       position=st.integers(0, 4), times=times)
def test_any_past_revocation_of_the_bytes_is_never_vouched(
    revocation: dict[str, Any], others: list[dict[str, Any]], position: int, times: SigningTimes
) -> None:
    statements = [stated(**conditions) for conditions in others]
    statements.insert(min(position, len(statements)), stated(**revocation))
    decision = decide_key(tuple(statements), times)
    assert decision.standing is Standing.REFUSES
    assert decision.kind == KEY_REVOKED


# -- the issue's cases, end to end ---------------------------------------------------------


def trust_root_file(tmp_path: Path, *keys: dict[str, Any], name: str = "root.json",
                    tsa: bool = False) -> Path:
    document: dict[str, Any] = {"trust_root_version": 1, "issuer_keys": list(keys)}
    if tsa:
        document["tsa_roots"] = [authority().root_pem()]
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def artifact_file(tmp_path: Path, document: dict[str, Any], name: str = "a.json") -> Path:
    path = tmp_path / name
    path.write_bytes(to_bytes(document))
    return path


def test_expired_key_around_an_older_genuine_token_warns_and_fails_strict() -> None:
    # The key expired 2026-06-01; the artifact carries a genuine token from 2026-05-21
    # and claims issued_at in May: only that claim says the signing predates the expiry.
    expired = policy(trusted_issuer(not_after=JUNE))
    report = verify(witnessed_v3(), expired)
    result = report.check("issuer_signature")
    assert result.outcome is Outcome.WARN
    assert "rests only on issued_at" in result.reason
    assert report.verdict is Verdict.VERIFIED
    strict = verify(witnessed_v3(), policy(trusted_issuer(not_after=JUNE), strict=True))
    assert strict.verdict is Verdict.FAILED


def test_expired_key_with_issued_at_after_the_window_fails() -> None:
    document = witnessed_v3()
    document["issued_at"] = "2026-11-30T09:00:00Z"  # signed today, says so
    from tests.helpers import resign

    report = verify(resign(document), policy(trusted_issuer(not_after=JUNE)))
    assert report.check("issuer_signature").outcome is Outcome.FAIL
    assert report.verdict is Verdict.FAILED


def test_window_closed_before_the_authenticated_gen_time_fails() -> None:
    closed = datetime(2026, 5, 21, 14, 35, 0, 500000, tzinfo=UTC)  # genTime is 14:35:01
    report = verify(witnessed_v3(), policy(trusted_issuer(not_after=closed)))
    result = report.check("issuer_signature")
    assert result.outcome is Outcome.FAIL
    assert "before the witnessed genTime" in result.reason


def test_revoked_key_with_backdated_issued_at_fails_naming_revoked_at(tmp_path: Path) -> None:
    root = trust_root_file(tmp_path, {"public_key": TEST_ISSUER_PUBLIC, "status": "revoked",
                                      "revoked_at": "2026-06-01T00:00:00Z"})
    result = run(artifact_file(tmp_path, witnessed_v3()), "--trust-root", root)
    assert result.returncode == 1, result.stdout
    assert "revoked at 2026-06-01T00:00:00Z" in result.stdout


@pytest.mark.parametrize("order", ["revoked-first", "active-first"])
def test_the_same_bytes_listed_twice_revocation_wins(tmp_path: Path, order: str) -> None:
    active = {"public_key": TEST_ISSUER_PUBLIC, "key_id": "active"}
    revoked = {"public_key": TEST_ISSUER_PUBLIC, "key_id": "old", "status": "revoked",
               "revoked_at": "2026-06-01T00:00:00Z"}
    keys = (revoked, active) if order == "revoked-first" else (active, revoked)
    result = run(artifact_file(tmp_path, witnessed_v3()), "--trust-root",
                 trust_root_file(tmp_path, *keys))
    assert result.returncode == 1, result.stdout
    assert "revoked at 2026-06-01" in result.stdout


def test_public_key_option_cannot_lift_a_trust_root_revocation(tmp_path: Path) -> None:
    root = trust_root_file(tmp_path, {"public_key": TEST_ISSUER_PUBLIC, "status": "revoked"})
    path = artifact_file(tmp_path, witnessed_v3())
    by_option = run(path, "--trust-root", root, "--public-key", TEST_ISSUER_PUBLIC)
    assert by_option.returncode == 1, by_option.stdout
    by_environment = run(path, "--public-key", TEST_ISSUER_PUBLIC,
                         env={"KEEL_VERIFY_TRUST_ROOT": str(root)})
    assert by_environment.returncode == 1, by_environment.stdout
    assert "key is revoked" in by_environment.stdout


def test_trust_root_option_cannot_lift_an_environment_revocation(tmp_path: Path) -> None:
    revoking = trust_root_file(tmp_path, {"public_key": TEST_ISSUER_PUBLIC, "status": "revoked"},
                               name="env.json")
    clean = trust_root_file(tmp_path, {"public_key": TEST_ISSUER_PUBLIC}, name="clean.json")
    result = run(artifact_file(tmp_path, witnessed_v3()), "--trust-root", clean,
                 env={"KEEL_VERIFY_TRUST_ROOT": str(revoking)})
    assert result.returncode == 1, result.stdout
    assert "env.json" in result.stdout


@settings(max_examples=25, deadline=None)
@given(revocation=revocations, others=st.lists(other_conditions, max_size=3),
       position=st.integers(0, 3), pinned=st.booleans())
def test_any_trust_root_revoking_the_key_bytes_is_never_verified(
    revocation: dict[str, Any], others: list[dict[str, Any]], position: int, pinned: bool
) -> None:
    statements = [trusted_issuer(**conditions) for conditions in others]
    statements.insert(min(position, len(statements)), trusted_issuer(**revocation))
    if pinned:
        statements.append(*TrustPolicy.pinned(TEST_ISSUER_PUBLIC).issuer_keys)
    report = verify(witnessed_v3(), policy(*statements))
    assert report.verdict is not Verdict.VERIFIED
    assert report.check("issuer_signature").outcome is Outcome.FAIL


@pytest.mark.parametrize("claim", ["receipt_signing", "export_signing", "anything"])
def test_purpose_comes_from_the_trust_root_never_from_the_artifact(claim: str) -> None:
    document = witnessed_v3()
    document["signatures"][0]["key_purpose"] = claim  # outside the signed bytes
    receipts_only = verify(document, policy(trusted_issuer(purpose="receipt_signing")))
    assert receipts_only.check("issuer_signature").outcome is Outcome.FAIL
    assert "trusted only for purpose 'receipt_signing'" in (
        receipts_only.check("issuer_signature").reason)
    assert receipts_only.verdict is Verdict.FAILED
    issuer = verify(document, policy(trusted_issuer()))
    assert issuer.verdict is Verdict.VERIFIED


# -- naming the signer by what verified ------------------------------------------------------


def test_a_forged_entry_carrying_the_trusted_label_is_not_named_by_it(tmp_path: Path) -> None:
    root = trust_root_file(tmp_path, {"public_key": TEST_ISSUER_PUBLIC, "key_id": "keel-prod"})
    forged = witnessed_v3(key=OTHER_KEY)
    forged["signatures"][0]["key_id"] = "keel-prod"
    result = run(artifact_file(tmp_path, forged), "--trust-root", root, "--json")
    assert result.returncode == 1
    signer = json.loads(result.stdout)["files"][0]["signer"]
    assert signer["label"] is None and signer["trusted"] is False
    assert signer["claimed_key_id"] == "keel-prod"
    assert signer["fingerprint"] == key_fingerprint(raw_public_key(OTHER_KEY))
    text = run(artifact_file(tmp_path, forged), "--trust-root", root).stdout
    assert "[claims key_id keel-prod]" in text
    assert key_fingerprint(raw_public_key(OTHER_KEY)) in text


def test_a_trusted_signer_is_named_by_label_and_fingerprint(tmp_path: Path) -> None:
    root = trust_root_file(tmp_path, {"public_key": TEST_ISSUER_PUBLIC, "key_id": "keel-prod"})
    document = witnessed_v3()
    result = run(artifact_file(tmp_path, document), "--trust-root", root, "--json")
    assert result.returncode == 0, result.stdout
    report = json.loads(result.stdout)["files"][0]
    assert report["trust_basis"] == "trust-root"
    assert report["signer"]["label"] == "keel-prod"
    assert report["signer"]["fingerprint"] == key_fingerprint(RAW)


# -- self-attested is visible everywhere ----------------------------------------------------


def test_self_attested_json_is_not_trusted(tmp_path: Path) -> None:
    result = run(artifact_file(tmp_path, witnessed_v3()), "--self-attested", "--json")
    assert result.returncode == 0
    report = json.loads(result.stdout)["files"][0]
    assert report["verdict"] == "VERIFIED"
    assert report["trust_basis"] == "self-attested"
    assert report["signer"]["trusted"] is False
    assert report["signer"]["trust_basis"] == "self-attested"


def test_pinned_json_says_pinned(tmp_path: Path) -> None:
    result = run(artifact_file(tmp_path, witnessed_v3()), "--public-key", TEST_ISSUER_PUBLIC,
                 "--json")
    report = json.loads(result.stdout)["files"][0]
    assert report["trust_basis"] == "pinned" and report["signer"]["trusted"] is True


def test_summary_table_never_shows_plain_verified_for_self_attested(tmp_path: Path) -> None:
    first = artifact_file(tmp_path, witnessed_v3(), "first.json")
    second = artifact_file(tmp_path, witnessed_v3(key=OTHER_KEY), "second.json")
    result = run(first, second, "--self-attested")
    assert result.returncode == 0
    table = result.stdout.split("\n\n")[-1]
    rows = [line for line in table.splitlines() if line.startswith(str(tmp_path))]
    assert len(rows) == 2
    assert all("VERIFIED (self-attested)" in row for row in rows), table


@pytest.mark.parametrize("how", ["environment", "option", "public-key"])
def test_self_attested_beside_trusted_keys_is_refused(tmp_path: Path, how: str) -> None:
    root = trust_root_file(tmp_path, {"public_key": OTHER_PUBLIC})
    path = artifact_file(tmp_path, witnessed_v3())
    if how == "environment":
        result = run(path, "--self-attested", env={"KEEL_VERIFY_TRUST_ROOT": str(root)})
        assert "$KEEL_VERIFY_TRUST_ROOT" in result.stderr
    elif how == "option":
        result = run(path, "--self-attested", "--trust-root", root)
    else:
        result = run(path, "--self-attested", "--public-key", OTHER_PUBLIC)
    assert result.returncode == 2
    assert "--self-attested conflicts" in result.stderr
    with pytest.raises(TrustConfigError):
        TrustPolicy(issuer_keys=(trusted_issuer(),), self_attested=True)


def test_tsa_roots_only_trust_root_combines_with_self_attested(tmp_path: Path) -> None:
    path = tmp_path / "tsa-only.json"
    path.write_text(json.dumps({"trust_root_version": 1, "tsa_roots": [authority().root_pem()]}))
    result = run(artifact_file(tmp_path, witnessed_v3()), "--self-attested", "--trust-root", path)
    assert result.returncode == 0, result.stderr


def test_not_proven_agrees_with_the_signer_line(tmp_path: Path) -> None:
    tampered = witnessed_v3()
    tampered["session_metadata"]["model"] = "edited-after-signing"
    result = run(artifact_file(tmp_path, tampered), "--json")
    report = json.loads(result.stdout)["files"][0]
    assert report["signer"]["trust_source"] == "none (signature invalid)"
    assert not any("self-attested" in gap for gap in report["not_proven"])
    assert any("no signature verifies" in gap for gap in report["not_proven"])


def test_a_pinned_key_also_in_a_trust_root_is_named_by_the_trust_root(tmp_path: Path) -> None:
    root = trust_root_file(tmp_path, {"public_key": TEST_ISSUER_PUBLIC, "key_id": "issuer-2026"})
    result = run(artifact_file(tmp_path, witnessed_v3()), "--public-key", TEST_ISSUER_PUBLIC,
                 "--trust-root", root, "--json")
    assert result.returncode == 0, result.stdout
    report = json.loads(result.stdout)["files"][0]
    assert report["trust_basis"] == "trust-root"
    assert report["signer"]["label"] == "issuer-2026"
    assert "pinned key (--public-key)" in report["signer"]["trust_source"]  # both sources named


def test_junit_names_the_trust_basis(tmp_path: Path) -> None:
    result = run(artifact_file(tmp_path, witnessed_v3()), "--self-attested", "--format", "junit")
    assert result.returncode == 0, result.stderr
    assert '<property name="trust_basis" value="self-attested"' in result.stdout
    assert '<property name="indication" value="INDETERMINATE"' in result.stdout


def test_the_verification_time_decides_whether_a_window_is_still_open() -> None:
    from keel_verify import verify_bytes

    data = to_bytes(witnessed_v3())
    trust = policy(trusted_issuer(not_after=JUNE))
    inside = verify_bytes(data, trust, now=datetime(2026, 5, 30))  # naive: taken as UTC
    assert inside.check("issuer_signature").outcome is Outcome.PASS
    after = verify_bytes(data, trust, now=datetime(2026, 6, 2, tzinfo=UTC))
    assert after.check("issuer_signature").outcome is Outcome.WARN
