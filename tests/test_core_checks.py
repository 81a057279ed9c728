"""Each core check catches a tampering that none of the other core checks can: the
artifact is altered and re-signed with the trusted test key, so the signature is valid."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from keel_verify import Outcome, Report, TrustPolicy, Verdict, verify_bytes
from keel_verify.checks import CORE_CHECK_NAMES
from tests.helpers import (
    OTHER_KEY,
    TEST_ISSUER_KEY,
    TEST_ISSUER_PUBLIC,
    public_v1,
    public_v3,
    resign,
    to_bytes,
)

TRUST = TrustPolicy.pinned(TEST_ISSUER_PUBLIC)
Doc = dict[str, Any]


def _verify(document: Doc, *, sign: bool = True) -> Report:
    return verify_bytes(to_bytes(resign(document) if sign else document), TRUST)


def _only_core_failure(report: Report, name: str) -> None:
    assert report.verdict is Verdict.FAILED
    failing = {c.name for c in report.checks if c.outcome is Outcome.FAIL} & set(CORE_CHECK_NAMES)
    assert failing == {name}, report.checks


@pytest.mark.parametrize("make", [public_v3, public_v1], ids=["v3", "v1"])
def test_resigned_untouched_sample_verifies(make: Callable[[], Doc]) -> None:
    report = _verify(make())
    assert report.verdict is not Verdict.FAILED, [c for c in report.checks if c.outcome is Outcome.FAIL]
    assert all(report.check(n).outcome is Outcome.PASS for n in CORE_CHECK_NAMES)


def test_artifact_schema_catches_a_wrong_modality() -> None:
    document = public_v3()
    document["session_metadata"]["modality"] = "video"
    report = _verify(document)
    _only_core_failure(report, "artifact_schema")
    assert report.check("artifact_schema").pointer == "/session_metadata/modality"


def test_artifact_schema_lists_every_error_with_pointers() -> None:
    document = public_v3()
    del document["region_anchor"]
    document["chain"][1]["canonicalized_payload"] = {"leak": True}
    result = _verify(document).check("artifact_schema")
    assert result.outcome is Outcome.FAIL
    pointers = {e["pointer"] for e in result.details["errors"]}
    assert {"", "/chain/1/canonicalized_payload"} <= pointers
    assert result.details["error_count"] == 2


def test_issuer_signature_catches_an_unsigned_change() -> None:
    document = resign(public_v3())
    document["region_anchor"] = "eu-central-1"
    report = _verify(document, sign=False)
    _only_core_failure(report, "issuer_signature")
    assert "does not name the signed content" in report.check("issuer_signature").reason


def test_issuer_signature_catches_a_forged_signature_with_matching_content_hash() -> None:
    document = resign(public_v3())
    document["region_anchor"] = "eu-central-1"
    fresh = resign(document)  # right content_hash, but the signature bytes of the old one
    fresh["signatures"][0]["signature"] = document["signatures"][0]["signature"]
    report = _verify(fresh, sign=False)
    _only_core_failure(report, "issuer_signature")
    assert "does not verify" in report.check("issuer_signature").reason


def test_untrusted_key_fails_when_a_trust_source_is_given() -> None:
    report = verify_bytes(to_bytes(resign(public_v3(), OTHER_KEY)), TRUST)
    _only_core_failure(report, "issuer_signature")
    assert "not among the trusted keys" in report.check("issuer_signature").reason


def test_a_trusted_signature_beside_an_invalid_one_still_verifies_and_lists_it() -> None:
    document = resign(public_v3())
    bogus = copy.deepcopy(document["signatures"][0])
    bogus["signature"] = "ed25519:" + "A" * 86 + "=="
    document["signatures"].insert(0, bogus)
    result = _verify(document, sign=False).check("issuer_signature")
    assert result.outcome is Outcome.PASS
    assert [s["valid"] for s in result.details["signatures"]] == [False, True]


def test_no_signatures_fails() -> None:
    document = public_v3()
    document["signatures"] = []
    assert _verify(document, sign=False).check("issuer_signature").outcome is Outcome.FAIL


def test_chain_integrity_catches_an_edited_entry() -> None:
    document = public_v3()
    document["chain"][0]["decision"] = "denied"
    report = _verify(document)
    _only_core_failure(report, "chain_integrity")
    assert report.check("chain_integrity").pointer == "/chain/0/content_hash"


def test_chain_integrity_catches_a_dropped_entry() -> None:
    document = public_v1()
    del document["chain"][0]
    document["chain_head"]["event_count"] = 1
    report = _verify(document)
    assert report.check("chain_integrity").pointer == "/chain/0/previous_content_hash"


def test_chain_integrity_reads_counts_strictly() -> None:
    document = public_v3()
    document["chain_head"]["event_count"] = "2"  # the reference accepts this (docs/format.md §10)
    result = _verify(document).check("chain_integrity")
    assert result.outcome is Outcome.FAIL
    assert result.pointer == "/chain_head/event_count"


def test_chain_integrity_catches_a_wrong_head() -> None:
    document = public_v3()
    document["chain_head"]["content_hash"] = document["chain"][0]["content_hash"]
    report = _verify(document)
    _only_core_failure(report, "chain_integrity")


def test_policy_snapshot_hash_catches_an_edited_policy() -> None:
    document = public_v3()
    document["policy_snapshot"]["policies"][0]["policy_json"]["require_ai_disclosure"] = False
    report = _verify(document)
    _only_core_failure(report, "policy_snapshot_hash")
    assert report.check("policy_snapshot_hash").pointer == "/session_metadata/policy_snapshot_hash"


def test_rfc3161_receipt_catches_a_receipt_for_another_head() -> None:
    document = public_v3()
    for receipt in (document["timestamp_receipts"][0], document["rfc3161_timestamp_receipt"]):
        receipt["request_hash"] = "sha256:" + "ab" * 32
        receipt["covers_chain_head_hash"] = "sha256:" + "ab" * 32
    report = _verify(document)
    _only_core_failure(report, "rfc3161_timestamp_receipt")


def test_rfc3161_receipt_catches_a_token_for_another_imprint() -> None:
    document = public_v3()
    head = "sha256:" + "cd" * 32
    document["project_chain_head"]["content_hash"] = head
    for receipt in (document["timestamp_receipts"][0], document["rfc3161_timestamp_receipt"]):
        receipt["request_hash"] = receipt["covers_chain_head_hash"] = head
    result = _verify(document).check("rfc3161_timestamp_receipt")
    assert result.outcome is Outcome.FAIL
    assert "message imprint" in result.reason


def test_rfc3161_receipt_rejects_garbage_tokens() -> None:
    document = public_v3()
    document["timestamp_receipts"][0]["tsa_response_base64"] = "bm90IGEgdG9rZW4="
    result = _verify(document).check("rfc3161_timestamp_receipt")
    assert result.outcome is Outcome.FAIL
    assert result.pointer == "/timestamp_receipts/0/tsa_response_base64"


def test_missing_receipts_without_declaration_fail_and_with_it_skip() -> None:
    document = public_v3()
    document["timestamp_receipts"] = []
    document["rfc3161_timestamp_receipt"] = None
    assert _verify(document).check("rfc3161_timestamp_receipt").outcome is Outcome.FAIL
    document["tsa_status"] = "degraded_no_receipt"
    result = _verify(document).check("rfc3161_timestamp_receipt")
    assert result.outcome is Outcome.SKIP  # never shown or counted as a pass


def test_malformed_shapes_fail_the_check_with_a_pointer_not_a_crash() -> None:
    document = public_v3()
    document["chain"] = {"not": "a list"}
    document["policy_snapshot"] = None
    report = _verify(document)
    assert report.check("chain_integrity").pointer == "/chain"
    assert report.check("policy_snapshot_hash").pointer == "/policy_snapshot"
    assert all(c.reason for c in report.checks)


def test_key_id_alone_never_grants_trust() -> None:
    document = resign(public_v3(), OTHER_KEY, key_id="sha256:" + "0" * 32)
    trusted_label = resign(public_v3(), TEST_ISSUER_KEY)["signatures"][0]["key_id"]
    document = resign(public_v3(), OTHER_KEY, key_id=trusted_label)
    report = verify_bytes(to_bytes(document), TRUST)
    assert report.verdict is Verdict.FAILED
