"""``issuer_signature`` (reference name): an Ed25519 signature over the artifact's
canonical bytes, judged against the trust policy (SPEC A.4, B.1)."""

from __future__ import annotations

from typing import Any

from keel_verify.checks.base import Check, counted, failed, passed
from keel_verify.context import CheckContext
from keel_verify.crypto.signatures import SignatureFinding
from keel_verify.results import CheckResult

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
        return failed(NAME, assessment.structure_problem, "/signatures")
    details: dict[str, Any] = {
        "content_hash": context.chain.content_hash,
        "time_basis": assessment.time_basis,
        "signatures": [_describe(f) for f in assessment.findings],
    }
    if not assessment.findings:
        return failed(NAME, "the artifact carries no issuer signature", "/signatures", **details)

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
            reason += f"; {counted(ignored, 'other signature')} not counted (see details)"
        return passed(NAME, reason, chosen.pointer, **details)

    if context.trust.has_issuer_trust_source:
        if assessment.valid:
            finding = assessment.valid[0]
            why = finding.trust_problem or "its key is not among the trusted keys"
            return failed(
                NAME,
                f"no valid signature from a trusted key: signature by {_key_name(finding)} "
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
        return passed(NAME, reason, finding.pointer, **details)
    finding = assessment.findings[0]
    return failed(NAME, f"no valid signature: {finding.problem}", finding.pointer, **details)


CHECK = Check(NAME, run, "Ed25519 issuer signature over the canonical bytes, under the trust policy")
