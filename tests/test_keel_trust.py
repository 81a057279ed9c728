"""Keel's own trust files: the public key manifest (``keel.public_key_manifest.v1``,
signature verified before any key is used), the TSA trust bundle, and the shipped
``--trust keel-production`` source, which applies only when named."""

from __future__ import annotations

import base64
import copy
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keel_verify import Outcome, Verdict
from keel_verify.crypto.canonical import canonical_bytes, tagged_sha256
from keel_verify.crypto.crl import issued_by
from keel_verify.emit.signing import ed25519_key_from_seed, encoded_public_key
from keel_verify.errors import TrustConfigError
from keel_verify.trust.named import KEEL_PRODUCTION, named_source_files
from keel_verify.trust.policy import TrustPolicy
from keel_verify.trust.sources import TrustSpec, build_policy
from keel_verify.trust.trust_root import load_trust_root
from keel_verify.trust.tsa_revocation import RevocationState, judge_revocation
from tests.helpers import PUBLIC_V1, PUBLIC_V3, TEST_ISSUER_KEY, public_v3, resign
from tests.tsa_support import verify

SHIPPED = Path(__file__).resolve().parent.parent / "keel_verify" / "trust" / "data" / KEEL_PRODUCTION
MANIFEST = SHIPPED / "public_key_manifest.json"
KEEL_EXPORT_KEY = "ed25519:3Q1q4PSVcceZe76dsjxcqTHOpvpP/KN/zhSH4QdtE7o="
MANIFEST_SIGNER: Ed25519PrivateKey = ed25519_key_from_seed(b"keel-verify TEST manifest signer")


def _signed_manifest(keys: list[dict[str, Any]], signer_key_id: str = "test-export",
                     signer: Ed25519PrivateKey = MANIFEST_SIGNER) -> dict[str, Any]:
    """A manifest in Keel's format, signed the way Keel signs it, by a TEST key."""
    document: dict[str, Any] = {
        "manifest_version": "keel.public_key_manifest.v1",
        "schema_version": 1,
        "canonicalization_profile": "keel.canonical_json.payload.v1",
        "generated_at": "2026-05-08T00:05:07Z",
        "keys": keys,
        "sources": {},
    }
    content_hash = tagged_sha256(canonical_bytes(
        {m: document[m] for m in ("manifest_version", "canonicalization_profile", "keys")}
    ))
    signature = base64.b64encode(signer.sign(content_hash.encode("utf-8"))).decode("ascii")
    document["manifest_signature"] = {
        "content_hash": content_hash, "key_id": signer_key_id, "purpose": "export_signing",
        "signature": "ed25519:" + signature, "signature_type": "ed25519.content_hash.v1",
    }
    return document


def _key(public_key: str, purpose: str = "export_signing", key_id: str = "test-export",
         status: str = "active", **window: Any) -> dict[str, Any]:
    entry = {"algorithm": "ed25519", "key_id": key_id, "public_key": public_key, "purpose": purpose,
             "status": status, "valid_from": "2026-01-01T00:00:00+00:00", "valid_to": None}
    entry.update(window)
    return entry


SIGNER_ENTRY = _key(encoded_public_key(MANIFEST_SIGNER))


def _flipped(signature: str) -> str:
    """The same-length signature with one base64 character changed."""
    return signature[:20] + ("B" if signature[20] == "A" else "A") + signature[21:]


def _write(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(document))
    return path


def test_shipped_manifest_signature_verifies_and_its_keys_keep_purpose_and_window() -> None:
    loaded = load_trust_root(MANIFEST)
    assert [(k.encoded, k.purpose, k.status) for k in loaded.issuer_keys] == [
        (KEEL_EXPORT_KEY, "export_signing", "active"),
        (KEEL_EXPORT_KEY, "integrity_checkpoint", "active"),
        (KEEL_EXPORT_KEY, "scope_state", "active"),
        ("ed25519:OV8hlgXauPxS9m1M/qkoJRnSGr5uYgeoIrGujr4m0PI=", "permit_binding_signing", "active"),
    ]
    first = loaded.issuer_keys[0]
    assert first.not_before is not None and first.not_before.isoformat() == "2026-04-27T02:03:12.371544+00:00"
    assert first.not_after is None and first.label == "sha256:341fe2190d167abc491db6d041da0677"
    assert any("manifest_signature verified" in note for note in loaded.notes)


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda d: d["keys"][3].update(purpose="export_signing"),
         "does not name the manifest's signed members"),
        (lambda d: d["keys"].append(dict(d["keys"][0], public_key=encoded_public_key(TEST_ISSUER_KEY))),
         "does not name the manifest's signed members"),
        (lambda d: d["manifest_signature"].update(key_id="157c11203f46bfdc"), "no export_signing key"),
        (lambda d: d["manifest_signature"].update(signature=_flipped(d["manifest_signature"]["signature"])),
         "does not verify"),
        (lambda d: d["manifest_signature"].update(signature_type="other"), "signature_type"),
        (lambda d: d.pop("manifest_signature"), "missing member \"manifest_signature\""),
        (lambda d: d.update(manifest_version="keel.public_key_manifest.v9"), "unsupported"),
        (lambda d: d["keys"][3].update(public_key="ed25519:" + "A" * 43 + "="), "small order"),
    ],
)
def test_a_manifest_that_does_not_verify_is_refused(tmp_path: Path, edit: Any, words: str) -> None:
    document = json.loads(MANIFEST.read_text("utf-8"))
    edit(document)
    with pytest.raises(TrustConfigError, match=words) as raised:
        load_trust_root(_write(tmp_path, document))
    assert "\n" not in str(raised.value) and "manifest" in str(raised.value)


def test_signing_key_must_be_valid_at_generated_at(tmp_path: Path) -> None:
    late = dict(SIGNER_ENTRY, valid_from="2026-06-01T00:00:00Z")
    with pytest.raises(TrustConfigError, match="not valid at generated_at"):
        load_trust_root(_write(tmp_path, _signed_manifest([late])))
    revoked = dict(SIGNER_ENTRY, status="revoked")
    with pytest.raises(TrustConfigError, match="revoked"):
        load_trust_root(_write(tmp_path, _signed_manifest([revoked])))


def test_legacy_member_names_are_read(tmp_path: Path) -> None:
    raw = encoded_public_key(TEST_ISSUER_KEY).removeprefix("ed25519:")
    legacy = {"algorithm": "ed25519", "key_id": "legacy", "public_key_b64": raw,
              "purpose": "export_signing", "status": "retired",
              "active_from": "2026-01-01T00:00:00Z", "active_to": "2026-06-01T00:00:00Z"}
    loaded = load_trust_root(_write(tmp_path, _signed_manifest([SIGNER_ENTRY, legacy])))
    key = loaded.issuer_keys[1]
    assert key.encoded == encoded_public_key(TEST_ISSUER_KEY) and key.status == "retired"
    assert key.not_after is not None and key.not_after.isoformat() == "2026-06-01T00:00:00+00:00"


def test_retired_key_with_open_window_vouches_no_later_than_generated_at(tmp_path: Path) -> None:
    retired = _key(encoded_public_key(TEST_ISSUER_KEY), key_id="old", status="retired")
    loaded = load_trust_root(_write(tmp_path, _signed_manifest([SIGNER_ENTRY, retired])))
    assert loaded.issuer_keys[1].not_after is not None
    assert loaded.issuer_keys[1].not_after.isoformat() == "2026-05-08T00:05:07+00:00"


def _policy_from(tmp_path: Path, keys: list[dict[str, Any]]) -> TrustPolicy:
    return load_trust_root(_write(tmp_path, _signed_manifest([SIGNER_ENTRY, *keys]))).apply(TrustPolicy())


def test_manifest_key_for_export_signing_vouches_for_an_attestation(tmp_path: Path) -> None:
    trust = _policy_from(tmp_path, [_key(encoded_public_key(TEST_ISSUER_KEY), key_id="issuer")])
    report = verify(resign(public_v3()), trust)
    assert report.check("issuer_signature").outcome is Outcome.PASS
    assert report.verdict is not Verdict.UNTRUSTED


@pytest.mark.parametrize("status", ["revoked"])
def test_manifest_key_revoked_does_not_vouch(tmp_path: Path, status: str) -> None:
    entry = _key(encoded_public_key(TEST_ISSUER_KEY), key_id="issuer", status=status,
                 valid_to="2026-03-01T00:00:00Z")
    report = verify(resign(public_v3()), _policy_from(tmp_path, [entry]))
    assert report.check("issuer_signature").outcome is Outcome.FAIL


def test_manifest_key_for_another_purpose_does_not_vouch(tmp_path: Path) -> None:
    entry = _key(encoded_public_key(TEST_ISSUER_KEY), purpose="permit_binding_signing", key_id="permits")
    report = verify(resign(public_v3()), _policy_from(tmp_path, [entry]))
    assert report.check("issuer_signature").outcome is Outcome.FAIL
    assert report.verdict is Verdict.FAILED


def test_shipped_bundle_loads_offline_with_every_file_checked() -> None:
    _, bundle = named_source_files(KEEL_PRODUCTION)
    loaded = load_trust_root(bundle)
    assert [c.subject.rfc4514_string() for c in loaded.tsa_roots] == [
        "CN=DigiCert Assured ID Root CA,OU=www.digicert.com,O=DigiCert Inc,C=US",
        "CN=GlobalSign,O=GlobalSign,OU=GlobalSign Root CA - R6",
    ]
    assert len(loaded.tsa_certs) == 4 and len(loaded.tsa_revocation[0].crls) == 6
    deadline = loaded.tsa_revocation[0].deadline
    assert deadline is not None and deadline.isoformat() == "2026-11-05T23:47:20+00:00"


def test_keel_production_is_never_applied_unless_named() -> None:
    plain = build_policy(TrustSpec((), False, None, (), False))
    assert plain.issuer_keys == () and plain.tsa_roots == () and plain.tsa_revocation == ()
    named = build_policy(TrustSpec((), False, None, (), False, trust_names=(KEEL_PRODUCTION,)))
    assert {k.encoded for k in named.issuer_keys} >= {KEEL_EXPORT_KEY}
    assert len(named.tsa_roots) == 2 and len(named.tsa_certs) == 4
    assert any("manifest_signature verified" in note for note in named.notes)


def _cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keel_verify", *map(str, args)],
        capture_output=True, text=True, timeout=120, check=False,
    )


@pytest.mark.parametrize("sample", [PUBLIC_V1, PUBLIC_V3])
def test_keel_production_on_the_public_samples_fails_their_sample_keys(sample: Path) -> None:
    # The public samples are signed by sample keys that Keel's production manifest does
    # not list, and their tokens carry no SignerInfo: so with Keel's production trust the
    # issuer signature fails (a trust source was given and none of its keys signed).
    result = _cli("--trust", KEEL_PRODUCTION, "--json", sample)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    checks = {c["name"]: c for c in report["files"][0]["checks"]}
    assert checks["issuer_signature"]["outcome"] == "fail"
    assert "not among the trusted keys" in checks["issuer_signature"]["reason"]
    assert checks["timestamp_witness"]["outcome"] == "warn"  # unsigned token: unwitnessed
    assert report["trust"]["named_trust_sources"] == [KEEL_PRODUCTION]


def test_unknown_trust_source_is_a_usage_error() -> None:
    result = _cli("--trust", "keel-staging", PUBLIC_V3)
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_manifest_via_trust_root_option(tmp_path: Path) -> None:
    path = _write(tmp_path, _signed_manifest([SIGNER_ENTRY]))
    result = _cli("--trust-root", path, PUBLIC_V3)
    assert result.returncode == 1  # a trust source, whose keys did not sign the sample
    broken = copy.deepcopy(_signed_manifest([SIGNER_ENTRY]))
    broken["keys"][0]["status"] = "revoked"
    result = _cli("--trust-root", _write(tmp_path, broken), PUBLIC_V3)
    assert result.returncode == 2 and result.stderr.count("\n") == 1


def test_every_shipped_crl_is_signed_by_a_certificate_the_bundle_ships() -> None:
    loaded = load_trust_root(named_source_files(KEEL_PRODUCTION)[1])
    certificates = loaded.tsa_roots + loaded.tsa_certs
    for crl in loaded.tsa_revocation[0].crls:
        assert any(issued_by(crl, c) for c in certificates), crl.issuer.rfc4514_string()


def test_shipped_globalsign_chain_is_validated_before_the_deadline_and_stale_after() -> None:
    loaded = load_trust_root(named_source_files(KEEL_PRODUCTION)[1])
    by_name = {c.subject.rfc4514_string(): c for c in loaded.tsa_roots + loaded.tsa_certs}
    chain = (
        by_name["CN=GlobalSign Offline R45 Timestamping CA 2025,O=GlobalSign nv-sa,C=BE"],
        by_name["CN=GlobalSign Timestamping Root R45,O=GlobalSign nv-sa,C=BE"],
        by_name["CN=GlobalSign,O=GlobalSign,OU=GlobalSign Root CA - R6"],
    )
    snapshot = loaded.tsa_revocation[0]
    gen_time = datetime(2026, 10, 20, tzinfo=UTC)
    before = judge_revocation(chain, gen_time, snapshot, datetime(2026, 11, 1, tzinfo=UTC))
    assert before.state is RevocationState.VALIDATED, before.reason
    today = judge_revocation(chain, gen_time, snapshot, datetime(2026, 11, 30, tzinfo=UTC))
    assert today.state is RevocationState.NOT_VALIDATED
    assert today.code == "not_validated_revocation_snapshot_stale"
