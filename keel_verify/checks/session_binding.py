"""``session_binding``: every chain entry belongs to this session and its project, the
sequences are ordered, and the heads name the right places (docs/format.md §5, §8, §9.4).

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

from keel_verify.checks.base import Check, chain_length
from keel_verify.checks.binding_support import (
    Problems,
    problems_then_warnings,
    same_text,
    show,
    strict_int,
    text,
)
from keel_verify.checks.entry_problems import EntryVisitor
from keel_verify.context import CheckContext
from keel_verify.load.access import Malformed, obj_at, str_at, type_name
from keel_verify.load.chainpass import Chunk
from keel_verify.load.loader import Artifact
from keel_verify.load.receipts import collect_receipts
from keel_verify.results import CheckResult, Outcome, member, shown

NAME = "session_binding"


class SessionEntries(EntryVisitor):
    """Folds over the chain: each entry's session and scope, and sequence order."""

    def __init__(self, artifact: Artifact) -> None:
        metadata = artifact.document.get("session_metadata")
        metadata = metadata if isinstance(metadata, dict) else {}
        self.session_id = metadata.get("session_id")
        project_id = member(metadata, "project_id")
        self.scope = f"project:{project_id if isinstance(project_id, str) else shown(project_id)}"
        self.first_sequence: int | None = None
        self.last_sequence: int | None = None
        self.last_entry_sequence: Any = None  # the last entry's own "sequence", whatever it is
        self.last_is_object = False
        super().__init__()

    def visit(self, chunk: Chunk) -> None:
        if chunk.objects and self._chunk_is_sound(chunk):
            return
        first, entries = chunk.first, chunk.entries
        session_id, scope = self.session_id, self.scope
        for offset, entry in enumerate(entries):
            if type(entry) is dict:
                sequence = entry.get("sequence")
                self.last_is_object, self.last_entry_sequence = True, sequence
                if (entry.get("session_id") == session_id and entry.get("chain_scope") == scope
                        and type(entry.get("artifact_sequence")) is int and type(sequence) is int
                        and (self.last_sequence is None or sequence > self.last_sequence)):
                    self.last_sequence = sequence  # the common case, fast
                    if self.first_sequence is None:
                        self.first_sequence = sequence
                    continue
            else:
                self.last_is_object, self.last_entry_sequence = False, None
            self._entry_problems(first + offset, entry)

    # Sharding (keel_verify.load.shards): the sequence order carries over between chunks.
    def carried(self) -> object:
        return self.last_sequence

    def seed(self, previous: Any) -> None:
        self.last_is_object = type(previous) is dict
        sequence = previous.get("sequence") if type(previous) is dict else None
        self.last_entry_sequence = sequence
        self.last_sequence = sequence if type(sequence) is int else None

    def absorb(self, later: SessionEntries) -> None:
        if self.found.stopped_at is not None:
            return
        if self.first_sequence is None:
            self.first_sequence = later.first_sequence
        self.last_sequence = later.last_sequence
        self.last_entry_sequence, self.last_is_object = later.last_entry_sequence, later.last_is_object
        self.found.absorb(later.found)

    def _chunk_is_sound(self, chunk: Chunk) -> bool:
        """The common case, judged with list operations."""
        count = len(chunk.entries)
        sequences = chunk.column("sequence")
        if not (
            chunk.column("session_id").count(self.session_id) == count
            and chunk.column("chain_scope").count(self.scope) == count
            and set(map(type, chunk.column("artifact_sequence"))) == {int}
            and set(map(type, sequences)) == {int}
            and (self.last_sequence is None or sequences[0] > self.last_sequence)
            and all(map(int.__lt__, sequences, sequences[1:]))
        ):
            return False  # look entry by entry, from the unchanged state
        if self.first_sequence is None:
            self.first_sequence = sequences[0]
        self.last_sequence = self.last_entry_sequence = sequences[-1]
        self.last_is_object = True
        return True

    def _entry_problems(self, index: int, entry: Any) -> None:
        found: Problems = []
        where = f"/chain/{index}"
        if not isinstance(entry, dict):
            found.append((where, f"chain entry {index} is {type_name(entry)}, not an object"))
        else:
            if isinstance(self.session_id, str):
                same_text(entry, "session_id", where, self.session_id,
                          f"chain entry {index} session_id", found)
            same_text(entry, "chain_scope", where, self.scope,
                      f"chain entry {index} chain_scope", found)
            strict_int(entry, "artifact_sequence", where,
                       f"chain entry {index} artifact_sequence", found)
            sequence = strict_int(entry, "sequence", where, f"chain entry {index} sequence",
                                  found)
            if sequence is not None:
                if self.last_sequence is not None and sequence <= self.last_sequence:
                    found.append((
                        f"{where}/sequence",
                        f"chain entry {index} sequence {show(sequence)} is not above the "
                        f"previous entry's {show(self.last_sequence)}: sequences must strictly "
                        "increase",
                    ))
                else:
                    self.last_sequence = sequence
                    if self.first_sequence is None:
                        self.first_sequence = sequence
        self.found.extend(found)


def _head_problems(last_entry: tuple[bool, Any], length: int, head: dict[str, Any],
                   problems: Problems) -> None:
    """``last_entry``: whether the chain's last entry is an object, and its "sequence"."""
    strict_int(head, "event_count", "/chain_head", "chain_head.event_count", problems)
    if not length:
        stated = head.get("sequence")
        if stated is not None:
            problems.append((
                "/chain_head/sequence",
                f"chain_head.sequence is {show(stated)}, but the chain is empty: "
                "with no entries it must be null or absent",
            ))
        return
    sequence = strict_int(head, "sequence", "/chain_head", "chain_head.sequence", problems)
    last_is_object, last = last_entry
    if sequence is None or not last_is_object or type(last) is not int:
        return  # the type problem is already recorded
    if sequence != last:
        problems.append((
            "/chain_head/sequence",
            f"chain_head.sequence is {show(sequence)}, but the last entry's sequence is "
            f"{show(last)}",
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
    length = chain_length(context.artifact)
    head = obj_at(document, "chain_head", "")
    project_head = obj_at(document, "project_chain_head", "")
    entries: SessionEntries = context.chain.visitor(NAME)

    problems: Problems = []
    strict_int(document, "schema_version", "", "schema_version", problems)
    problems.extend(entries.found.listed)
    first_sequence, last_sequence = entries.first_sequence, entries.last_sequence
    last_entry = (entries.last_is_object, entries.last_entry_sequence)
    if entries.found.stopped_at is not None:  # the real last entry, not the last examined
        last = context.chain.last_entry
        last_entry = (type(last) is dict, last.get("sequence") if type(last) is dict else None)
    _head_problems(last_entry, length, head, problems)
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

    if length:
        ok_reason = (
            f"{length} entries belong to session {text(session_id)} in {text(scope)}, "
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
        code="binding_broken",
        entry_problems=entries.found,
        session_id=session_id,
        chain_scope=scope,
        # not determined when the check stopped before the chain's end
        session_chain_sequence=last_sequence if entries.found.stopped_at is None else None,
        project_chain_sequence=project_sequence,
    )


CHECK = Check(
    NAME, run, "entries belong to this session and project; sequences and heads agree",
    SessionEntries,
    codes={
        "ok": (Outcome.PASS, "every entry names this session and project; sequences and heads agree"),
        "binding_broken": (Outcome.FAIL, "an entry, sequence or chain head does not belong to this "
                                         "session or project"),
    },
)
