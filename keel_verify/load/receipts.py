"""Which timestamp receipts an artifact carries (SPEC A.8), with their JSON Pointers."""

from __future__ import annotations

from typing import Any

from keel_verify.load.access import Malformed, list_at, member

DEGRADED_NO_RECEIPT = "degraded_no_receipt"


def collect_receipts(document: dict[str, Any]) -> list[tuple[str, Any]]:
    """``timestamp_receipts[]`` plus ``rfc3161_timestamp_receipt`` when it is an object
    not already in that list."""
    listed = list_at(document, "timestamp_receipts", "")
    receipts = [(f"/timestamp_receipts/{index}", item) for index, item in enumerate(listed)]
    single = member(document, "rfc3161_timestamp_receipt", "")
    if single is not None:
        if not isinstance(single, dict):
            raise Malformed("/rfc3161_timestamp_receipt", "expected an object or null")
        if single not in listed:
            receipts.append(("/rfc3161_timestamp_receipt", single))
    return receipts


def declares_degraded(document: dict[str, Any]) -> bool:
    return document.get("tsa_status") == DEGRADED_NO_RECEIPT
