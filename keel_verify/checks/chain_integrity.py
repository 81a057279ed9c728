"""``chain_integrity`` (reference name): the session chain's hash links and content
hashes, and the chain head's hash and count (SPEC A.5)."""

from __future__ import annotations

from typing import Any

from keel_verify.access import list_at, obj_at, type_name
from keel_verify.canonical import GENESIS_HASH, canonical_hash
from keel_verify.checks.base import Check, first_problem
from keel_verify.checks.binding_support import show
from keel_verify.context import CheckContext
from keel_verify.results import CheckResult

NAME = "chain_integrity"


def entry_content_hash(entry: dict[str, Any]) -> str:
    """``H(C(entry without its "content_hash" member))``."""
    return canonical_hash({key: value for key, value in entry.items() if key != "content_hash"})


def run(context: CheckContext) -> CheckResult:
    document = context.artifact.document
    chain = list_at(document, "chain", "")
    head = obj_at(document, "chain_head", "")
    problems: list[tuple[str, str]] = []
    expected_previous: str | None = GENESIS_HASH
    last_sequence = 0
    for index, entry in enumerate(chain):
        where = f"/chain/{index}"
        if not isinstance(entry, dict):
            problems.append((where, f"chain entry {index + 1} is {type_name(entry)}, not an object"))
            expected_previous = None
            continue
        previous = entry.get("previous_content_hash")
        if expected_previous is not None and previous != expected_previous:
            problems.append((
                f"{where}/previous_content_hash",
                f"entry {index + 1} does not link to "
                + ("the genesis hash" if index == 0 else f"entry {index}'s content_hash")
                + f": expected {expected_previous}, found {previous!r:.80}",
            ))
        stated = entry.get("content_hash")
        recomputed = entry_content_hash(entry)
        if stated != recomputed:
            problems.append((
                f"{where}/content_hash",
                f"entry {index + 1} content_hash {stated!r:.80} does not match its content "
                f"(recomputed {recomputed})",
            ))
        expected_previous = stated if isinstance(stated, str) else None
        sequence = entry.get("artifact_sequence")
        if type(sequence) is not int:
            problems.append((
                f"{where}/artifact_sequence",
                f"entry {index + 1} artifact_sequence is {type_name(sequence)}, not an integer",
            ))
        elif sequence <= last_sequence:
            problems.append((
                f"{where}/artifact_sequence",
                f"entry {index + 1} artifact_sequence {show(sequence)} is not above "
                f"{show(last_sequence)}",
            ))
        else:
            last_sequence = sequence

    last_hash = GENESIS_HASH
    if chain and isinstance(chain[-1], dict):
        last_hash = chain[-1].get("content_hash")  # type: ignore[assignment]
    if head.get("content_hash") != last_hash:
        problems.append((
            "/chain_head/content_hash",
            f"chain_head.content_hash {head.get('content_hash')!r:.80} is not the last entry's "
            f"content_hash ({last_hash!r:.80})",
        ))
    count = head.get("event_count")
    if type(count) is not int:
        problems.append((
            "/chain_head/event_count",
            f"chain_head.event_count is {type_name(count)}, not an integer",
        ))
    elif count != len(chain):
        problems.append((
            "/chain_head/event_count",
            f"chain_head.event_count is {show(count)}, but the chain has {len(chain)} entries",
        ))
    return first_problem(
        NAME,
        problems,
        f"{len(chain)} entries hash-linked from genesis to chain head {last_hash}",
        chain_head=last_hash,
        event_count=len(chain),
    )


CHECK = Check(NAME, run, "hash links and content hashes from genesis to the chain head")
