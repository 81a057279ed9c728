"""``issuer_signature`` (reference name): an Ed25519 signature over the artifact's
canonical bytes, judged against the trust policy (SPEC A.4, B.1).

The signer is named by what verified: the fingerprint of the key bytes and, when the
policy vouches, the policy's label; the artifact's own ``key_id`` only as a claim.
"""

from __future__ import annotations

from typing import Any

from keel_verify.checks.base import Check, failed, passed, warned
from keel_verify.context import CheckContext
from keel_verify.results import CheckResult
from keel_verify.trust.signer import SignatureAssessment, SignatureFinding

NAME = "issuer_signature"


def _describe(finding: SignatureFinding, counted: SignatureFinding | None) -> dict[str, Any]:
    return {
        "index": finding.index,
        "fingerprint": finding.fingerprint,
        "label": finding.label,
        "claimed_key_id": finding.key_id,
        "claimed_key_purpose": finding.entry.claimed_purpose,
        "public_key": finding.public_key,
        "valid": finding.valid,
        "problem": finding.problem,
        "counted": finding is counted,
        "trusted": finding.trusted_key is not None,
        "trust_basis": finding.trust_basis,
        "trust_source": finding.decision.sources or None,
        "trust_problem": finding.trust_problem,
        "trust_caveat": finding.trust_caveat,
        "trust_note": finding.trust_note,
    }


def _not_counted(assessment: SignatureAssessment, chosen: SignatureFinding) -> str:
    others = len(assessment.findings) - 1
    return f"; {others} other signature(s) not counted (see details)" if others else ""


def run(context: CheckContext) -> CheckResult:
    assessment = context.signatures
    if assessment.structure_problem:
        return failed(NAME, assessment.structure_problem, "/signatures")
    counted = assessment.primary if assessment.vouched else None
    details: dict[str, Any] = {
        "content_hash": context.chain.content_hash,
        "time_basis": assessment.time_basis,
        "trust_basis": assessment.trust_basis,
        "signatures": [_describe(f, counted) for f in assessment.findings],
    }
    if not assessment.findings:
        return failed(NAME, "the artifact carries no issuer signature", "/signatures", **details)

    if assessment.trusted:
        chosen = assessment.trusted[0]
        assert chosen.trusted_key is not None
        reason = (
            f"valid Ed25519 signature by {chosen.trust_basis} key {chosen.signer_name()} "
            f"({chosen.decision.sources}; window judged at {assessment.time_basis})"
        )
        if chosen.trust_note:
            reason += f"; note: {chosen.trust_note}"
        reason += _not_counted(assessment, chosen)
        if chosen.trust_caveat:
            return warned(NAME, f"{reason}; but {chosen.trust_caveat}", chosen.pointer, **details)
        return passed(NAME, reason, chosen.pointer, **details)

    if context.trust.has_issuer_trust_source:
        if assessment.valid:
            # A statement that forbids a valid key explains more than an unknown key.
            finding = next((f for f in assessment.valid if f.refused), assessment.valid[0])
            why = finding.trust_problem or "its key is not among the trusted keys"
            return failed(
                NAME,
                f"no valid signature from a trusted key: signature by {finding.signer_name()} "
                f"verifies, but {why}",
                finding.pointer,
                **details,
            )
        finding = assessment.findings[0]
        return failed(
            NAME, f"no valid signature from a trusted key: {finding.problem}", finding.pointer,
            **details,
        )

    if assessment.valid:
        finding = assessment.valid[0]
        if context.trust.self_attested:
            reason = (
                f"valid Ed25519 signature by the embedded key {finding.signer_name()}; "
                "self-attested (accepted with --self-attested): only internal consistency "
                "is proven, not who issued the artifact"
            )
        else:
            reason = (
                f"valid Ed25519 signature by the embedded key {finding.signer_name()}; "
                "self-attested: no trust source vouches for this key "
                "(give --public-key or --trust-root)"
            )
        return passed(NAME, reason + _not_counted(assessment, finding), finding.pointer, **details)
    finding = assessment.findings[0]
    return failed(NAME, f"no valid signature: {finding.problem}", finding.pointer, **details)


CHECK = Check(NAME, run, "Ed25519 issuer signature over the canonical bytes, under the trust policy")
