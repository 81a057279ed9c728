"""``session_binding``: every chain entry belongs to this session and its project, the
sequences are ordered, and the heads name the right places (SPEC A.5, A.8, B.4).

Rules:

* every entry's ``session_id`` is ``session_metadata.session_id`` and its ``chain_scope``
  is ``"project:" + session_metadata.project_id``;
* entries' ``sequence`` (their place in the project chain) strictly increases;
* ``chain_head.sequence`` is the last entry's ``sequence``. For an empty chain there is
  no last entry: ``chain_head.sequence`` must then be null or absent, because any number
  would name an event the session does not contain;
* ``project_chain_head.sequence`` is above the session's last sequence (the project chain
  continued past this session, up to the head the receipts witness) and
  ``project_chain_head.chain_scope`` is the project's scope;
* every count and sequence the format has (``schema_version``, ``chain_head.event_count``,
  ``chain_head.sequence``, each entry's ``artifact_sequence`` and ``sequence``,
  ``project_chain_head.sequence``, each receipt's ``covers_chain_head_at_sequence``) is a
  JSON integer: never a boolean, a string, or a number written with a fraction or an
  exponent (``102.0`` is not ``102`` -- a JSON Schema "integer" would accept it).
"""

from __future__ import annotations

from typing import Any

from keel_verify.access import Malformed, list_at, obj_at, str_at, type_name
from keel_verify.checks.base import Check
from keel_verify.checks.binding_support import (
    Problems,
    problems_then_warnings,
    same_text,
    show,
    strict_int,
    text,
)
from keel_verify.context import CheckContext
from keel_verify.receipts import collect_receipts
from keel_verify.results import CheckResult

NAME = "session_binding"


def _entry_problems(
    chain: list[Any], session_id: str, scope: str, problems: Problems
) -> tuple[int | None, int | None]:
    """Check each entry's session, scope and ordering; return the first and the last
    (highest) valid sequence."""
    first_sequence: int | None = None
    last_sequence: int | None = None
    for index, entry in enumerate(chain):
        where = f"/chain/{index}"
        if not isinstance(entry, dict):
            problems.append((where, f"chain entry {index + 1} is {type_name(entry)}, not an object"))
            continue
        same_text(entry, "session_id", where, session_id,
                  f"chain entry {index + 1} session_id", problems)
        same_text(entry, "chain_scope", where, scope,
                  f"chain entry {index + 1} chain_scope", problems)
        strict_int(entry, "artifact_sequence", where,
                   f"chain entry {index + 1} artifact_sequence", problems)
        sequence = strict_int(entry, "sequence", where, f"chain entry {index + 1} sequence",
                              problems)
        if sequence is None:
            continue
        if last_sequence is not None and sequence <= last_sequence:
            problems.append((
                f"{where}/sequence",
                f"chain entry {index + 1} sequence {show(sequence)} is not above the previous "
                f"entry's {show(last_sequence)}: sequences must strictly increase",
            ))
        else:
            last_sequence = sequence
            if first_sequence is None:
                first_sequence = sequence
    return first_sequence, last_sequence


def _head_problems(chain: list[Any], head: dict[str, Any], problems: Problems) -> None:
    strict_int(head, "event_count", "/chain_head", "chain_head.event_count", problems)
    if not chain:
        stated = head.get("sequence")
        if stated is not None:
            problems.append((
                "/chain_head/sequence",
                f"chain_head.sequence is {show(stated)}, but the chain is empty: "
                "with no entries it must be null or absent",
            ))
        return
    sequence = strict_int(head, "sequence", "/chain_head", "chain_head.sequence", problems)
    last = chain[-1]
    if sequence is None or not isinstance(last, dict) or type(last.get("sequence")) is not int:
        return  # the type problem is already recorded
    if sequence != last["sequence"]:
        problems.append((
            "/chain_head/sequence",
            f"chain_head.sequence is {show(sequence)}, but the last entry's sequence is "
            f"{show(last['sequence'])}",
        ))


def _project_head_problems(
    project_head: dict[str, Any], scope: str, session_last: int | None, problems: Problems
) -> int | None:
    same_text(project_head, "chain_scope", "/project_chain_head", scope,
              "project_chain_head.chain_scope", problems)
    sequence = strict_int(project_head, "sequence", "/project_chain_head",
                          "project_chain_head.sequence", problems)
    if sequence is not None and session_last is not None and sequence <= session_last:
        problems.append((
            "/project_chain_head/sequence",
            f"project_chain_head.sequence {show(sequence)} is not above the session chain "
            f"head's sequence {show(session_last)}: the witnessed project head must come after "
            "the session's events",
        ))
    return sequence


def run(context: CheckContext) -> CheckResult:
    document = context.artifact.document
    metadata = obj_at(document, "session_metadata", "")
    session_id = str_at(metadata, "session_id", "/session_metadata")
    project_id = str_at(metadata, "project_id", "/session_metadata")
    scope = f"project:{project_id}"
    chain = list_at(document, "chain", "")
    head = obj_at(document, "chain_head", "")
    project_head = obj_at(document, "project_chain_head", "")

    problems: Problems = []
    strict_int(document, "schema_version", "", "schema_version", problems)
    first_sequence, last_sequence = _entry_problems(chain, session_id, scope, problems)
    _head_problems(chain, head, problems)
    stated = head.get("sequence")
    known = [s for s in (last_sequence, stated) if type(s) is int]
    session_last = max(known) if known else None
    project_sequence = _project_head_problems(project_head, scope, session_last, problems)
    try:
        receipts = collect_receipts(document)
    except Malformed:
        receipts = []  # the receipts' own shape is receipt_coverage's to report
    for pointer, receipt in receipts:
        if isinstance(receipt, dict):
            strict_int(receipt, "covers_chain_head_at_sequence", pointer,
                       f"receipt {pointer} covers_chain_head_at_sequence", problems)

    if chain:
        ok_reason = (
            f"{len(chain)} entries belong to session {text(session_id)} in {text(scope)}, "
            f"sequences {show(first_sequence)}..{show(last_sequence)} strictly increasing; "
            f"chain_head.sequence is the last entry's; project_chain_head.sequence "
            f"{show(project_sequence)} is above it"
        )
    else:
        ok_reason = (
            f"the chain is empty and chain_head.sequence is null or absent; "
            f"project_chain_head is in {text(scope)}"
        )
    return problems_then_warnings(
        NAME,
        problems,
        [],
        ok_reason,
        session_id=session_id,
        chain_scope=scope,
        session_chain_sequence=last_sequence,
        project_chain_sequence=project_sequence,
    )


CHECK = Check(NAME, run, "entries belong to this session and project; sequences and heads agree")
