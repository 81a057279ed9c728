"""Objects written in the profile's member order by sorting bytes (docs/format.md §1).

The profile sorts an object's members by name in code-point order. msgspec's sorted
encoder does that in C, and on most objects it is the fastest way; but on a wide object
whose names come in a few ascending runs that interleave once sorted (``m0``, ``m1``, ...
``m999999``: 7 runs) its sort is slow: about 540 ns a member at 10^6 members, against
260 for sorted names and 400 for scattered ones (measured). For an object of scalar
values there is another exact way: encode it once in insertion order, cut the text into
members at ``,"`` and sort the pieces as bytes, with Python's sort, which merges runs
cheaply: about 80 ns a member for those names, but 180 for sorted ones and 250-680 for
scattered ones (the same measurements). So :class:`WideObjectWriter` takes the cut only
for an object of at least :data:`WIDE_OBJECT_MEMBERS` members whose names, in insertion
order, descend at least once and at most :data:`MOST_DESCENTS` times (:func:`few_runs`,
which stops counting there): everywhere else msgspec's sort is as cheap or cheaper.

Why it is exact (:func:`cut_members`, :func:`names_sort_as_bytes`): each member of an
object whose values are all scalars is written ``"name":value``, and ``,"`` occurs
between each two of them; elsewhere only where a string ends with a comma (inside a
string a quote is always escaped), so when it occurs one time less than there are
members, it occurs nowhere else. When no name is written with an escape, a space or a
"!", its bytes are its UTF-8 bytes, each above the closing quote, so the bytes of
``name":value`` sort as the names do by code point (UTF-8 keeps code-point order), and
a name that is a prefix of another sorts first because ``"`` is below every byte of the
longer name.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from itertools import compress, count, islice
from typing import Any

from keel_verify.load import accel

try:
    from msgspec import Raw
except ImportError:  # pragma: no cover - exercised by installing without msgspec
    Raw = None  # type: ignore[assignment,misc]

#: Bytes whose presence in the encoded names rules out sorting members by their bytes:
#: every escape starts with a backslash; space and "!" are the only characters written
#: as they are that sort below the closing quote.
NAME_BYTES_BELOW_QUOTE = (b"\\", b" ", b"!")

#: The value types the plain encoder writes as the profile does: strings, integers,
#: booleans and null (a float is not: msgspec's float text is not always Python's repr).
SCALARS: frozenset[type] = frozenset({str, int, bool, type(None)})
#: ... and a twin's floats, each a ``msgspec.Raw`` of its profile text.
_TWIN_SCALARS: frozenset[type] = SCALARS if Raw is None else SCALARS | {Raw}
_CONTAINERS = frozenset({dict, list})

#: An object of at least this many members may be written by :class:`WideObjectWriter`'s
#: cut and sort: below it, msgspec's sorted encoder costs about as much a member even on
#: few runs (78 against 77 ns at 2^16, the count of descents included), and finding such
#: objects would cost more than it saves.
WIDE_OBJECT_MEMBERS = 1 << 17

#: :func:`few_runs` takes an object's names for a few runs when they descend at least
#: once (sorted names are msgspec's best case) and at most this many times.
MOST_DESCENTS = 16

#: Each member takes at least 5 bytes of JSON text (``"":0`` and a comma or a brace).
MEMBER_MIN_BYTES = 5


def names_sort_as_bytes(names: list[str]) -> bool:
    """True when no name is written with an escape, a space or a "!": then the bytes of
    each ``name":value`` sort as the names do by code point."""
    written = accel.plain_encoder()(names)
    return not any(map(written.__contains__, NAME_BYTES_BELOW_QUOTE))


def cut_members(members: dict[str, Any], written: bytes | None = None) -> list[bytes] | None:
    """``name":value`` (the member less its opening quote) for each member of ``members``,
    whose values are all scalars, in insertion order, cut from one encoding of the
    object (``written``: that encoding, when made already); None when a string (name or
    value) ends with a comma, so that a cut may fall inside a member."""
    if written is None:
        written = accel.plain_encoder()(members)
    pieces = written.split(b',"')  # cut as it is: no copy of it
    if len(pieces) != len(members):
        return None
    pieces[0] = pieces[0][2:]  # '{"' cut off
    pieces[-1] = pieces[-1][:-1]  # '}' cut off (from the same piece when it is the only one)
    return pieces


#: Pieces joined at once by :func:`joined_members`: ``bytes.join`` takes a buffer view of
#: every piece first (some 80 bytes each), so a million pieces joined at once cost 80 MiB
#: and four times the time.
JOINED_AT_ONCE = 1 << 14


def joined_members(pieces: list[bytes]) -> bytes:
    """``pieces`` joined at ``,"`` (as :func:`cut_members` cut them), a slice at a time."""
    if len(pieces) <= JOINED_AT_ONCE:
        return b',"'.join(pieces)
    return b',"'.join([b',"'.join(pieces[start : start + JOINED_AT_ONCE])
                       for start in range(0, len(pieces), JOINED_AT_ONCE)])


def sorted_as_bytes(value: dict[str, Any], kinds: frozenset[type] = SCALARS,
                    written: bytes | None = None) -> bytes | None:
    """The profile's canonical bytes of the object ``value``, written by cutting and
    sorting (see the module docstring); None when that is not proven: fewer than two
    members, a value whose type is not in ``kinds``, a name written with an escape, a
    space or a "!", or a string ending with a comma. ``kinds`` may add ``msgspec.Raw`` for
    a twin's floats (:func:`keel_verify.load.accel.read_floats`), each written as its
    profile text, which holds neither a comma nor a quote. ``written``: its encoding in
    insertion order (msgspec's plain encoder), when made already."""
    if len(value) < 2 or not set(map(type, value.values())) <= kinds:
        return None
    if written is None:
        written = accel.plain_encoder()(value)
    # Names are looked at alone only when the whole text holds a byte that rules them out.
    if (any(map(written.__contains__, NAME_BYTES_BELOW_QUOTE))
            and not names_sort_as_bytes(list(value))):
        return None
    pieces = cut_members(value, written)
    if pieces is None:
        return None
    pieces.sort()
    pieces[-1] += b"}"  # the braces put back on the end pieces, not on the joined text
    pieces[0] = b'{"' + pieces[0]
    return joined_members(pieces)


def few_runs(value: dict[str, Any]) -> bool:
    """Whether the object's names, in insertion order, descend at least once and at most
    :data:`MOST_DESCENTS` times: a few ascending runs, on which the cut and sort is
    cheaper than msgspec's sort (see the module docstring). Counted in C, and only up to
    the first descent past that many (scattered names stop it within a few dozen). A
    choice between two exact ways, never a proof."""
    descents = compress(count(), map(operator.gt, value, islice(value, 1, None)))
    found = list(islice(descents, MOST_DESCENTS + 1))
    return 1 <= len(found) <= MOST_DESCENTS


def may_hold_wide_object(text: bytes | memoryview) -> bool:
    """Whether the JSON text ``text`` may hold an object of :data:`WIDE_OBJECT_MEMBERS`
    members, at any depth. False is a proof, on its length (each member takes
    :data:`MEMBER_MIN_BYTES` bytes at least) or on its colons (each member is written with
    one; colons inside strings only add to the count). A memoryview is judged on its
    length alone."""
    if len(text) < MEMBER_MIN_BYTES * WIDE_OBJECT_MEMBERS:
        return False
    return not isinstance(text, bytes) or text.count(b":") >= WIDE_OBJECT_MEMBERS


def entries_may_hold_wide_object(raw_items: Sequence[Any]) -> bool:
    """:func:`may_hold_wide_object` for raw slices of chain entries (msgspec.Raw): a wide
    object lies within one entry, so only the entries long enough for one are counted
    (their lengths read in C; such an entry is copied to count its colons)."""
    least = MEMBER_MIN_BYTES * WIDE_OBJECT_MEMBERS
    if max(map(len, raw_items), default=0) < least:
        return False
    return any(may_hold_wide_object(bytes(raw)) for raw in raw_items if len(raw) >= least)


#: Containers below an entry are looked into down to this depth; deeper ones are written
#: by ``write`` as they are (a wide object there at msgspec's cost): the walk is
#: recursive, and the input's own limit (128 levels) can be raised by the caller.
MAX_WALK_DEPTH = 32
#: The walk below an entry encodes its containers' children in insertion order, in C, to
#: tell which may hold a wide object: at most this many times the entry's own encoding in
#: all (so a deep nest of single children, each long, costs a few encodings of the
#: entry, not one for each level), beyond which the rest is written by ``write``.
WALK_BUDGET = 4


class WideObjectWriter:
    """``write`` (msgspec's sorted encoder, on chain entries or on a twin of them), with
    wide objects written by the cut and sort where that pays: each object of
    :data:`WIDE_OBJECT_MEMBERS` or more members, at any depth, whose values are all
    scalars or ``msgspec.Raw`` and whose names come in few runs (:func:`few_runs`), is
    written by :func:`sorted_as_bytes` and handed to ``write`` as a ``msgspec.Raw`` of
    those bytes, in a copy of the containers above it (the entry itself, which visitors
    may hold, is never changed); everything else is written by ``write``.

    Called on each entry of a chunk that :func:`may_hold_wide_object` did not rule out.
    An entry, and below it each container child, is looked into only when its own
    insertion-order encoding (msgspec, in C) is long enough and holds colons enough for
    a wide object: one Python step for each such container (and for a container's only
    container child, which is not encoded), and one encoding in C of each container
    child of one that has several, within :data:`WALK_BUDGET` times the entry's encoding
    and :data:`MAX_WALK_DEPTH` levels.

    The bytes are ``write``'s own: msgspec's two encoders write a scalar and a Raw alike,
    the cut is exact whatever a Raw holds (see the module docstring), and ``write`` writes
    a Raw as it is, where it would have written the object's canonical bytes."""

    __slots__ = ("budget", "kinds", "plain", "write")

    def __init__(self, write: Callable[[Any], bytes]) -> None:
        self.write = write
        self.plain = accel.plain_encoder()
        self.kinds = _TWIN_SCALARS
        self.budget = 0  # bytes the walk below the entry being written may still encode

    def __call__(self, value: Any) -> bytes:
        if type(value) in _CONTAINERS:
            written = self.plain(value)
            if may_hold_wide_object(written):
                self.budget = WALK_BUDGET * len(written)
                value = self.cut_inside(value, written, 0)
            del written
        return self.write(value)

    def cut_inside(self, value: Any, written: bytes | None, depth: int) -> Any:
        """``value`` (a container that may hold a wide object; ``written``: its
        insertion-order encoding, None when not made), or a copy of it along the paths
        to its wide objects with each of them a ``msgspec.Raw`` of its canonical bytes;
        ``value`` itself when none is found (or taken)."""
        if type(value) is dict and len(value) >= WIDE_OBJECT_MEMBERS and few_runs(value):
            cut = sorted_as_bytes(value, self.kinds, written)
            if cut is not None:
                return Raw(cut)
        # No bracket in its text but its own: no container below it (in C, not a look
        # at each value; a bracket inside a string only costs the look).
        if (depth >= MAX_WALK_DEPTH or self.budget <= 0 or (written is not None
                and written.count(b"{") + written.count(b"[") == 1)):
            return value
        places = list(value) if type(value) is dict else range(len(value))
        children = list(map(value.__getitem__, places))
        kinds = map(_CONTAINERS.__contains__, map(type, children))
        at = list(compress(range(len(children)), kinds))
        held: list[tuple[int, bytes | None]]
        if len(at) == 1:
            # Its one container child may hold what it may (a nest of single children
            # costs a step each, no encoding).
            held = [(at[0], None)]
        else:
            # The container children that may hold one, told in C by their own
            # encodings; the others' encodings let go before any is looked into.
            texts = list(map(self.plain, map(children.__getitem__, at)))
            self.budget -= sum(map(len, texts))
            held = list(compress(zip(at, texts, strict=True),
                                 map(may_hold_wide_object, texts)))
            del texts
            held.reverse()
        changed: dict[Any, Any] = {}
        while held:
            index, text = held.pop()
            child = children[index]
            cut_child = self.cut_inside(child, text, depth + 1)
            del text
            if cut_child is not child:
                changed[places[index]] = cut_child
        if not changed:
            return value
        copy = value.copy()  # insertion order kept: ``write`` sorts it
        for place, cut_child in changed.items():
            copy[place] = cut_child
        return copy

