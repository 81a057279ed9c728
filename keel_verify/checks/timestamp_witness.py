"""``timestamp_witness``: every RFC 3161 token is fully verified -- signature, signed
attributes, ESS binding, TSA certificate profile, chain to a trusted TSA root at genTime,
message imprint (the steps are in :mod:`keel_verify.crypto.witness`; which TSA vouches,
anchored in what, is decided in :mod:`keel_verify.trust.tsa_decision`).

PASS means a trusted TSA vouches that the project chain head existed at genTime, and
names the trust anchor the chain ended at. An unsigned token, a signed one with no TSA
root to anchor it, or one whose anchor's revocation rule could not be met (a stale CRL
snapshot) is a WARN that says what is not proven; any failed step is a FAIL naming it.
"""

from __future__ import annotations

from typing import Any

from keel_verify.checks.base import Check, counted, failed, passed, warned
from keel_verify.context import CheckContext
from keel_verify.crypto.witness import iso_utc, shorten
from keel_verify.results import CheckResult, Outcome
from keel_verify.trust.tsa_decision import ReceiptWitness, WitnessStatus, describe

NAME = "timestamp_witness"


def _gen_time(receipt: ReceiptWitness) -> str:
    gen_time = receipt.verification.gen_time
    return iso_utc(gen_time) if gen_time else "unknown"


def _more(count: int) -> str:
    return f" (and {count - 1} more)" if count > 1 else ""


def run(context: CheckContext) -> CheckResult:
    assessment = context.witness
    if assessment.structure_problem:
        pointer, problem = assessment.structure_problem
        return failed(NAME, problem, pointer, code="receipts_malformed")
    details: dict[str, Any] = {
        "receipts": [describe(r) for r in assessment.receipts],
        "tsa_roots_configured": assessment.roots_configured,
        "tsa_roots_source": assessment.roots_source,
        "tsa_certs_source": assessment.helpers_source,
        "authenticated_time": (
            iso_utc(assessment.authenticated_time) if assessment.authenticated_time else None
        ),
    }
    if not assessment.receipts:
        if assessment.degraded_declared:
            return warned(
                NAME,
                "unwitnessed: no timestamp receipt (the artifact declares tsa_status "
                "\"degraded_no_receipt\"); nothing independent proves when it existed",
                "/tsa_status",
                code="degraded_no_receipt",
                **details,
            )
        return failed(
            NAME,
            "no timestamp receipt, and the artifact does not declare tsa_status "
            "\"degraded_no_receipt\"",
            "/timestamp_receipts",
            code="no_receipt",
            **details,
        )

    invalid = assessment.with_status(WitnessStatus.INVALID)
    if invalid:
        first = invalid[0]
        return failed(
            NAME,
            f"receipt {first.pointer}: {first.verification.reason}{_more(len(invalid))}",
            f"{first.pointer}/tsa_response_base64",
            code="token_invalid",
            **details,
        )
    unsigned = assessment.with_status(WitnessStatus.UNSIGNED)
    if unsigned:
        first = unsigned[0]
        return warned(
            NAME,
            f"unwitnessed: the token is unsigned (no SignerInfo) in receipt {first.pointer}"
            f"{_more(len(unsigned))}, so it binds nothing; its genTime {_gen_time(first)} is "
            "an unauthenticated claim and no TSA vouches for the chain head",
            f"{first.pointer}/tsa_response_base64",
            code="token_unsigned",
            **details,
        )
    unvalidated = assessment.with_status(WitnessStatus.REVOCATION_NOT_VALIDATED)
    if unvalidated:
        first = unvalidated[0]
        return warned(
            NAME,
            f"{first.verification.problem} (receipt {first.pointer}{_more(len(unvalidated))}: "
            f"validly signed by {shorten(str(first.verification.tsa_subject))}, chained to "
            f"TSA root {shorten(str(first.verification.root_subject))}); its genTime "
            f"{_gen_time(first)} is therefore not treated as authenticated",
            f"{first.pointer}/tsa_response_base64",
            code="revocation_not_validated",
            **details,
        )
    unanchored = assessment.with_status(WitnessStatus.UNANCHORED)
    if unanchored:
        first = unanchored[0]
        return warned(
            NAME,
            f"not anchored: the token in receipt {first.pointer}{_more(len(unanchored))} is "
            f"validly signed by {shorten(str(first.verification.tsa_subject))}, but no TSA root is "
            "configured (give --tsa-roots, or tsa_roots in --trust-root), so who that TSA is, "
            f"and its genTime {_gen_time(first)}, are not proven",
            f"{first.pointer}/tsa_response_base64",
            code="token_unanchored",
            **details,
        )
    verified = assessment.receipts
    first = verified[0]
    named = first.verification.root_source or assessment.roots_source
    source = f" from {named}" if named else ""
    anchor = str(first.verification.root_subject)
    if first.verification.root_subject == first.verification.tsa_subject:
        anchor += " (the TSA certificate itself, pinned as a root)"
    revocation = f"; {first.verification.revocation}" if first.verification.revocation else ""
    return passed(
        NAME,
        f"{counted(len(verified), 'receipt')} witnessed: signed by "
        f"{shorten(str(first.verification.tsa_subject))}, chained to trusted TSA root "
        f"{shorten(anchor)}{source} at genTime {_gen_time(first)}{revocation}; this proves "
        "the project chain head existed by then, not when the artifact was signed",
        first.pointer,
        code="anchored",
        **details,
    )


CHECK = Check(
    NAME,
    run,
    "RFC 3161 tokens signed, ESS-bound, timeStamping EKU, chained to a TSA root at genTime",
    codes={
        "anchored": (Outcome.PASS, "every token is signed and chains to a trusted TSA root at genTime"),
        "degraded_no_receipt": (Outcome.WARN, "no receipt; the artifact declares tsa_status "
                                              "\"degraded_no_receipt\" (unwitnessed)"),
        "token_unsigned": (Outcome.WARN, "a token has no SignerInfo: its genTime is an "
                                         "unauthenticated claim"),
        "revocation_not_validated": (Outcome.WARN, "a token chains to a TSA bundle's root, but "
                                     "the bundle's revocation rule is not met (stale CRL "
                                     "snapshots): its genTime is not treated as authenticated"),
        "token_unanchored": (Outcome.WARN, "a token is validly signed, but no TSA root is "
                                           "configured to anchor it"),
        "receipts_malformed": (Outcome.FAIL, "the receipts member is not of the expected shape"),
        "no_receipt": (Outcome.FAIL, "no receipt and no declared degraded status"),
        "token_invalid": (Outcome.FAIL, "a token fails a verification step (signature, ESS "
                                        "binding, certificate profile, chain, imprint)"),
    },
)
