"""Which timestamp receipts an artifact carries (docs/format.md §8), with their JSON Pointers."""

from __future__ import annotations

from typing import Any

from keel_verify.load.access import Malformed, list_at, member

DEGRADED_NO_RECEIPT = "degraded_no_receipt"

#: Each receipt costs a token parse and a CMS verification; real artifacts carry one or
#: two. More than this is refused by every receipt check rather than spent on (a hostile
#: artifact could list thousands).
MAX_RECEIPTS = 64


def collect_receipts(document: dict[str, Any]) -> list[tuple[str, Any]]:
    """``timestamp_receipts[]`` plus ``rfc3161_timestamp_receipt`` when it is an object
    not already in that list. Malformed when there are more than :data:`MAX_RECEIPTS`."""
    listed = list_at(document, "timestamp_receipts", "")
    _within_limit(len(listed))
    receipts = [(f"/timestamp_receipts/{index}", item) for index, item in enumerate(listed)]
    single = member(document, "rfc3161_timestamp_receipt", "")
    if single is not None:
        if not isinstance(single, dict):
            raise Malformed("/rfc3161_timestamp_receipt", "expected an object or null")
        if single not in listed:
            receipts.append(("/rfc3161_timestamp_receipt", single))
    _within_limit(len(receipts))
    return receipts


def _within_limit(count: int) -> None:
    if count > MAX_RECEIPTS:
        raise Malformed("/timestamp_receipts",
                        f"{count} timestamp receipts exceed the limit of {MAX_RECEIPTS}")


def declares_degraded(document: dict[str, Any]) -> bool:
    return document.get("tsa_status") == DEGRADED_NO_RECEIPT
