"""``issuer_signature`` (reference name): an Ed25519 signature over the artifact's
canonical bytes, judged against the trust policy (SPEC A.4, B.1)."""

from __future__ import annotations

from typing import Any

from keel_verify.checks.base import Check, failed, passed
from keel_verify.context import CheckContext
from keel_verify.crypto import signatures as sig
from keel_verify.crypto.signatures import SignatureFinding
from keel_verify.results import CheckResult, Outcome

NAME = "issuer_signature"


def _describe(finding: SignatureFinding) -> dict[str, Any]:
    return {
        "index": finding.index,
        "key_id": finding.key_id,
        "public_key": finding.public_key,
        "valid": finding.valid,
        "problem": finding.problem,
        "trusted": finding.trusted_key is not None,
        "trust_source": finding.trusted_key.source if finding.trusted_key else None,
        "trust_problem": finding.trust_problem,
        "trust_note": finding.trust_note,
    }


def _key_name(finding: SignatureFinding) -> str:
    name = finding.key_id or finding.public_key or f"#{finding.index}"
    # key_id is the artifact's own text: never let it put a line break or a screenful into
    # a report line (it could imitate another check's result).
    return name if len(name) <= 100 and name.isprintable() else f"{name!r:.100}"


def run(context: CheckContext) -> CheckResult:
    assessment = context.signatures
    if assessment.structure_problem:
        return failed(NAME, assessment.structure_problem, "/signatures", code="signatures_malformed")
    details: dict[str, Any] = {
        "content_hash": context.chain.content_hash,
        "time_basis": assessment.time_basis,
        "signatures": [_describe(f) for f in assessment.findings],
    }
    if not assessment.findings:
        return failed(NAME, "the artifact carries no issuer signature", "/signatures",
                      code="no_signature", **details)

    if assessment.trusted:
        chosen = assessment.trusted[0]
        assert chosen.trusted_key is not None
        reason = (
            f"valid Ed25519 signature by trusted key {_key_name(chosen)} "
            f"({chosen.trusted_key.source}; window judged at {assessment.time_basis})"
        )
        if chosen.trust_note:
            reason += f"; note: {chosen.trust_note}"
        ignored = len(assessment.findings) - 1
        if ignored:
            reason += f"; {ignored} other signature(s) not counted (see details)"
        return passed(NAME, reason, chosen.pointer, code="trusted_key", **details)

    if context.trust.has_issuer_trust_source:
        if assessment.valid:
            finding = assessment.valid[0]
            why = finding.trust_problem or "its key is not among the trusted keys"
            return failed(
                NAME,
                f"no valid signature from a trusted key: signature by {_key_name(finding)} "
                f"verifies, but {why}",
                finding.pointer,
                code=finding.trust_problem_kind or "key_not_trusted",
                **details,
            )
        finding = assessment.findings[0]
        return failed(
            NAME, f"no valid signature from a trusted key: {finding.problem}", finding.pointer,
            code="signature_invalid", **details,
        )

    if assessment.valid:
        finding = assessment.valid[0]
        code = "self_attested"
        if context.trust.self_attested:
            code = "self_attested_accepted"
            reason = (
                f"valid Ed25519 signature by the embedded key {_key_name(finding)}; "
                "self-attested (accepted with --self-attested): only internal consistency "
                "is proven, not who issued the artifact"
            )
        else:
            reason = (
                f"valid Ed25519 signature by the embedded key {_key_name(finding)}; "
                "self-attested: no trust source vouches for this key "
                "(give --public-key or --trust-root)"
            )
        return passed(NAME, reason, finding.pointer, code=code, **details)
    finding = assessment.findings[0]
    return failed(NAME, f"no valid signature: {finding.problem}", finding.pointer,
                  code="signature_invalid", **details)


CHECK = Check(
    NAME, run, "Ed25519 issuer signature over the canonical bytes, under the trust policy",
    codes={
        "trusted_key": (Outcome.PASS, "a valid signature by a key the trust policy vouches for"),
        "self_attested": (Outcome.PASS, "a valid signature by the embedded key; no trust source "
                                        "vouches for it (verdict UNTRUSTED)"),
        "self_attested_accepted": (Outcome.PASS, "a valid signature by the embedded key, "
                                                 "accepted by --self-attested (origin unproven)"),
        "signatures_malformed": (Outcome.FAIL, "\"signatures\" is missing or not an array"),
        "no_signature": (Outcome.FAIL, "the artifact carries no issuer signature"),
        "signature_invalid": (Outcome.FAIL, "no signature verifies over the canonical bytes"),
        "key_not_trusted": (Outcome.FAIL, "a signature verifies, but its key is not a trusted key"),
        sig.KEY_REVOKED: (Outcome.FAIL, "the trusted key was revoked at or before the signing time"),
        sig.KEY_EXPIRED: (Outcome.FAIL, "the signing time is after the trusted key's not_after"),
        sig.KEY_NOT_YET_VALID: (Outcome.FAIL, "the signing time is before the trusted key's not_before"),
        sig.KEY_PURPOSE_MISMATCH: (Outcome.FAIL, "key_purpose does not fit the trusted key's purpose"),
        sig.KEY_NO_SIGNING_TIME: (Outcome.FAIL, "the trusted key has a validity window but no "
                                                "usable signing time exists to judge it"),
    },
)
