"""The problems a check finds on chain entries, and the bound on how many it looks for.

A chain of a million bad entries gives a million problems per check, yet a report shows
the first :data:`MAX_LISTED` and the verdict is FAILED after the first one. So every
chain visitor keeps its problems in an :class:`EntryProblems`: all counted, only the
first :data:`MAX_LISTED` kept (the only ones worded in a report), and once
:data:`MAX_ENTRY_PROBLEMS` are counted the check examines no later chunk of entries.

The chain pass asks :meth:`EntryProblems.stops_before` at each chunk boundary, in chain
order, and feeds a stopped visitor nothing more (:mod:`keel_verify.load.chainpass`). It
decides from the problems found in whole chunks before the boundary only, so a pass done
in one process, one shared with a worker (:mod:`keel_verify.load.shards`) and the exact
path all stop at the same entry and report the same. A check that stopped says so: its
problem count is then a lower bound (:func:`count_details`, :func:`more_text`).
"""

from __future__ import annotations

from typing import Any

Problems = list[tuple[str, str]]  # (JSON Pointer, problem)

#: Problems kept in full (worded) per check; the rest are counted.
MAX_LISTED = 50

#: Problems found on chain entries after which a check examines no later chunk of entries
#: (the verdict is FAILED already; the count reported is then a lower bound).
MAX_ENTRY_PROBLEMS = 1000


class EntryProblems:
    """One check's problems on chain entries: counted, the first :data:`MAX_LISTED` kept,
    and where the check stopped examining (``stopped_at``: the first entry not examined;
    None when every entry was)."""

    def __init__(self) -> None:
        self.listed: Problems = []
        self.count = 0
        self.stopped_at: int | None = None

    @property
    def full(self) -> bool:
        """No room left for another worded problem (a caller may then skip wording it)."""
        return len(self.listed) >= MAX_LISTED

    def add(self, pointer: str, problem: str) -> None:
        self.count += 1
        if len(self.listed) < MAX_LISTED:
            self.listed.append((pointer, problem))

    def extend(self, found: Problems) -> None:
        self.count += len(found)
        self.listed.extend(found[: max(0, MAX_LISTED - len(self.listed))])

    def stops_before(self, first: int) -> bool:
        """True when no chunk from chain entry ``first`` on is to be examined: enough
        problems were found in the chunks before it. Asked at each chunk boundary in order;
        the first True records ``first`` as where the check stopped."""
        if self.stopped_at is None and self.count >= MAX_ENTRY_PROBLEMS:
            self.stopped_at = first
        return self.stopped_at is not None

    def absorb(self, later: EntryProblems) -> None:
        """Take in the problems of the chunk after ours (never once stopped: the pass feeds
        a stopped check nothing, and this keeps it so)."""
        if self.stopped_at is not None:
            return
        self.count += later.count
        self.listed.extend(later.listed[: max(0, MAX_LISTED - len(self.listed))])

    @property
    def unlisted(self) -> int:
        return self.count - len(self.listed)


class EntryVisitor:
    """What every check's chain-entry visitor shares: its problems on entries (``found``)
    and the stop the chain pass asks for at each chunk boundary."""

    def __init__(self) -> None:
        self.found = EntryProblems()

    def stops_before(self, first: int) -> bool:
        return self.found.stops_before(first)


class ChunkLocalVisitor(EntryVisitor):
    """A visitor whose result for a chunk depends on no state carried in from the chunk
    before, so a shard worker (:mod:`keel_verify.load.shards`) needs no seed. A visitor
    that collects more than problems extends :meth:`absorb` and calls it last."""

    def carried(self) -> object:
        return None

    def seed(self, previous: Any) -> None:
        pass

    def absorb(self, later: Any) -> None:
        self.found.absorb(later.found)


def more_text(total: int, entries: EntryProblems | None = None, noun: str = "problems") -> str:
    """What follows the first of ``total`` problems in a reason: ``" (and 3 more)"``, or,
    when ``entries`` stopped early, that the count is a lower bound and where it stopped."""
    if entries is not None and entries.stopped_at is not None:
        return (f" (and at least {total - 1} more; stopped examining chain entries after "
                f"{entries.count} {noun}, at chain entry {entries.stopped_at})")
    return f" (and {total - 1} more)" if total > 1 else ""


def count_details(total: int, entries: EntryProblems | None = None,
                  noun: str = "problem") -> dict[str, Any]:
    """The details members that count: ``<noun>_count``, ``<noun>_count_is_lower_bound``
    and, when the check stopped early, ``entries_examined`` (the first that many chain
    entries were examined, the rest not)."""
    stopped = entries is not None and entries.stopped_at is not None
    details: dict[str, Any] = {f"{noun}_count": total, f"{noun}_count_is_lower_bound": stopped}
    if entries is not None and entries.stopped_at is not None:
        details["entries_examined"] = entries.stopped_at
    return details
