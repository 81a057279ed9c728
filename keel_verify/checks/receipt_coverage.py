"""``receipt_coverage``: what the timestamp receipts say they cover is what the artifact
names, each receipt's hash is its token's, and ``tsa_status`` tells the truth
(docs/format.md §3, §8, §9.4).

For every receipt (``timestamp_receipts[]`` plus a distinct ``rfc3161_timestamp_receipt``):

* ``covers_chain_head_at_sequence`` is the integer ``project_chain_head.sequence``;
* ``covers_chain_head_hash``, when present, is ``project_chain_head.content_hash``;
* ``receipt_hash`` is ``H(DER of the TimeStampToken)`` -- for a full TimeStampResp, the
  token it embeds, not the response.

The same token twice is reported as a warning: it is one witness, not two.

``tsa_status``: an artifact with no receipt must declare ``"degraded_no_receipt"``
(otherwise FAIL: a missing witness must never look like an oversight). An artifact that
declares ``"degraded_no_receipt"`` while carrying receipts FAILS: its signed statements
contradict each other, and a reader trusting either one is misled. Any other
``tsa_status`` value is not part of the format and is reported as a warning.
"""

from __future__ import annotations

from typing import Any

from keel_verify.checks.base import Check, counted
from keel_verify.checks.binding_support import Problems, problems_then_warnings, show
from keel_verify.context import CheckContext
from keel_verify.crypto.canonical import tagged_sha256
from keel_verify.crypto.rfc3161 import ReceiptTokens, TokenError
from keel_verify.load.access import hash_at, obj_at
from keel_verify.load.receipts import DEGRADED_NO_RECEIPT, collect_receipts
from keel_verify.results import CheckResult, Outcome, member

NAME = "receipt_coverage"


def _receipt_problems(
    pointer: str,
    receipt: dict[str, Any],
    head_hash: str,
    head_sequence: Any,
    tokens: ReceiptTokens,
    problems: Problems,
) -> bytes | None:
    """Coverage and receipt-hash problems of one receipt; returns its token DER if parsed."""
    label = f"receipt {pointer}"
    covered = receipt.get("covers_chain_head_at_sequence")
    if "covers_chain_head_at_sequence" not in receipt:
        problems.append((f"{pointer}/covers_chain_head_at_sequence",
                         f"{label} does not say which chain head sequence it covers"))
    elif type(covered) is not int or type(head_sequence) is not int or covered != head_sequence:
        problems.append((f"{pointer}/covers_chain_head_at_sequence",
                         f"{label} covers_chain_head_at_sequence is {show(covered)}, but "
                         f"project_chain_head.sequence is {show(head_sequence)}"))
    if "covers_chain_head_hash" in receipt and receipt["covers_chain_head_hash"] != head_hash:
        problems.append((f"{pointer}/covers_chain_head_hash",
                         f"{label} covers_chain_head_hash {show(receipt['covers_chain_head_hash'])}"
                         f" is not project_chain_head.content_hash ({head_hash})"))
    try:
        token_der = tokens.from_text(receipt.get("tsa_response_base64")).token_der
    except TokenError as error:
        problems.append((f"{pointer}/receipt_hash",
                         f"{label} receipt_hash cannot be confirmed: {error}"))
        return None
    recomputed = tagged_sha256(token_der)
    stated_hash = member(receipt, "receipt_hash")
    if stated_hash != recomputed:
        problems.append((f"{pointer}/receipt_hash",
                         f"{label} receipt_hash {show(stated_hash)} is not the "
                         f"hash of its time-stamp token's DER ({recomputed})"))
    return token_der


def run(context: CheckContext) -> CheckResult:
    document = context.artifact.document
    head = obj_at(document, "project_chain_head", "")
    head_hash = hash_at(head, "content_hash", "/project_chain_head")
    head_sequence = head.get("sequence")
    receipts = collect_receipts(document)
    status = document.get("tsa_status")

    problems: Problems = []
    warnings: Problems = []
    seen: dict[bytes, str] = {}
    for pointer, receipt in receipts:
        if not isinstance(receipt, dict):
            problems.append((pointer, f"receipt {pointer} is not an object"))
            continue
        token_der = _receipt_problems(pointer, receipt, head_hash, head_sequence,
                                      context.receipt_tokens, problems)
        if token_der is None:
            continue
        if token_der in seen:
            warnings.append((pointer, f"receipt {pointer} carries the same time-stamp token as "
                                      f"{seen[token_der]}: one witness, counted once"))
        else:
            seen[token_der] = pointer

    if "tsa_status" in document:
        if status == DEGRADED_NO_RECEIPT and receipts:
            problems.append(("/tsa_status",
                             f"tsa_status declares \"{DEGRADED_NO_RECEIPT}\", but the artifact "
                             f"carries {counted(len(receipts), 'timestamp receipt')}"))
        elif not isinstance(status, str):
            problems.append(("/tsa_status", f"tsa_status {show(status)} is not a string"))
        elif status != DEGRADED_NO_RECEIPT:
            warnings.append(("/tsa_status", f"tsa_status {show(status)} is not a value the "
                                            f"format defines (only \"{DEGRADED_NO_RECEIPT}\")"))
    if not receipts and status != DEGRADED_NO_RECEIPT:
        problems.append(("/timestamp_receipts",
                         "no timestamp receipt, and the artifact does not declare tsa_status "
                         f"\"{DEGRADED_NO_RECEIPT}\""))

    if receipts:
        ok_reason = (
            f"project chain head {head_hash} at sequence {show(head_sequence)} covered by "
            f"{counted(len(receipts), 'receipt')}; each receipt_hash is its token's hash"
        )
    else:
        ok_reason = (
            f"no timestamp receipt, as tsa_status \"{DEGRADED_NO_RECEIPT}\" declares: "
            "nothing witnesses the chain head"
        )
    return problems_then_warnings(
        NAME,
        problems,
        warnings,
        ok_reason,
        code="coverage_broken",
        warn_code="receipt_anomaly",
        receipts=len(receipts),
        distinct_tokens=len(seen),
        project_chain_head=head_hash,
    )


CHECK = Check(
    NAME, run, "receipts cover the project chain head; receipt hashes; tsa_status",
    codes={
        "ok": (Outcome.PASS, "receipts cover the project chain head; receipt hashes and tsa_status hold"),
        "coverage_broken": (Outcome.FAIL, "a receipt covers another head or sequence, its "
                                          "receipt_hash is wrong, or tsa_status contradicts the receipts"),
        "receipt_anomaly": (Outcome.WARN, "a repeated token (one witness counted once) or an "
                                          "undefined tsa_status value"),
    },
)
