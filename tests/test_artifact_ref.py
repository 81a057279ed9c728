"""``artifact_ref``: validated when present (invalid fails, with the reason), its URN and
type shown, its absence reported as a legacy bundle without URN identity."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from keel_verify import Outcome, TrustPolicy, Verdict
from keel_verify.verifier import verify_bytes
from tests.helpers import TEST_ISSUER_PUBLIC, public_v3, resign, to_bytes
from tests.test_cli import run

TRUST = TrustPolicy.pinned(TEST_ISSUER_PUBLIC)
GOOD: dict[str, Any] = {
    "schema_version": "artifact_ref.v1",
    "type": "voice_session_attestation",
    "id": "vsa_01hzx3k9",
    "urn": "urn:x-keel:artifact:voice_session_attestation:vsa_01hzx3k9",
    "region": "us-east-1",
    "path": "/v1/voice/sessions/vsa_01hzx3k9/attestation",
    "canonical_url": "https://api.keelapi.com/v1/voice/sessions/vsa_01hzx3k9/attestation",
    "digest": "sha256:" + "ab" * 32,
}


def with_ref(ref: Any) -> bytes:
    document = public_v3()
    document["artifact_ref"] = ref  # top level: inside the signed bytes
    return to_bytes(resign(document))


def test_a_valid_ref_passes_and_shows_urn_and_type() -> None:
    report = verify_bytes(with_ref(GOOD), TRUST)
    result = report.check("artifact_ref")
    assert result.outcome is Outcome.PASS and result.code == "artifact_ref.ok"
    assert GOOD["urn"] in result.reason and "voice_session_attestation" in result.reason
    assert result.details["urn"] == GOOD["urn"] and result.details["type"] == GOOD["type"]
    assert report.verdict is Verdict.VERIFIED


def test_absence_is_reported_as_a_legacy_bundle() -> None:
    report = verify_bytes(to_bytes(resign(public_v3())), TRUST)
    result = report.check("artifact_ref")
    assert result.outcome is Outcome.PASS and result.code == "artifact_ref.absent"
    assert "legacy bundle without URN identity" in result.reason
    assert report.verdict is Verdict.VERIFIED  # optional in the format


INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("schema_version", {"schema_version": "artifact_ref.v2"}, "not 'artifact_ref.v1'"),
    ("type", {"type": "video"}, "is not one of"),
    ("id", {"id": "VSA_1", "urn": "urn:x-keel:artifact:voice_session_attestation:VSA_1"},
     "without upper-case"),
    ("id", {"id": "", "urn": "urn:x-keel:artifact:voice_session_attestation:"}, "non-empty"),
    ("urn", {"urn": "urn:x-keel:artifact:voice_session_attestation:other"}, "is not"),
    ("urn", {"id": "a:b", "urn": "urn:x-keel:artifact:voice_session_attestation:a:b"},
     "five colon-separated"),
    ("region", {"region": 7}, "not a string"),
    ("path", {"path": "v1/voice"}, "does not start with '/'"),
    ("canonical_url", {"canonical_url": "ftp://api.keelapi.com/x"}, "absolute http or https"),
    ("canonical_url", {"canonical_url": "/relative/only"}, "absolute http or https"),
    ("digest", {"digest": "sha256:" + "AB" * 32}, "lower-case hex"),
    ("digest", {"digest": "sha256:" + "ab" * 32 + "\n"}, "lower-case hex"),
]


@pytest.mark.parametrize(("member", "change", "words"), INVALID,
                         ids=[f"{m}-{i}" for i, (m, _, _) in enumerate(INVALID)])
def test_an_invalid_ref_fails_with_the_reason(member: str, change: dict[str, Any], words: str
                                              ) -> None:
    report = verify_bytes(with_ref({**GOOD, **change}), TRUST)
    result = report.check("artifact_ref")
    assert result.outcome is Outcome.FAIL, result.reason
    assert result.pointer == f"/artifact_ref/{member}"
    assert words in result.reason
    assert report.verdict is Verdict.FAILED


@pytest.mark.parametrize("member", sorted(GOOD))
def test_a_missing_member_fails(member: str) -> None:
    ref = {k: v for k, v in GOOD.items() if k != member}
    result = verify_bytes(with_ref(ref), TRUST).check("artifact_ref")
    assert result.outcome is Outcome.FAIL
    assert f"{member} is missing" in result.reason


@pytest.mark.parametrize("value", [None, "urn:x-keel:artifact:x:y", [GOOD]])
def test_a_ref_that_is_not_an_object_fails(value: Any) -> None:
    result = verify_bytes(with_ref(value), TRUST).check("artifact_ref")
    assert result.outcome is Outcome.FAIL and result.pointer == "/artifact_ref"


def test_a_ref_naming_another_artifact_type_warns() -> None:
    ref = {**GOOD, "type": "compliance_export",
           "urn": "urn:x-keel:artifact:compliance_export:vsa_01hzx3k9"}
    result = verify_bytes(with_ref(ref), TRUST).check("artifact_ref")
    assert result.outcome is Outcome.WARN
    assert "names a compliance_export" in result.reason


def test_the_terminal_shows_the_urn(tmp_path: Path) -> None:
    path = tmp_path / "ref.json"
    path.write_bytes(with_ref(GOOD))
    result = run(path, "--public-key", TEST_ISSUER_PUBLIC)
    assert result.returncode == 0, result.stdout
    assert "[PASS] artifact_ref" in result.stdout and GOOD["urn"] in result.stdout
