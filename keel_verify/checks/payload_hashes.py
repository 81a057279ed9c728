"""``payload_hashes``: each chain entry's payload hash (docs/format.md §2, §5, §9.4).

* v1 embeds the event payload: ``canonicalized_payload_hash`` must be
  ``H(C(canonicalized_payload))``, recomputed here (the reference verifier does not).
* v3 is hash-only: an entry carries no ``canonicalized_payload``, says
  ``payload_materialization: "hash_only"``, and its ``canonicalized_payload_hash`` is a
  well-formed ``sha256:`` hash. The payload itself is not in the artifact, so its hash is
  carried (and covered by the entry's content hash and the signature), not recomputed.
"""

from __future__ import annotations

import operator
from hashlib import sha256
from itertools import repeat
from operator import methodcaller
from typing import Any

from keel_verify.checks.base import Check, chain_length
from keel_verify.checks.binding_support import Problems, problems_then_warnings, show
from keel_verify.checks.entry_problems import ChunkLocalVisitor
from keel_verify.context import CheckContext
from keel_verify.crypto.canonical import canonical_hash
from keel_verify.load.access import all_tagged_hashes, is_tagged_hash, type_name
from keel_verify.load.chainpass import Chunk
from keel_verify.load.loader import Artifact
from keel_verify.results import CheckResult, Outcome, member

NAME = "payload_hashes"

HASH_ONLY = "hash_only"


def _embedded_problems(index: int, entry: dict[str, Any], problems: Problems) -> None:
    where = f"/chain/{index}"
    label = f"chain entry {index}"
    if entry.get("payload_materialization") == HASH_ONLY:
        problems.append((
            f"{where}/payload_materialization",
            f"{label} says payload_materialization \"hash_only\", but schema_version 1 embeds "
            "the payload",
        ))
    if "canonicalized_payload" not in entry:
        problems.append((
            f"{where}/canonicalized_payload",
            f"{label} has no canonicalized_payload: schema_version 1 embeds it",
        ))
        return
    stated = member(entry, "canonicalized_payload_hash")
    recomputed = canonical_hash(entry["canonicalized_payload"])
    if stated != recomputed:
        problems.append((
            f"{where}/canonicalized_payload_hash",
            f"{label} canonicalized_payload_hash {show(stated)} is not the hash of its "
            f"canonicalized_payload (recomputed {recomputed})",
        ))


def _hash_only_problems(index: int, entry: dict[str, Any], problems: Problems) -> None:
    where = f"/chain/{index}"
    label = f"chain entry {index}"
    if "canonicalized_payload" in entry:
        problems.append((
            f"{where}/canonicalized_payload",
            f"{label} embeds canonicalized_payload, but schema_version 3 is hash-only",
        ))
    materialization = member(entry, "payload_materialization")
    if materialization != HASH_ONLY:
        problems.append((
            f"{where}/payload_materialization",
            f"{label} payload_materialization is {show(materialization)}, expected \"hash_only\"",
        ))
    stated = member(entry, "canonicalized_payload_hash")
    if not is_tagged_hash(stated):
        problems.append((
            f"{where}/canonicalized_payload_hash",
            f"{label} canonicalized_payload_hash {show(stated)} is not 'sha256:' followed by "
            "64 lowercase hex digits",
        ))


def _hash_only_chunk_is_sound(chunk: Chunk) -> bool:
    """The common v3 case, judged with list operations."""
    entries = chunk.entries
    hashes = chunk.column("canonicalized_payload_hash")
    return (
        all_tagged_hashes(hashes)
        and chunk.column("payload_materialization").count(HASH_ONLY) == len(entries)
        and not any(map(operator.contains, entries, repeat("canonicalized_payload")))
    )


def _embedded_chunk_is_sound(chunk: Chunk) -> bool:
    """The common v1 case, judged with list operations: every payload embedded, none
    declared hash-only, and every stated hash the recomputed one."""
    entries = chunk.entries
    if (not all(map(operator.contains, entries, repeat("canonicalized_payload")))
            or chunk.column("payload_materialization").count(HASH_ONLY)):
        return False
    digests = map(_hexdigest, map(sha256, chunk.encoded_column("canonicalized_payload")))
    recomputed = ["sha256:" + digest for digest in digests]
    return recomputed == chunk.column("canonicalized_payload_hash")


_ABSENT: Any = object()
_hexdigest = methodcaller("hexdigest")


class Payloads(ChunkLocalVisitor):
    """Folds over the chain: each entry's payload form and hash."""

    def __init__(self, artifact: Artifact) -> None:
        self.hash_only = artifact.is_hash_only
        super().__init__()

    def visit(self, chunk: Chunk) -> None:
        if chunk.objects and (_hash_only_chunk_is_sound(chunk) if self.hash_only
                              else _embedded_chunk_is_sound(chunk)):
            return
        first, entries = chunk.first, chunk.entries
        hash_only = self.hash_only
        for offset, entry in enumerate(entries):
            if (hash_only and type(entry) is dict and "canonicalized_payload" not in entry
                    and entry.get("payload_materialization") == HASH_ONLY
                    and is_tagged_hash(entry.get("canonicalized_payload_hash"))):
                continue  # the common v3 case, fast
            found: Problems = []
            index = first + offset
            if not isinstance(entry, dict):
                found.append((f"/chain/{index}",
                              f"chain entry {index} is {type_name(entry)}, not an object"))
            elif hash_only:
                _hash_only_problems(index, entry, found)
            else:
                _embedded_problems(index, entry, found)
            self.found.extend(found)


def run(context: CheckContext) -> CheckResult:
    artifact = context.artifact
    length = chain_length(artifact)
    payloads: Payloads = context.chain.visitor(NAME)
    if artifact.is_hash_only:
        ok_reason = (
            f"{length} entries are hash-only (payload_materialization \"hash_only\") with "
            "well-formed sha256 payload hashes; the payloads are not embedded, so their hashes "
            "are carried, not recomputed"
        )
    else:
        ok_reason = (
            f"{length} embedded payloads hash to their canonicalized_payload_hash "
            "(recomputed)"
        )
    return problems_then_warnings(
        NAME, list(payloads.found.listed), [], ok_reason, code="hash_mismatch",
        entry_problems=payloads.found,
        entries=length,
        recomputed=not artifact.is_hash_only,
    )


CHECK = Check(
    NAME, run, "v1 payload hashes recomputed; v3 entries hash-only and well-formed", Payloads,
    codes={
        "ok": (Outcome.PASS, "v1 payload hashes recompute; v3 entries are hash-only and well-formed"),
        "hash_mismatch": (Outcome.FAIL, "a payload hash does not recompute, or a v3 entry is not "
                                        "hash-only and well-formed"),
    },
)
