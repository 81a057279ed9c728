"""The public Keel samples: reproduce the reference verifier's results exactly
(the conformance data README), then report what it misses."""

from __future__ import annotations

from pathlib import Path

import pytest

from keel_verify import Outcome, TrustPolicy, Verdict, verify_bytes, verify_path
from keel_verify.checks import CORE_CHECK_NAMES
from tests.helpers import (
    OTHER_KEY,
    PUBLIC_V1,
    PUBLIC_V3,
    PUBLIC_V3_KEY,
    public_v3,
    resign,
    to_bytes,
)

REFERENCE = {
    PUBLIC_V3: {
        "chain_head": "sha256:4d9f41659847e2724c724f4a1a6f92397a79613aeac219c32c6e710881d12c0a",
        "content_hash": "sha256:85aaa50c1b61131fa097bb1ca6739ce0f4cafc85a606dd2a784793c90d954c5d",
        "session": "sess_voice_sample_phase_a",
    },
    PUBLIC_V1: {
        "chain_head": "sha256:e543c281aacc28a814c6ed654f1dc2cbff06df975c8045252c3d4cbaa7146999",
        "content_hash": "sha256:cb1a39bd2aedc5603216283f069cc7b01276c6d58d702ce5d7c883a32e3b9dff",
        "session": "sess_voice_sample_phase_a",
    },
}


@pytest.mark.parametrize("path", [PUBLIC_V3, PUBLIC_V1], ids=["v3", "v1"])
def test_reference_results_reproduced(path: Path) -> None:
    report = verify_path(path)
    assert report.checks[: len(CORE_CHECK_NAMES)] == tuple(
        report.check(name) for name in CORE_CHECK_NAMES
    ), "the five core checks come first, in the reference's order"
    for name in CORE_CHECK_NAMES:
        assert report.check(name).outcome is Outcome.PASS, report.check(name)
    expected = REFERENCE[path]
    assert report.chain_head == expected["chain_head"]
    assert report.signature_content_hash == expected["content_hash"]
    assert report.session_id == expected["session"]


@pytest.mark.parametrize("path", [PUBLIC_V3, PUBLIC_V1], ids=["v3", "v1"])
def test_without_trust_the_signer_is_self_attested(path: Path) -> None:
    report = verify_path(path)
    assert report.verdict is Verdict.UNTRUSTED and report.exit_code == 3
    assert report.signer is not None and not report.signer.trusted
    assert "self-attested" in report.signer.trust_source
    assert "self-attested" in report.check("issuer_signature").reason
    assert any("self-attested" in gap for gap in report.not_proven)


def test_self_attested_flag_verifies_but_says_so() -> None:
    report = verify_path(PUBLIC_V3, TrustPolicy.self_attested_only())
    assert report.verdict is Verdict.VERIFIED
    assert "only internal consistency" in report.check("issuer_signature").reason
    assert any("origin" in gap for gap in report.not_proven)


def test_pinning_the_samples_own_key_verifies() -> None:
    report = verify_path(PUBLIC_V3, TrustPolicy.pinned(PUBLIC_V3_KEY))
    assert report.verdict is Verdict.VERIFIED
    assert report.signer is not None and report.signer.trusted
    assert report.signer.trust_source == "pinned key (--public-key)"


def test_altered_and_resigned_with_another_key_fails_under_the_pinned_key() -> None:
    document = public_v3()
    document["session_metadata"]["region_code"] = "eu-central-1"
    forged = to_bytes(resign(document, OTHER_KEY))
    assert verify_bytes(forged, TrustPolicy.pinned(PUBLIC_V3_KEY)).verdict is Verdict.FAILED
    # The reference verifier would accept it: the embedded key signed it consistently.
    assert verify_bytes(forged).verdict is Verdict.UNTRUSTED


def test_v1_key_id_is_the_fingerprint_but_v3_is_not() -> None:
    v1 = verify_path(PUBLIC_V1)
    v3 = verify_path(PUBLIC_V3)
    assert v1.signer is not None
    assert v1.signer.claimed_key_id == "sha256:e56ba47c4f76eeeef2ffcb6c13f16112"
    assert v1.signer.fingerprint is not None
    assert v1.signer.fingerprint.startswith(v1.signer.claimed_key_id)
    assert v3.signer is not None
    assert v3.signer.claimed_key_id == "sha256:61db86e2e34f458c6272016dbc954f11"
    assert v3.signer.fingerprint is not None
    assert not v3.signer.fingerprint.startswith(v3.signer.claimed_key_id)
