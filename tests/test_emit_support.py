"""Shared helpers for the keel-emit tests (no tests here): the trust the demo artifacts
verify under, and schema validation. Every key here is a public TEST key."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from keel_verify import Report, TrustPolicy, Verdict, verify_bytes
from keel_verify.checks import CORE_CHECK_NAMES
from keel_verify.emit import DEMO_TSA_SEED, demo_issuer_key, dump_artifact
from keel_verify.emit.signing import encoded_public_key
from keel_verify.emit.trust_root import trust_root_document
from keel_verify.results import Outcome
from keel_verify.trust.trust_root import load_trust_root

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "schemas"
SAMPLE = ROOT / "sample"
DEMO_PUBLIC_KEY = encoded_public_key(demo_issuer_key())


@cache
def _validator(schema_version: int) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / f"attestation-v{schema_version}.schema.json").read_text())
    return Draft202012Validator(schema)


def schema_errors(artifact: dict[str, Any]) -> list[str]:
    validator = _validator(artifact["schema_version"])
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(artifact)]


def demo_trust(tmp_path: Path) -> TrustPolicy:
    """The sample trust root (demo issuer key + demo test TSA root), loaded the way
    keel-verify --trust-root loads it."""
    path = tmp_path / "trust-root.json"
    path.write_text(json.dumps(trust_root_document(demo_issuer_key(), tsa_seed=DEMO_TSA_SEED)))
    return load_trust_root(path).apply(TrustPolicy())


def pinned_trust() -> TrustPolicy:
    return TrustPolicy.pinned(DEMO_PUBLIC_KEY)


def verify(artifact: dict[str, Any] | bytes, trust: TrustPolicy) -> Report:
    data = artifact if isinstance(artifact, bytes) else dump_artifact(artifact)
    return verify_bytes(data, trust)


def assert_verified(report: Report, *, witnessed: bool) -> None:
    """VERIFIED, no check failed, the five core checks pass (the receipt check skips,
    as it must, when the artifact declares that it has no receipt)."""
    failures = [(c.name, c.reason) for c in report.checks if c.outcome is Outcome.FAIL]
    assert not failures, failures
    assert report.verdict is Verdict.VERIFIED, report.verdict
    for name in CORE_CHECK_NAMES:
        outcome = report.check(name).outcome
        if name == "rfc3161_timestamp_receipt" and not witnessed:
            assert outcome is Outcome.SKIP, (name, outcome)
        else:
            assert outcome is Outcome.PASS, (name, outcome, report.check(name).reason)
    assert report.signer is not None and report.signer.trusted
