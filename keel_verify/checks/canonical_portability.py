"""``canonical_portability``: the artifact stays inside the domain where the Keel canonical
form equals RFC 8785 (JCS) output (docs/format.md §1, §9.6).

Outside it -- floating-point numbers, integers beyond +/-(2^53-1), object keys outside the
Basic Multilingual Plane -- the artifact still verifies under the Keel profile, but a
verifier built on a JCS library in another language would compute different bytes (or
refuse the input). That is a portability finding, so it is a warning naming each member,
never a failure.
"""

from __future__ import annotations

import heapq
import re

from keel_verify.checks.base import Check, passed, warned
from keel_verify.checks.binding_support import MAX_LISTED, text
from keel_verify.checks.entry_problems import ChunkLocalVisitor, count_details, more_text
from keel_verify.context import CheckContext
from keel_verify.crypto.canonical import float_divergences, jcs_divergence_summary
from keel_verify.load.chainpass import Chunk
from keel_verify.load.loader import FLOATS_LOCATED, Artifact
from keel_verify.results import CheckResult, Outcome

NAME = "canonical_portability"

_TOKEN = re.compile(r"/([^/]*)")

assert MAX_LISTED <= FLOATS_LOCATED  # a float member's located floats fill the listing


def _document_order(pointer: str) -> list[tuple[int, int, str]]:
    """Sort key: array indices numerically, member names as text."""
    key: list[tuple[int, int, str]] = []
    for token in _TOKEN.findall(pointer):
        if token.isascii() and token.isdigit() and len(token) < 19:
            key.append((0, int(token), ""))
        else:
            key.append((1, 0, token))
    return key


def _short(what: str) -> str:
    return what if len(what) <= 100 else what[:60] + "..." + what[-30:]


class Divergences(ChunkLocalVisitor):
    """Folds over the chain: values outside the JCS domain, looking only at chunks the
    pass could not prove clean (see :class:`keel_verify.load.chainpass.Chunk`)."""

    def __init__(self, _artifact: Artifact) -> None:
        super().__init__()

    def unchanged_by(self, chunk: Chunk) -> bool:
        """Whether visiting ``chunk``, or any part of it, changes nothing here: it is
        proven within the domain (see :class:`keel_verify.load.chainpass.EntryVisitor`)."""
        return chunk.within_jcs

    def visit(self, chunk: Chunk) -> None:
        if self.unchanged_by(chunk):
            return
        found = self.found
        if chunk.floats_only and chunk.twin is not None:
            # Proven: its floats are all it has outside the domain. Counted, and only the
            # first few still listed are looked for (by comparing with the twin).
            room = MAX_LISTED - len(found.listed)
            if room > 0:
                found.listed.extend(float_divergences(chunk.entries, chunk.twin, "/chain", room,
                                                      first_index=chunk.first))
            found.count += chunk.floats
            return
        for offset, entry in enumerate(chunk.entries):
            count, first = jcs_divergence_summary(
                entry, f"/chain/{chunk.first + offset}", MAX_LISTED - len(found.listed)
            )
            found.count += count
            found.listed.extend(first)


def run(context: CheckContext) -> CheckResult:
    artifact = context.artifact
    chain: Divergences = context.chain.visitor(NAME)
    total = chain.found.count
    # The chain's entries were looked at in the pass; the rest of the document here.
    rest = artifact.document
    if artifact.chain is not None and "chain" in rest:
        rest = {k: v for k, v in rest.items() if k != "chain"}

    # A hostile artifact may hold millions of floats: they are counted, and only the first
    # few (in document order) are described. What was proven while decoding
    # (keel_verify.load.loader) is not looked at again: members inside the domain have
    # nothing to find, and a member whose floats are proven its only divergences has them
    # counted and its first ones located already.
    counted = {key: member for key, member in artifact.float_members.items() if member.floats_only}
    count, found = 0, list[tuple[str, str]]()
    if not artifact.document_within_jcs:
        looked = {key: value for key, value in rest.items()
                  if key not in artifact.jcs_members and key not in counted}
        count, found = jcs_divergence_summary(looked, "", MAX_LISTED)
    for member in counted.values():
        count += member.floats
        found.extend(member.located)
    total += count
    first = heapq.nsmallest(MAX_LISTED, [*found, *chain.found.listed],
                            key=lambda f: _document_order(f[0]))
    if not first:
        return passed(NAME, "within the RFC 8785 (JCS) domain: a JCS verifier computes the "
                            "same bytes")
    listed = [{"pointer": pointer, "warning": _short(what)} for pointer, what in first]
    pointer, what = first[0]
    more = more_text(total, chain.found, "values outside the domain")
    return warned(
        NAME,
        f"{_short(what)} at {text(pointer or '/', 200)}: outside the RFC 8785 (JCS) domain, so a "
        f"JCS-based verifier would compute different canonical bytes{more}",
        pointer,
        code="outside_jcs",
        warnings=listed,
        **count_details(total, chain.found, "warning"),
    )


CHECK = Check(
    NAME, run, "values stay where the canonical form equals RFC 8785 (JCS)", Divergences,
    codes={
        "ok": (Outcome.PASS, "every value is in the RFC 8785 (JCS) domain"),
        "outside_jcs": (Outcome.WARN, "a value lies outside the RFC 8785 (JCS) domain: a JCS "
                                      "verifier would compute other canonical bytes"),
    },
)
