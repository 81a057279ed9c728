"""``rfc3161_timestamp_receipt`` (reference name): each receipt names the project chain
head, and its token's message imprint is that hash (docs/format.md §8). Whether the token is
signed, and by whom, is ``timestamp_witness``'s business."""

from __future__ import annotations

from typing import Any

from keel_verify.checks.base import Check, counted, failed, first_problem, skipped
from keel_verify.context import CheckContext
from keel_verify.crypto.rfc3161 import ReceiptTokens, TokenError
from keel_verify.load.access import hash_at, obj_at
from keel_verify.load.receipts import collect_receipts, declares_degraded
from keel_verify.results import CheckResult, Outcome, member, shown

NAME = "rfc3161_timestamp_receipt"


def _receipt_problems(
    pointer: str, receipt: Any, head_hash: str, tokens: ReceiptTokens
) -> list[tuple[str, str]]:
    if not isinstance(receipt, dict):
        return [(pointer, "receipt is not an object")]
    problems: list[tuple[str, str]] = []
    request_hash = member(receipt, "request_hash")
    if request_hash != head_hash:
        problems.append((
            f"{pointer}/request_hash",
            f"request_hash {shown(request_hash)} is not project_chain_head.content_hash ({head_hash})",
        ))
    if "covers_chain_head_hash" in receipt and receipt["covers_chain_head_hash"] != request_hash:
        problems.append((
            f"{pointer}/covers_chain_head_hash",
            "covers_chain_head_hash differs from request_hash",
        ))
    try:
        token = tokens.from_text(receipt.get("tsa_response_base64"))
    except TokenError as error:
        return [*problems, (f"{pointer}/tsa_response_base64", str(error))]
    if token.imprint_algorithm != "sha256":
        problems.append((
            f"{pointer}/tsa_response_base64",
            f"token message imprint uses {token.imprint_algorithm}, not sha256",
        ))
    elif token.imprint.hex() != head_hash.removeprefix("sha256:"):
        problems.append((
            f"{pointer}/tsa_response_base64",
            f"token message imprint {token.imprint.hex()} is not the project chain head hash",
        ))
    return problems


def run(context: CheckContext) -> CheckResult:
    document = context.artifact.document
    head = obj_at(document, "project_chain_head", "")
    head_hash = hash_at(head, "content_hash", "/project_chain_head")
    receipts = collect_receipts(document)
    if not receipts:
        if declares_degraded(document):
            return skipped(
                NAME,
                "no timestamp receipt to check: the artifact declares tsa_status "
                "\"degraded_no_receipt\"",
                "/timestamp_receipts",
                code="degraded_no_receipt",
            )
        return failed(
            NAME,
            "no timestamp receipt, and the artifact does not declare tsa_status "
            "\"degraded_no_receipt\"",
            "/timestamp_receipts",
            code="no_receipt",
        )
    problems: list[tuple[str, str]] = []
    for pointer, receipt in receipts:
        problems.extend(_receipt_problems(pointer, receipt, head_hash, context.receipt_tokens))
    return first_problem(
        NAME,
        problems,
        f"project chain head {head_hash} named by {counted(len(receipts), 'receipt')}; each "
        "token's message imprint matches it",
        code="receipt_mismatch",
        receipts=len(receipts),
        project_chain_head=head_hash,
    )


CHECK = Check(
    NAME, run, "receipts name the project chain head; token imprint matches",
    codes={
        "ok": (Outcome.PASS, "every receipt names the project chain head and its token's imprint is it"),
        "degraded_no_receipt": (Outcome.SKIP, "no receipt to check; the artifact declares "
                                              "tsa_status \"degraded_no_receipt\""),
        "no_receipt": (Outcome.FAIL, "no receipt and no declared degraded status"),
        "receipt_mismatch": (Outcome.FAIL, "a receipt names another hash, its token does not "
                                           "parse, or its imprint is not the chain head"),
    },
)
