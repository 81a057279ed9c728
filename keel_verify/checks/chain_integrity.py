"""``chain_integrity`` (reference name): the session chain's hash links and content
hashes, and the chain head's hash and count (docs/format.md §5)."""

from __future__ import annotations

from typing import Any

from keel_verify.checks.base import Check, chain_length, first_problem
from keel_verify.checks.binding_support import show
from keel_verify.checks.entry_problems import EntryVisitor
from keel_verify.context import CheckContext
from keel_verify.crypto.canonical import GENESIS_HASH
from keel_verify.load.access import obj_at, type_name
from keel_verify.load.chainpass import Chunk
from keel_verify.load.loader import Artifact
from keel_verify.results import CheckResult, Outcome, member

NAME = "chain_integrity"


class Links(EntryVisitor):
    """Folds over the chain: links, content hashes and artifact_sequence order."""

    def __init__(self, _artifact: Artifact) -> None:
        self.expected_previous: str | None = GENESIS_HASH
        self.last_sequence = 0
        self.last_hash: Any = GENESIS_HASH  # the last entry's stated content_hash
        super().__init__()

    def _problem(self, pointer: str, problem: str) -> None:
        self.found.add(pointer, problem)

    def visit(self, chunk: Chunk) -> None:
        if chunk.objects and self._chunk_is_sound(chunk):
            return
        first, entries, hashes = chunk.first, chunk.entries, chunk.content_hashes
        for offset, entry in enumerate(entries):
            recomputed = hashes[offset]
            if recomputed is None:  # not an object
                self._problem(f"/chain/{first + offset}",
                              f"chain entry {first + offset} is {type_name(entry)}, not an object")
                self.expected_previous = None
                self.last_hash = None
                continue
            stated = entry.get("content_hash")
            sequence = entry.get("artifact_sequence")
            if (entry.get("previous_content_hash") == self.expected_previous is not None
                    and stated == recomputed and type(sequence) is int
                    and sequence > self.last_sequence):
                self.expected_previous = self.last_hash = stated  # the common case, fast
                self.last_sequence = sequence
                continue
            self._entry_problems(first + offset, entry, recomputed)

    # Sharding (keel_verify.load.shards): links and order carry over between chunks.
    def carried(self) -> object:
        return self.expected_previous, self.last_sequence

    def seed(self, previous: Any) -> None:
        fields = previous if type(previous) is dict else {}
        stated, sequence = fields.get("content_hash"), fields.get("artifact_sequence")
        self.expected_previous = stated if isinstance(stated, str) else None
        self.last_hash = stated
        self.last_sequence = sequence if type(sequence) is int else 0

    def absorb(self, later: Links) -> None:
        if self.found.stopped_at is not None:
            return
        self.found.absorb(later.found)
        self.expected_previous, self.last_hash = later.expected_previous, later.last_hash
        self.last_sequence = later.last_sequence

    def _chunk_is_sound(self, chunk: Chunk) -> bool:
        """The common case, judged with list operations: every entry links to the one
        before, states its recomputed hash, and its artifact_sequence increases."""
        stated = chunk.column("content_hash")
        previous = chunk.column("previous_content_hash")
        sequences = chunk.column("artifact_sequence")
        if not (
            self.expected_previous is not None
            and previous[0] == self.expected_previous
            and previous[1:] == stated[:-1]
            and stated == chunk.content_hashes
            and set(map(type, sequences)) == {int}
            and sequences[0] > self.last_sequence
            and all(map(int.__lt__, sequences, sequences[1:]))
        ):
            return False  # look entry by entry, from the unchanged state
        self.expected_previous = self.last_hash = stated[-1]
        self.last_sequence = sequences[-1]
        return True

    def _entry_problems(self, index: int, entry: dict[str, Any], recomputed: str) -> None:
        where = f"/chain/{index}"
        previous = member(entry, "previous_content_hash")
        if self.expected_previous is not None and previous != self.expected_previous:
            self._problem(
                f"{where}/previous_content_hash",
                f"chain entry {index} does not link to "
                + ("the genesis hash" if index == 0 else f"chain entry {index - 1}'s content_hash")
                + f": expected {self.expected_previous}, found {show(previous)}",
            )
        stated = member(entry, "content_hash")
        if stated != recomputed:
            self._problem(
                f"{where}/content_hash",
                f"chain entry {index} content_hash {show(stated)} does not match its content "
                f"(recomputed {recomputed})",
            )
        self.expected_previous = stated if isinstance(stated, str) else None
        self.last_hash = stated
        sequence = entry.get("artifact_sequence")
        if type(sequence) is not int:
            self._problem(
                f"{where}/artifact_sequence",
                f"chain entry {index} artifact_sequence is {type_name(sequence)}, not an integer",
            )
        elif sequence <= self.last_sequence:
            self._problem(
                f"{where}/artifact_sequence",
                f"chain entry {index} artifact_sequence {show(sequence)} is not above "
                f"{show(self.last_sequence)}",
            )
        else:
            self.last_sequence = sequence


def run(context: CheckContext) -> CheckResult:
    document = context.artifact.document
    length = chain_length(context.artifact)
    head = obj_at(document, "chain_head", "")
    links: Links = context.chain.visitor(NAME)
    problems = list(links.found.listed)
    last_hash = links.last_hash
    if links.found.stopped_at is not None:  # the real last entry, not the last examined
        last = context.chain.last_entry
        last_hash = last.get("content_hash") if type(last) is dict else None
    if head.get("content_hash") != last_hash:
        problems.append((
            "/chain_head/content_hash",
            f"chain_head.content_hash {show(member(head, 'content_hash'))} is not the last entry's "
            f"content_hash ({show(last_hash)})",
        ))
    count = head.get("event_count")
    if type(count) is not int:
        problems.append((
            "/chain_head/event_count",
            f"chain_head.event_count is {type_name(count)}, not an integer",
        ))
    elif count != length:
        problems.append((
            "/chain_head/event_count",
            f"chain_head.event_count is {show(count)}, but the chain has {length} entries",
        ))
    return first_problem(
        NAME,
        problems,
        f"{length} entries hash-linked from genesis to chain head {last_hash}",
        code="chain_broken",
        entry_problems=links.found,
        chain_head=last_hash,
        event_count=length,
    )


CHECK = Check(
    NAME, run, "hash links and content hashes from genesis to the chain head", Links,
    codes={
        "ok": (Outcome.PASS, "every entry links to the one before and states its own content hash"),
        "chain_broken": (Outcome.FAIL, "a hash link, content hash, artifact_sequence or the "
                                       "chain head's hash or count does not hold"),
    },
)
