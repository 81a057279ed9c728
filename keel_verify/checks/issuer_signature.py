"""``issuer_signature`` (reference name): an Ed25519 signature over the artifact's
canonical bytes, judged against the trust policy (docs/format.md §4, §9.1).

The signer is named by what verified: the fingerprint of the key bytes and, when the
policy vouches, the policy's label; the artifact's own ``key_id`` only as a claim.
"""

from __future__ import annotations

from itertools import islice
from typing import Any

from keel_verify.checks.base import Check, failed, passed, warned
from keel_verify.context import CheckContext
from keel_verify.results import CheckResult, Outcome
from keel_verify.trust.key_decision import (
    KEY_EXPIRED,
    KEY_NO_SIGNING_TIME,
    KEY_NOT_YET_VALID,
    KEY_PURPOSE_MISMATCH,
    KEY_REVOKED,
    KEY_STATUS_UNKNOWN,
    KEY_WINDOW_ON_CLAIM,
)
from keel_verify.trust.signer import SignatureAssessment, SignatureFinding

NAME = "issuer_signature"

#: How many ``signatures[]`` entries the details describe at most. Entries outside the
#: signed bytes cost the signer nothing to add, so a report lists the ones that matter
#: (the counted one, those that verified, those the trust policy says something about)
#: and the first others, with the total: 10,000 junk entries must not make a report
#: megabytes long.
LISTED_SIGNATURES = 50


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


def _listed(assessment: SignatureAssessment,
            counted: SignatureFinding | None) -> list[SignatureFinding]:
    """At most :data:`LISTED_SIGNATURES` findings, in ``signatures[]`` order: the counted
    one, then those that verified or that a trust source names, then the first others.

    Only the assessment's notable findings can rank before "the first others" (every
    other entry fails to verify, by a key the policy says nothing about), so the others
    are the first entries not chosen already: 100,000 junk entries are never all built."""
    findings = assessment.findings
    if len(findings) <= LISTED_SIGNATURES:
        return list(findings)

    def rank(finding: SignatureFinding) -> int:
        if finding is counted:
            return 0
        if finding.valid or finding.trusted_key is not None:
            return 1
        return 2 if finding.decision.sources or finding.trust_problem else 3

    ahead = sorted((f for f in findings.notable if rank(f) < 3), key=lambda f: (rank(f), f.index))
    chosen = {finding.index for finding in ahead[:LISTED_SIGNATURES]}
    first_others = (at for at in range(len(findings)) if at not in chosen)
    chosen.update(islice(first_others, LISTED_SIGNATURES - len(chosen)))
    return [findings[at] for at in sorted(chosen)]


def _not_counted(assessment: SignatureAssessment) -> str:
    others = len(assessment.findings) - 1
    noun = "signature" if others == 1 else "signatures"
    return f"; {others} other {noun} not counted (see details)" if others else ""


def run(context: CheckContext) -> CheckResult:
    assessment = context.signatures
    if assessment.structure_problem:
        return failed(NAME, assessment.structure_problem, "/signatures", code="signatures_malformed")
    counted = assessment.primary if assessment.vouched else None
    details: dict[str, Any] = {
        "content_hash": context.chain.content_hash,
        "time_basis": assessment.time_basis,
        "trust_basis": assessment.trust_basis,
        "signatures": [_describe(f, counted) for f in _listed(assessment, counted)],
        "signature_count": len(assessment.findings),
        "signatures_partial": len(assessment.findings) > LISTED_SIGNATURES,
    }
    if not assessment.findings:
        return failed(NAME, "the artifact carries no issuer signature", "/signatures",
                      code="no_signature", **details)

    if assessment.trusted:
        chosen = assessment.trusted[0]
        assert chosen.trusted_key is not None
        windowed = any(
            statement.not_before or statement.not_after or statement.revoked_at
            or statement.status != "active" for statement in chosen.decision.statements
        )
        judged = f"; window judged at {assessment.time_basis}" if windowed else ""
        reason = (
            f"valid Ed25519 signature by {chosen.trust_basis} key {chosen.signer_name()} "
            f"({chosen.decision.sources}{judged})"
        )
        if chosen.trust_note:
            reason += f"; note: {chosen.trust_note}"
        reason += _not_counted(assessment)
        if chosen.trust_caveat:
            return warned(NAME, f"{reason}; but {chosen.trust_caveat}", chosen.pointer,
                          code=KEY_WINDOW_ON_CLAIM, **details)
        return passed(NAME, reason, chosen.pointer, code="trusted_key", **details)

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
                code=finding.decision.kind or "key_not_trusted",
                **details,
            )
        # An entry by a key the policy speaks about explains more than an unknown key's.
        finding = assessment.named[0] if assessment.named else assessment.findings[0]
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
        return passed(NAME, reason + _not_counted(assessment), finding.pointer,
                      code=code, **details)
    finding = assessment.findings[0]
    return failed(NAME, f"no valid signature: {finding.problem}", finding.pointer,
                  code="signature_invalid", **details)


CHECK = Check(
    NAME, run, "Ed25519 issuer signature over the canonical bytes, under the trust policy",
    codes={
        "trusted_key": (Outcome.PASS, "a valid signature by a key the trust policy vouches for, "
                                      "on times that bound the signing"),
        "self_attested": (Outcome.PASS, "a valid signature by the embedded key; no trust source "
                                        "vouches for it (verdict UNTRUSTED)"),
        "self_attested_accepted": (Outcome.PASS, "a valid signature by the embedded key, "
                                                 "accepted by --self-attested (origin unproven)"),
        "signatures_malformed": (Outcome.FAIL, "\"signatures\" is missing or not an array"),
        "no_signature": (Outcome.FAIL, "the artifact carries no issuer signature"),
        "signature_invalid": (Outcome.FAIL, "no signature verifies over the canonical bytes"),
        "key_not_trusted": (Outcome.FAIL, "a signature verifies, but its key is not a trusted key"),
        KEY_REVOKED: (Outcome.FAIL, "a trust source revokes the key (a revocation that has "
                                    "happened: nothing proves the signature predates it)"),
        KEY_EXPIRED: (Outcome.FAIL, "the key's window closed before the witnessed genTime or "
                                    "before the issuer's own issued_at"),
        KEY_NOT_YET_VALID: (Outcome.FAIL, "the key's not_before lies after issued_at or after now"),
        KEY_PURPOSE_MISMATCH: (Outcome.FAIL, "the trust policy lists the key only for another "
                                             "purpose than export_signing"),
        KEY_NO_SIGNING_TIME: (Outcome.FAIL, "the trusted key has a validity window but no "
                                            "usable signing time exists to judge it"),
        KEY_WINDOW_ON_CLAIM: (Outcome.WARN, "a trusted key whose validity window has closed (or "
                                            "that is retired): only the issuer's own issued_at "
                                            "places the signing inside it"),
        KEY_STATUS_UNKNOWN: (Outcome.FAIL, "a trust source gives the key a status other than "
                                           "active, retired or revoked"),
    },
)
