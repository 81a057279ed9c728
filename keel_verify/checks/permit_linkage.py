"""``permit_linkage``: permits and chain entries point at each other consistently
(docs/format.md §7, §9.4).

* permit ids are unique across the parent session permit and the child permits;
* every child permit's ``session_id`` and ``binding_session_id`` are the session's;
* every entry's non-null ``permit_id`` names a permit in the artifact;
* a child permit's ``binding_session_event_hash`` is the ``content_hash`` of the chain
  entry that carries its ``permit_id`` (a null hash is allowed only for a permit no entry
  uses). In v1 this is confirmed or failed. In v3 (hash-only) the permit may carry the
  hash of the event's embedded-payload form, which the artifact does not contain: a hash
  that names no entry of this chain is then reported as a warning (unconfirmable), not a
  failure -- the public v3 sample is exactly this case. A hash naming a *different* entry
  of this chain fails in both versions;
* the parent session permit, when present, is this session's (its ``session_id``, when
  stated), and every ``parent_permit_id`` (of a child permit, or of ``session_metadata``)
  that is not null names it. With no parent permit in the artifact such a reference
  cannot be confirmed and is reported as a warning.
"""

from __future__ import annotations

import operator
from itertools import repeat
from typing import Any

from keel_verify.checks.base import Check, chain_length, counted
from keel_verify.checks.binding_support import (
    Problems,
    problems_then_warnings,
    same_text,
    show,
    text,
)
from keel_verify.checks.entry_problems import ChunkLocalVisitor
from keel_verify.checks.policy_binding import permits_with_pointers
from keel_verify.context import CheckContext
from keel_verify.load.access import Malformed, is_tagged_hash, obj_at, str_at
from keel_verify.load.chainpass import Chunk
from keel_verify.load.loader import Artifact
from keel_verify.results import CheckResult, Outcome

NAME = "permit_linkage"

CHILD_PREFIX = "/permits/child_tool_call_permits/"
PARENT = "/permits/parent_session_permit"


def _known_permits(permits: list[tuple[str, Any]], problems: Problems) -> dict[str, str]:
    """permit id -> pointer of the permit that has it; duplicates and bad ids are problems."""
    known: dict[str, str] = {}
    for pointer, permit in permits:
        if not isinstance(permit, dict):
            continue  # policy_binding and the schema report a non-object permit
        permit_id = permit.get("permit_id")
        if not isinstance(permit_id, str) or not permit_id:
            problems.append((f"{pointer}/permit_id",
                             f"permit {pointer} permit_id {show(permit_id)} is not a non-empty "
                             "string"))
        elif permit_id in known:
            problems.append((f"{pointer}/permit_id",
                             f"permit id {show(permit_id)} is used twice: by {known[permit_id]} and "
                             f"by {pointer}"))
        else:
            known[permit_id] = pointer
    return known


_ABSENT = object()


class PermitUses(ChunkLocalVisitor):
    """Folds over the chain: which entries carry which permit id, and where the hashes
    that permits bind to occur (only those: a 100,000-entry chain is never indexed)."""

    def __init__(self, artifact: Artifact) -> None:
        try:
            permits = permits_with_pointers(artifact.document)
        except Malformed:
            permits = []  # run() reports the shape
        self.known = _known_permits(permits, [])
        self.bound: set[str] = {
            permit["binding_session_event_hash"]
            for _, permit in permits
            if isinstance(permit, dict) and isinstance(permit.get("binding_session_event_hash"), str)
        }
        self.users: dict[str, list[int]] = {}  # permit id -> indices of entries carrying it
        self.by_hash: dict[str, int] = {}  # a bound hash -> first entry whose content_hash it is
        self.carrier_hashes: dict[str, set[str]] = {}  # permit id -> its carriers' content hashes
        super().__init__()

    def unchanged_by(self, chunk: Chunk) -> bool:
        """Whether visiting ``chunk``, or any part of it, changes nothing here: it holds
        no object, or only objects whose ``permit_id`` is null and whose content hash is
        a string no permit binds (see :class:`keel_verify.load.chainpass.EntryVisitor`)."""
        if not chunk.objects:
            return not chunk.object_offsets()  # chain_integrity reports the other entries
        stated = chunk.column("content_hash")
        return (chunk.column("permit_id").count(None) == len(chunk.entries)
                and all(map(operator.contains, chunk.entries, repeat("permit_id")))
                and set(map(type, stated)) == {str}
                and not self.bound.intersection(stated))

    def visit(self, chunk: Chunk) -> None:
        first, entries = chunk.first, chunk.entries
        bound, by_hash = self.bound, self.by_hash
        # look only at the few entries that carry a permit or a bound hash
        if chunk.objects and self.unchanged_by(chunk):
            return
        for offset in chunk.object_offsets():  # chain_integrity reports the other entries
            entry = entries[offset]
            content_hash = entry.get("content_hash")
            if isinstance(content_hash, str) and content_hash in bound:
                by_hash.setdefault(content_hash, first + offset)
            permit_id = entry.get("permit_id", _ABSENT)
            if permit_id is not None:  # the common case (no permit) costs nothing more
                self._use(first + offset, entry, permit_id, content_hash)

    # Sharding (keel_verify.load.shards): nothing carries over between chunks; what is
    # collected is merged in chain order (the first entry with a bound hash wins).
    def absorb(self, later: PermitUses) -> None:
        if self.found.stopped_at is not None:
            return
        for content_hash, index in later.by_hash.items():
            self.by_hash.setdefault(content_hash, index)
        for permit_id, indices in later.users.items():
            self.users.setdefault(permit_id, []).extend(indices)
        for permit_id, hashes in later.carrier_hashes.items():
            self.carrier_hashes.setdefault(permit_id, set()).update(hashes)
        super().absorb(later)

    def _use(self, index: int, entry: dict[str, Any], permit_id: Any, content_hash: Any) -> None:
        if permit_id is _ABSENT or not isinstance(permit_id, str):
            self._problem(index, permit_id)
            return
        if permit_id not in self.known:
            self._problem(index, permit_id)
        self.users.setdefault(permit_id, []).append(index)
        if isinstance(content_hash, str):
            self.carrier_hashes.setdefault(permit_id, set()).add(content_hash)

    def _problem(self, index: int, permit_id: Any) -> None:
        """Record an entry's bad permit_id. Only the problems kept are worded (only those
        are reported): the others cost a count."""
        if self.found.full:
            self.found.count += 1
            return
        where = f"/chain/{index}/permit_id"
        if permit_id is _ABSENT:
            problem = f"chain entry {index} has no permit_id (null if none)"
        elif not isinstance(permit_id, str):
            problem = f"chain entry {index} permit_id {show(permit_id)} is neither a string nor null"
        else:
            problem = (f"chain entry {index} names permit {show(permit_id)}, which is not among "
                       "the artifact's permits")
        self.found.add(where, problem)


def _binding_findings(
    pointer: str,
    permit: dict[str, Any],
    uses: PermitUses,
    hash_only: bool,
    problems: Problems,
    warnings: Problems,
) -> bool:
    """Judge one child permit's binding event hash; True when it is confirmed. When the
    visitor stopped before the chain's end, only what the entries examined prove is said:
    a binding they do not confirm is left unjudged (a later entry may confirm it)."""
    where = f"{pointer}/binding_session_event_hash"
    stated_id = permit.get("permit_id")
    permit_id = stated_id if isinstance(stated_id, str) else None
    carriers = uses.users.get(permit_id, []) if permit_id is not None else []
    label = f"permit {show(stated_id)}"
    if "binding_session_event_hash" not in permit:
        problems.append((where, f"{label} has no binding_session_event_hash"))
        return False
    bound = permit["binding_session_event_hash"]
    carrier_list = ", ".join(f"/chain/{i}" for i in carriers[:5])
    if bound is None:
        if carriers:
            problems.append((where, f"{label} binds no session event (null), but {carrier_list} "
                                    "carries its permit id"))
        return False
    if not is_tagged_hash(bound):
        problems.append((where, f"{label} binding_session_event_hash {show(bound)} is not "
                                "'sha256:' followed by 64 lowercase hex digits"))
        return False
    if permit_id is not None and bound in uses.carrier_hashes.get(permit_id, set()):
        return True
    if uses.found.stopped_at is not None:
        return False
    if not carriers:
        problems.append((where, f"{label} binds session event {bound}, but no chain entry "
                                "carries its permit id"))
        return False
    named = uses.by_hash.get(bound)
    if named is not None:
        problems.append((where, f"{label} binding_session_event_hash names /chain/{named}, "
                                f"not the entry that carries its permit id ({carrier_list})"))
    elif hash_only:
        warnings.append((where, f"{label} binding {bound} cannot be confirmed: it is not the "
                                f"content_hash of {carrier_list}, the entry carrying this permit "
                                "id, and a hash-only (v3) artifact omits the payload needed to "
                                "recompute the entry's full (v1) hash that a permit may carry"))
    else:
        problems.append((where, f"{label} binding_session_event_hash {bound} is not the "
                                f"content_hash of {carrier_list}, the entry that carries its "
                                "permit id"))
    return False


def _parent_findings(
    document: dict[str, Any],
    metadata: dict[str, Any],
    session_id: str,
    children: list[tuple[str, Any]],
    problems: Problems,
    warnings: Problems,
) -> None:
    parent = document["permits"].get("parent_session_permit")
    parent_id = parent.get("permit_id") if isinstance(parent, dict) else None
    if isinstance(parent, dict) and parent.get("session_id") is not None:
        same_text(parent, "session_id", PARENT, session_id, "the parent session permit's "
                  "session_id", problems)
    references = [("/session_metadata", metadata)]
    references.extend((p, permit) for p, permit in children if isinstance(permit, dict))
    for pointer, holder in references:
        named = holder.get("parent_permit_id")
        if named is None:
            continue
        where = f"{pointer}/parent_permit_id"
        if not isinstance(parent, dict):
            warnings.append((where, f"{pointer} names parent permit {show(named)}, but the "
                                    "artifact carries no parent session permit to confirm it"))
        elif named != parent_id:
            problems.append((where, f"{pointer} names parent permit {show(named)}, but the "
                                    f"parent session permit is {show(parent_id)}"))


def run(context: CheckContext) -> CheckResult:
    artifact = context.artifact
    document = artifact.document
    metadata = obj_at(document, "session_metadata", "")
    session_id = str_at(metadata, "session_id", "/session_metadata")
    chain_length(artifact)
    permits = permits_with_pointers(document)
    uses: PermitUses = context.chain.visitor(NAME)

    problems: Problems = []
    warnings: Problems = []
    _known_permits(permits, problems)
    problems.extend(uses.found.listed)
    children = [(p, permit) for p, permit in permits if p.startswith(CHILD_PREFIX)]
    confirmed = 0
    for pointer, permit in children:
        if not isinstance(permit, dict):
            continue
        same_text(permit, "session_id", pointer, session_id, f"permit {pointer} session_id",
                  problems)
        same_text(permit, "binding_session_id", pointer, session_id,
                  f"permit {pointer} binding_session_id", problems)
        if _binding_findings(pointer, permit, uses, artifact.is_hash_only, problems, warnings):
            confirmed += 1
    _parent_findings(document, metadata, session_id, children, problems, warnings)
    references = sum(len(indices) for indices in uses.users.values())
    return problems_then_warnings(
        NAME,
        problems,
        warnings,
        f"{counted(len(children), 'child permit')} bound to session {text(session_id)}; "
        f"{counted(confirmed, 'binding event hash', 'binding event hashes')} naming the chain "
        f"entry that uses the permit; {counted(references, 'entry permit reference')} resolving "
        "to permits in the artifact",
        code="permit_unbound",
        warn_code="binding_unconfirmed",
        entry_problems=uses.found,
        child_permits=len(children),
        confirmed_bindings=confirmed,
        entry_references=references,
    )


CHECK = Check(
    NAME, run, "permits bound to this session and to the chain entries that use them", PermitUses,
    codes={
        "ok": (Outcome.PASS, "permits are bound to this session and to the entries that use them"),
        "permit_unbound": (Outcome.FAIL, "a permit names another session, or a binding names the "
                                         "wrong entry or permit"),
        "binding_unconfirmed": (Outcome.WARN, "a permit binding cannot be confirmed from what the "
                                              "artifact carries"),
    },
)
