"""Chain entries decoded a part at a time, each part within the value limit
(:data:`keel_verify.load.budget.MAX_VALUES`; docs/format.md §11, "Input limits").

The chain pass decodes entries by chunks of a fixed number of entries, which bounds
memory only while entries are small: 512 entries of 250,000 zeros each are 128 million
values. So a run of entries is decoded in consecutive parts, each bounding at most the
limit's values (the sum of its entries' bounds), and a single entry that bounds more by
itself is refused (:class:`keel_verify.load.budget.TooManyValues`, naming it).

Counting costs a scan of the bytes, so it is done only where a part could be over the
limit: an entry's bound (:func:`keel_verify.load.budget.value_bound`) is at most one more
than its length, so a run whose lengths sum (with one per entry) to at most the limit is
one part, with nothing counted; an entry shorter than the limit is taken at that bound
(``1 + len``, an over-count); only an entry of at least the limit's bytes is counted,
a block at a time, stopping once over.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from keel_verify.load import budget

#: A long entry is counted this many bytes at a time, stopping once it is over the limit.
COUNT_BLOCK_BYTES = 1 << 22

#: A part: (start, stop, bound) -- the entries ``start`` to ``stop`` of a run (a slice's
#: bounds) and an upper bound of the values they hold.
Part = tuple[int, int, int]


class InParts(ValueError):
    """A run of entries asked for at once that must be decoded in ``parts`` (see
    :func:`parts`; none of its entries is over the limit by itself): raised before
    anything of it is decoded."""

    def __init__(self, found: list[Part]) -> None:
        super().__init__("entries over the value limit together are read in parts")
        self.parts = found


def counted_bound(raw: Any, limit: int) -> int:
    """:func:`keel_verify.load.budget.value_bound` of the bytes ``raw`` (bytes, or any
    object with the buffer protocol, e.g. a ``msgspec.Raw``), counted a block at a time;
    once the count passes ``limit`` it stops there and returns a number above ``limit``."""
    view = memoryview(raw)
    total = 1
    for offset in range(0, len(view), COUNT_BLOCK_BYTES):
        total += budget.marks_in(view[offset : offset + COUNT_BLOCK_BYTES])
        if total > limit:
            break
    return total


def refused(index: int, limit: int) -> budget.TooManyValues:
    """The error for chain entry ``index`` bounding more than ``limit`` values."""
    return budget.TooManyValues(budget.too_many_values(f"chain entry {index}", limit))


def parts(raw_items: Sequence[Any], first: int) -> list[Part]:
    """Consecutive parts covering ``raw_items`` (the bytes of chain entries ``first``
    on, e.g. ``msgspec.Raw`` slices), in order, each as long as the limit allows: the
    sum of its entries' bounds at most :data:`keel_verify.load.budget.MAX_VALUES` (read
    at each call). One part, with nothing counted, when the lengths alone prove that.
    Raises :class:`keel_verify.load.budget.TooManyValues` (a LoadError) for the first
    entry whose bytes bound more values than the limit."""
    limit = budget.MAX_VALUES
    cheap = sum(map(len, raw_items)) + len(raw_items)
    if cheap <= limit:
        return [(0, len(raw_items), cheap)]
    sizes = list(map(len, raw_items))
    found: list[Part] = []
    start = held = 0
    for index, size in enumerate(sizes):
        bound = size + 1 if size < limit else counted_bound(raw_items[index], limit)
        if bound > limit:
            raise refused(first + index, limit)
        if held + bound > limit and index > start:
            found.append((start, index, held))
            start, held = index, 0
        held += bound
    found.append((start, len(sizes), held))
    return found


def check(raw_items: Sequence[Any], first: int) -> None:
    """Raise :class:`keel_verify.load.budget.TooManyValues` for an entry of ``raw_items``
    (chain entries ``first`` on) over the value limit by itself, :class:`InParts` when
    they are over it together; return when they may be decoded at once."""
    found = parts(raw_items, first)
    if len(found) > 1:
        raise InParts(found)


__all__ = ["COUNT_BLOCK_BYTES", "InParts", "Part", "check", "counted_bound", "parts",
           "refused"]
