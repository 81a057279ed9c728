"""The public trust API: ``load_trust_policy`` builds a TrustPolicy from trust files the
way the command line does, with the same rules (strictest statement wins, conflicts and
bad keys refused)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import keel_verify
from keel_verify import TrustConfigError, Verdict, load_trust_policy, verify_bytes
from tests.helpers import OTHER_PUBLIC, TEST_ISSUER_PUBLIC, to_bytes
from tests.tsa_support import authority, witnessed_v3


def write(tmp_path: Path, name: str, document: object) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_it_is_exported_at_the_top_level() -> None:
    assert "load_trust_policy" in keel_verify.__all__
    assert "TrustConfigError" in keel_verify.__all__


def test_a_policy_from_a_trust_root_and_tsa_roots_verifies(tmp_path: Path) -> None:
    root = write(tmp_path, "root.json", {"trust_root_version": 1, "issuer_keys": [
        {"public_key": TEST_ISSUER_PUBLIC, "key_id": "issuer-2026"}]})
    pem = tmp_path / "tsa.pem"
    pem.write_text(authority().root_pem(), encoding="ascii")
    policy = load_trust_policy(trust_roots=[root], tsa_roots=[pem])
    assert [key.label for key in policy.issuer_keys] == ["issuer-2026"]
    assert len(policy.tsa_roots) == 1
    report = verify_bytes(to_bytes(witnessed_v3()), policy)
    assert report.verdict is Verdict.VERIFIED
    assert report.signer is not None and report.signer.label == "issuer-2026"
    assert report.check("timestamp_witness").outcome.value == "pass"


def test_statements_from_several_files_all_apply(tmp_path: Path) -> None:
    active = write(tmp_path, "a.json", {"trust_root_version": 1, "issuer_keys": [
        {"public_key": TEST_ISSUER_PUBLIC}]})
    revoking = write(tmp_path, "b.json", {"trust_root_version": 1, "issuer_keys": [
        {"public_key": TEST_ISSUER_PUBLIC, "status": "revoked"}]})
    for order in ([active, revoking], [revoking, active]):
        policy = load_trust_policy(trust_roots=order, public_keys=[TEST_ISSUER_PUBLIC])
        assert verify_bytes(to_bytes(witnessed_v3()), policy).verdict is Verdict.FAILED


def test_the_shipped_keel_production_source_is_named_explicitly() -> None:
    policy = load_trust_policy(trust=["keel-production"])
    assert policy.issuer_keys and policy.tsa_roots
    assert load_trust_policy().issuer_keys == ()  # nothing is trusted unless named


@pytest.mark.parametrize("call", [
    lambda tmp: load_trust_policy(public_keys=["ed25519:" + "A" * 43 + "="]),  # identity-like
    lambda tmp: load_trust_policy(trust_roots=[tmp / "missing.json"]),
    lambda tmp: load_trust_policy(public_keys=[OTHER_PUBLIC], self_attested=True),
    lambda tmp: load_trust_policy(trust=["nobody"]),
], ids=["small-order-key", "missing-file", "self-attested-conflict", "unknown-name"])
def test_bad_trust_input_raises_one_line(call: object, tmp_path: Path) -> None:
    with pytest.raises(TrustConfigError) as caught:
        call(tmp_path)  # type: ignore[operator]
    assert "\n" not in str(caught.value)
