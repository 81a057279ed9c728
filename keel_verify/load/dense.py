"""Dense chains: millions of tiny entries, read window by window.

The fast loader keeps an ordinary chain as one raw slice (a ``msgspec.Raw``, about 56
bytes with its list slot) per entry, which costs a few percent of a real entry (hundreds
of bytes). A chain of ``0``, ``{}`` or ``"x"`` entries (2 to 4 bytes each with the
comma) would cost 15-30 times its own bytes that way. Such a chain is *dense*: its
entries are never held all at once; its bytes are cut into windows of about
:data:`WINDOW_BYTES` at entry boundaries, each window is decoded straight to values, and
the values are handed to the chain pass in chunks of exactly the pass's size, the
remainder carried across windows -- so the chunks, and every decision the pass takes at
their boundaries, are the ones the raw slices give.

Density is decided from bytes alone: a chain has at most ``commas + 1`` entries, so a
chain with at least :data:`DENSE_BYTES_PER_COMMA` bytes per comma keeps its raw slices
within a few times its own size. Emitted chains have 44-56 bytes per comma (compact and
pretty), a chain of one real turn entry repeated 29, objects of short wrong-typed
members 23; the chains of tiny values 2-5.

Why a cut is an entry boundary
------------------------------
A window is the text between a proven boundary ``a`` (just after the opening bracket,
or just after a comma proven to separate two entries) and a comma ``c``, between
brackets: ``b"[" + span[a:c] + b"]"``. JSON's grammar reads that text from the same
state the whole document is in at ``a``: expecting an entry. So the reader is, at
``c``, in the state the whole document's reader is in at ``c``. If that text decodes as
an array, the added ``]`` closed the array opened by the added ``[``: at ``c`` the reader
had just finished an entry, with nothing else open, so the comma at ``c`` separates two
entries. If instead ``c`` lies inside a string (a ``,`` ``]`` or ``[`` in it, an escaped
quote before it), the added ``]`` is a character of that string, which stays open; if
``c`` lies inside a nested array or object, at least that container and the outer array
are open and one ``]`` closes at most one of them (and none of an object): either way
the text does not decode. A window that decodes to no entry at all (whitespace between
two commas, which valid JSON never has) is not taken as a cut either.

A failed cut (a comma inside an entry: an object of several members, an array of several
items) is tried once more at the comma where the entry holding it seems to end
(:func:`_entry_end_after`: whole entries passed over from the window's start by msgspec
in C, up to :data:`ENTRY_SKIPS` of them, else a scan from the cut that skips strings and
counts brackets; only a guess, which the decoding proves or refutes as above). Once a
guess held, the following windows are cut at the guess first. When a guess fails, or its
search gives up (after :data:`ENTRY_END_SEARCH_TOKENS` steps at each reach), the cut is
tried at a farther comma, the distance doubling each time, so the bytes decoded for one
window stay below eight times its final size, and a window outgrows :data:`WINDOW_BYTES`
only by the entry that straddles it. (Doubling alone would let a chain of objects of two
members, whose every other comma is a boundary, grow its windows without bound: each
failed cut doubled the next window.) Content that no cut can make decodable (bytes only
the exact path judges) reaches the end of the chain and goes to the exact path, as a
chunk holding it does on the raw path.

Each window is decoded by the typed item decoder, which proves at C speed what the raw
path's chunk decode proves (no float, JCS-safe integers, bounded nesting); a window it
refuses is read as raw slices (for that window only) and decoded chunk by chunk exactly
as the raw path does (:func:`keel_verify.load.loader.decode_raw_chunk`), floats and all.
"""

from __future__ import annotations

import contextlib
import operator
import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain, repeat
from typing import Any, NamedTuple

from keel_verify.gc_pause import collector_paused
from keel_verify.load import accel, budget, entry_parts, member_sort
from keel_verify.load.loader import DecodedChunk, NeedsExactPath, decode_raw_chunk

#: A chain with fewer bytes than this per comma is read as a dense chain (see above):
#: on the raw path its slices (56 bytes an entry) then cost at most 3.5 times its bytes.
DENSE_BYTES_PER_COMMA = 16
#: Nor is a chain smaller than this worth counting commas for: its raw slices are small
#: in absolute terms whatever its density.
MIN_DENSE_BYTES = 1 << 20
#: Bytes of the chain decoded at a time (the first cut is tried at the first comma after
#: this many bytes). A window's values are still in the processor's caches when they are
#: encoded and visited: 10^7 mixed tiny entries take 7% less time than in windows of a
#: MiB (windows of 128 or 512 KiB gained less).
WINDOW_BYTES = 1 << 18

_EMPTY = re.compile(rb"\[[ \t\r\n]*\]")  # an empty array (RFC 8259 whitespace)


def is_dense(span_bytes: int, commas: int) -> bool:
    """Whether a chain of ``span_bytes`` bytes holding at most ``commas`` commas (an upper
    bound is enough) is read window by window: it may hold more than one entry per
    :data:`DENSE_BYTES_PER_COMMA` bytes. (The module's limits are read at each call, so
    that tests can force either reading.)"""
    return MIN_DENSE_BYTES <= span_bytes < DENSE_BYTES_PER_COMMA * (commas + 1)


class DenseChain:
    """The chain array's bytes, read window by window (see the module docstring).

    ``span``: the chain member's value, from its ``[`` to its ``]``. What a pass learns is
    kept for later questions: the entry count once a reading reached the end, and the
    last chunk of the last reading (where a check finds the chain's last entry)."""

    def __init__(self, span: bytes, *, window_bytes: int | None = None) -> None:
        if not (span[:1] == b"[" and span[-1:] == b"]"):
            raise ValueError("a dense chain's span is a JSON array's bytes")
        self.span = span
        self.window_bytes = max(1, WINDOW_BYTES if window_bytes is None else window_bytes)
        self.length: int | None = None
        self.last_chunk: DecodedChunk | None = None
        # Whether the window _windows last gave is the chain's last (see chunks).
        self.final_window = False

    def __len__(self) -> int:
        if self.length is None:
            self.length = sum(len(entries) if raws is None else len(raws)
                              for entries, raws, _, _ in self._windows(accel.MAX_TYPED_NESTING + 2))
        return self.length

    def chunks(self, size: int, max_depth: int, most: int | None = None) -> Iterator[DecodedChunk]:
        """The entries in chunks of exactly ``size`` (the last one shorter), each decoded
        and proven as :func:`keel_verify.load.loader.decode_raw_chunk` decodes and proves
        a chunk of raw slices.

        ``most`` (a multiple of ``size``): entries of windows the typed decoder took may
        come in longer chunks, of any multiple of ``size`` up to ``most`` entries, each
        starting at a multiple of ``size`` (so that they are the chunks of ``size`` taken
        together, and a pass can still decide at every boundary of ``size``). A chunk
        holding entries of a window read as raw slices is never longer than ``size``:
        only chunks of values are grown (they are within the JCS domain, with no twin).

        Value limit (:mod:`keel_verify.load.entry_parts`): no chunk holds entries whose
        bytes bound more than :data:`keel_verify.load.budget.MAX_VALUES` values. Entries
        over it together come in consecutive parts of their chunk (a part of values may
        still span boundaries of ``size``; one holding raw-slice entries lies within one
        chunk), each decoded after the one before was handed on; an entry over it by
        itself raises LoadError. Under the limit, the chunks are the ones above."""
        most = size if most is None else most
        if most % size:
            raise ValueError("grown chunks are a whole number of chunks")
        limit = budget.MAX_VALUES
        pending: list[DecodedChunk] = []  # the start of the next chunk, from earlier windows
        held = 0
        first = 0
        windows: list[_Held] = []  # what pending holds entries of, with their bounds
        raw_held = False  # pending holds entries read as raw slices: the chunk stays at size
        last: DecodedChunk | None = None
        # One part held at a time: nothing of a window's entries is held here when the
        # next window is decoded -- the entries, their parts, and each chunk given (but the
        # last window's, for chunk_at) are let go; and what is held goes first when the
        # text about to be decoded bounds too many values with it (a part ends there, as
        # it would once that text were decoded; a part ending before a window that turns
        # out shorter only splits its chunk finer, which feeds each visitor the same).
        for item in self._windows_told(max_depth):
            if isinstance(item, _Upcoming):
                if pending and not _bound_within([*windows, item.held(self.span)], limit):
                    last = _joined(pending)
                    yield last
                    last = None
                    pending, first, held, windows, raw_held = [], first + held, 0, [], False
                continue
            entries, raw_items, uniform, this_window = item
            del item
            final = self.final_window
            at = 0
            # Proven once for the window: none of its entries holds a wide object.
            narrow = raw_items is None and not member_sort.may_hold_wide_object(this_window.text)
            count = len(entries) if raw_items is None else len(raw_items)
            boundary = (first + held) // size * size
            if raw_items is not None and boundary > first:  # end the grown chunk at a boundary
                whole = _joined(pending)
                cut = boundary - first
                last = whole if cut == held else _sliced(whole, first, 0, cut)
                yield last
                last = last if final else None
                pending = [] if cut == held else [_sliced(whole, boundary, cut, held)]
                del whole
                held, first = held - cut, boundary
                windows = windows if pending else []  # the rest's: an over-count
            while at < count:
                target = size if raw_held or raw_items is not None else most
                stop = first + target if first % size == 0 else first - first % size + size
                take = min(stop - first - held, count - at)
                given = at  # entries of this window given to ``pending`` in this step
                for low, high, window in self._pieces(raw_items, first + held, at, take,
                                                       this_window):
                    if pending and not _bound_within([*windows, window], limit):
                        # Over the value limit together: what is held goes first, a part
                        # of its chunk (the pass decides stops at chunk boundaries only).
                        last = _joined(pending)
                        yield last
                        last = last if final else None
                        pending, first, held, windows, raw_held = [], first + held, 0, [], False
                        # The next chunk starts here: its end and its share of this window
                        # are taken again from it (the ones above were the last chunk's).
                        break
                    if raw_items is None:
                        part = _value_chunk(first + held, entries[low:high], uniform, narrow)
                    else:
                        part = decode_raw_chunk(first + held, raw_items[low:high], max_depth,
                                                within_limit=True)  # by _pieces
                        raw_held = True
                    pending.append(part)
                    del part
                    held += high - low
                    windows.append(window)
                    given = high
                    if first + held == stop:
                        last = _joined(pending)
                        yield last
                        last = last if final else None
                        pending, held, windows, first, raw_held = [], 0, [], stop, False
                at = given
            del entries, raw_items, this_window
        if pending:
            last = _joined(pending)
            yield last
        self.length = first + held
        self.last_chunk = last

    @staticmethod
    def _pieces(raw_items: list[Any] | None, index: int, at: int, take: int,
                window: _Held) -> list[tuple[int, int, _Held]]:
        """The entries ``at`` to ``at + take`` of ``window`` (chain entry ``index`` on) as
        parts to decode one at a time (start, stop, what bounds their values): one for a
        window of values (decoded whole within the limit) or of raw slices whose length
        is within it (nothing counted), else as many as the value limit asks for, by the
        same rule as :func:`keel_verify.load.loader.decode_raw_chunk`
        (:func:`keel_verify.load.entry_parts.parts`, LoadError for an entry over it)."""
        # Raw slices by their length, as decode_raw_chunk bounds them (1 + each one's
        # length, summed: the window's length less its brackets, or more).
        if raw_items is None or len(window.text) - 1 <= budget.MAX_VALUES:
            return [(at, at + take, window)]  # the window's bound: an over-count for a slice
        return [(at + low, at + high, _Held(b"", bound, True)) for low, high, bound
                in entry_parts.parts(raw_items[at : at + take], index)]

    def chunk_at(self, first: int, size: int, max_depth: int) -> DecodedChunk:
        """The entries ``first`` to ``first + size`` (fewer at the end): from the last
        chunk a reading kept when it holds them, else by reading up to them."""
        last = self.last_chunk
        if last is not None and last.first <= first and first + size <= last.first + len(last.entries):
            offset = first - last.first
            return _sliced(last, first, offset, offset + size)
        taken: list[DecodedChunk] = []
        for chunk in self.chunks(size, max_depth):
            end = chunk.first + len(chunk.entries)
            if end > first and chunk.first < first + size:
                offset = max(0, first - chunk.first)
                taken.append(_sliced(chunk, chunk.first + offset, offset, first + size - chunk.first))
            if end >= first + size:
                break
        if not taken:
            return DecodedChunk(first, [])
        return _joined(taken)

    def _windows(self, max_depth: int) -> Iterator[_Window]:
        """Each window's entries (see :func:`_decode_window`)."""
        for item in self._windows_told(max_depth, announce=False):
            if not isinstance(item, _Upcoming):
                yield item
            del item

    def _windows_told(self, max_depth: int, announce: bool = True) -> Iterator[_Window | _Upcoming]:
        """:meth:`_windows`, and (``announce``), before each text is decoded as a window,
        that text (:class:`_Upcoming`)."""
        end = len(self.span) - 1  # the closing bracket
        start = 1
        if _EMPTY.match(self.span):
            return
        # Once a window's first cut failed and the guessed one held, the next windows start
        # with the guess: in a chain of comma-rich entries a blind cut mostly fails, and
        # each failure costs a decoding of the whole window.
        guess_first = False
        while start < end:
            distance = self.window_bytes
            while True:
                cut = self.span.find(b",", start + distance, end) if start + distance < end else -1
                stop = end if cut < 0 else cut
                guessed = guess_first and cut >= 0  # this cut's guess tried (and failed)
                if guessed:
                    after = _entry_end_after(self.span, start, cut, end)
                    if announce and after is not None:
                        yield _Upcoming(start, after)
                    decoded = None if after is None else self._decode(start, after, max_depth)
                    if after is not None and decoded is not None:
                        self.final_window = after + 1 >= end
                        yield decoded
                        del decoded  # let go before the next window is decoded
                        start = after + 1
                        break
                    guess_first = False
                if announce:
                    yield _Upcoming(start, stop)
                decoded = self._decode(start, stop, max_depth)
                if decoded is not None:
                    self.final_window = stop + 1 >= end
                    yield decoded
                    del decoded
                    start = stop + 1
                    break
                if stop == end:  # no cut can make it decodable: the exact path judges it
                    raise NeedsExactPath
                after = None if guessed else _entry_end_after(self.span, start, cut, end)
                if after is not None:
                    if announce:
                        yield _Upcoming(start, after)
                    decoded = self._decode(start, after, max_depth)
                    if decoded is not None:
                        self.final_window = after + 1 >= end
                        yield decoded
                        del decoded
                        start = after + 1
                        guess_first = True
                        break
                distance *= 2


    def _decode(self, start: int, stop: int, max_depth: int) -> _Window | None:
        """The window ``span[start:stop]`` (see :func:`_decode_window`). One whose bytes
        bound more values than the limit and that is a single entry (its bytes one JSON
        value) is that entry as a raw slice of the span, not copied: the caller refuses it
        (a long entry costs no second copy of its bytes)."""
        span = memoryview(self.span)
        counted = None
        if stop - start >= budget.MAX_VALUES:  # else its length bounds its values
            counted = budget.value_bound(self.span, start, stop)  # its entries' values
        if counted is not None and counted > budget.MAX_VALUES:
            with contextlib.suppress(*accel.decode_errors()):
                # ``start`` follows a boundary and ``stop`` is a comma or the closing
                # bracket, so one value there is one entry.
                one = accel.decoder("raw").decode(span[start:stop])
                return [], [one], False, _Held(span[start:stop], counted, True)
        return _decode_window(b"".join((b"[", span[start:stop], b"]")), max_depth, counted)


#: How far past a failed cut :func:`_entry_end_after` first looks for the end of the entry
#: holding it (then twice as far, and so on, to the chain's end).
ENTRY_END_SEARCH_BYTES = 1 << 16
#: At most this many strings and brackets are stepped over in that search.
ENTRY_END_SEARCH_TOKENS = 1 << 16
# The bytes the search for an entry's end stops at, once escaped quotes are blanked:
# inside an entry a bracket outside strings; between entries a quote, a bracket or a comma.
_BETWEEN = (b'"', b"[", b"]", b"{", b"}", b",")
# From a place outside any string (escaped quotes blanked): strings and other bytes, then
# the next bracket. Possessive, so that it never backtracks; matched, never searched, so
# that it never starts again further on.
_NEXT_BRACKET = re.compile(rb'(?:"[^"]*+"|[^"\[\]{}]++)*+[\[\]{}]')
_NOT_QUOTE_OR_BRACKET = bytes(sorted(set(range(256)) - set(b'"[]{}')))


def _depth(text: bytes) -> int:
    """How many arrays and objects are open at the end of ``text`` (a JSON text from
    an entry boundary, its escaped quotes blanked so that every quote delimits a string),
    counting only brackets outside strings. Kept to quotes and brackets, then rid of
    adjacent quote pairs (which leaves every other character on the same side of a
    string), the text keeps a quote only around a string holding a bracket, rarely."""
    marks = text.translate(None, _NOT_QUOTE_OR_BRACKET).replace(b'""', b"")
    if b'"' in marks:
        marks = b"".join(marks.split(b'"')[0::2])
    return marks.count(b"[") + marks.count(b"{") - marks.count(b"]") - marks.count(b"}")


#: At most this many entries from a window's start are passed over by msgspec, in C, to
#: reach the end of the entry holding a failed cut (:func:`_entry_end_skipping`) before
#: the search steps from bracket to bracket instead (a window of tiny entries).
ENTRY_SKIPS = 64
# msgspec's words for a text whose first JSON value is followed by more (0.23, the version
# tested: "JSON is malformed: trailing characters (byte N)", N counted from 1); other words,
# or none, only cost the bracket search.
_TRAILING = re.compile(r"trailing characters \(byte ([0-9]+)\)")


def _entry_end_skipping(span: bytes, start: int, cut: int, end: int) -> int | None:
    """The first comma after ``cut`` that ends an entry, found by passing over whole
    entries from ``start`` (just after a comma that separates two entries, or the
    opening bracket): msgspec reads one JSON value as a raw slice, in C, and says where
    the text after it starts. None when the cut is not reached within
    :data:`ENTRY_SKIPS` entries, or when msgspec says anything else. A guess like any
    other (see :func:`_entry_end_after`): the caller decodes the window it gives."""
    if not accel.fast_json_available():
        return None
    one_value = accel.decoder("raw")
    errors = accel.decode_errors()
    view = memoryview(span)
    at = start
    for _ in range(ENTRY_SKIPS):
        try:
            one_value.decode(view[at:end])
        except errors as error:
            trailing = _TRAILING.search(str(error))
            if trailing is None:
                return None
            place = at + int(trailing.group(1)) - 1
        else:
            return end  # the rest is one value: the chain's last entry
        if place >= end:
            return end
        if span[place] != 0x2C:  # ","
            return None
        if place > cut:
            return place
        at = place + 1
    return None


def _entry_end_after(span: bytes, start: int, cut: int, end: int) -> int | None:
    """A guess at the first comma after ``cut`` that separates two entries, given that
    ``start`` is just after such a comma (or the opening bracket), and ``end`` the closing
    bracket; ``end`` when the entry holding the cut seems to be the chain's last; None
    when the search took more than :data:`ENTRY_END_SEARCH_TOKENS` steps. First by
    passing over whole entries in C (:func:`_entry_end_skipping`: a few large entries, of
    any shape); else looked for from the cut in the text up to
    :data:`ENTRY_END_SEARCH_BYTES` past ``cut``, then twice as far, and so on (a large
    entry's end may lie far away). Never trusted: the caller proves the cut by decoding
    (see the module docstring)."""
    skipped = _entry_end_skipping(span, start, cut, end)
    if skipped is not None:
        return skipped
    reach = ENTRY_END_SEARCH_BYTES
    while True:
        stop = min(end, cut + reach)
        found = _boundary_in(span, cut - start + 1, start, stop)  # no copy of the text
        if found is not None:
            return None if found < 0 else start + found
        if stop == end:  # the entry holding the cut seems to be the last: cut at the end
            return end
        reach *= 2


def _boundary_in(text: bytes, at: int, begin: int = 0, end: int | None = None) -> int | None:
    """The first comma at or after ``at`` in ``text[begin:end]`` (which starts at an
    entry; ``at`` and the result are offsets into it) that separates two entries; None
    when that text ends first, -1 when the search gives up. Backslash pairs and escaped
    quotes are blanked (same length; in a copy, only when there are any), so every
    remaining quote delimits a string; :func:`_depth` gives the depth at ``at``, then the
    search steps -- inside an entry from bracket to bracket outside strings (a regular
    expression passes over the strings and other bytes between in C), between entries
    from string, bracket or comma to the next (each byte's next place found by
    ``bytes.find`` in C and kept until passed), so neither the members of an object nor
    a run of commas and digits inside an entry costs a Python step -- to where the depth
    is that of the entries, and takes the comma there."""
    stop = len(text) if end is None else end
    if text.find(b"\\", begin, stop) >= 0:
        text = text[begin:stop].replace(b"\\\\", b"__").replace(b'\\"', b"__")
        begin, stop = 0, stop - begin
    at += begin
    if text.count(b'"', begin, at) % 2:  # ``at`` lies inside a string: go on after its end
        at = text.find(b'"', at, stop) + 1
        if at == 0:
            return None
    depth = _depth(text[begin:at])
    found = dict.fromkeys(_BETWEEN, -1)  # each byte's next place (``stop``: there is none)
    for _ in range(ENTRY_END_SEARCH_TOKENS):
        if depth > 0:
            # Inside an entry only brackets matter: one step to the next bracket outside
            # any string, the strings passed over in C (an object of 10^5 members is 10^5
            # strings, and its keys may hold brackets).
            bracket = _NEXT_BRACKET.match(text, at, stop)
            if bracket is None:
                return None
            place = bracket.end() - 1
            depth += 1 if text[place] in b"[{" else -1
            at = place + 1
            continue
        place = stop
        for mark in _BETWEEN:
            if found[mark] < at:  # passed: look again, from here
                next_place = text.find(mark, at, stop)
                found[mark] = stop if next_place < 0 else next_place
            place = min(place, found[mark])
        if place == stop:
            return None
        mark = text[place : place + 1]
        if mark == b",":
            return place - begin
        if mark == b'"':  # a string: go on after its closing quote
            place = text.find(b'"', place + 1, stop)
            if place < 0:
                return None
        elif mark in b"[{":
            depth += 1
        else:
            depth -= 1
        at = place + 1
    return -1


@dataclass
class _Held:
    """A window whose entries a chunk being gathered may hold (or a part of its raw
    slices, ``text`` empty): an upper bound of the values they hold, and whether it was
    counted on the bytes (else it is the window's length less its brackets)."""

    text: bytes | memoryview
    bound: int
    counted: bool = False
    extra: int = 0  # marks the text decoded has besides ``text`` (its opening bracket)


def _bound_within(held: list[_Held], limit: int) -> bool:
    """Whether the values a chunk would hold, of the entries of ``held``, are within
    ``limit``. Only when the sum of their bounds is over it is each window not yet
    counted counted on its bytes (once), so that a chunk of small entries spread over
    many windows is not cut for nothing (its length bounds its values loosely)."""
    if sum(window.bound for window in held) <= limit:
        return True
    for window in held:
        if not window.counted:
            window.bound, window.counted = budget.marks_in(window.text) + window.extra, True
    return sum(window.bound for window in held) <= limit


def _sliced(chunk: DecodedChunk, first: int, start: int, stop: int) -> DecodedChunk:
    """The entries ``start`` to ``stop`` of ``chunk``, now at ``first``: its proofs hold
    for them, but for its float count and its entries' canonical bytes (which a slice no
    longer knows)."""
    entries = chunk.entries[start:stop]
    if chunk.twin is None:
        return chunk._replace(first=first, entries=entries, same=chunk.same and len(entries) > 1,
                              canonical=None)
    return chunk._replace(first=first, entries=entries, same=chunk.same and len(entries) > 1,
                          twin=chunk.twin[start:stop], floats_only=False, canonical=None)


def _repeated_text(text: bytes) -> tuple[bytes, int] | None:
    """``(one, count)`` when the window ``text`` is ``count`` times the bytes ``one`` --
    those up to its first comma, so holding none -- comma-separated between brackets
    (compared with one copy made by doubling); else None."""
    end = text.find(b",")
    if end < 0:
        return None
    one = text[1:end]
    count, rest = divmod(len(text) - 1, len(one) + 1)
    if rest or text[1:-1] != repeated_bytes(one, count):
        return None
    return one, count


def repeated_bytes(piece: bytes, count: int) -> bytes:
    """``count`` times ``piece``, comma-separated (a copy by doubling, not a join)."""
    return (piece + b",") * (count - 1) + piece


def _value_chunk(first: int, entries: list[Any], uniform: bool, narrow: bool) -> DecodedChunk:
    """Entries of a window the typed item decoder took: free of floats and unsafe
    integers, their depth proven, their object keys checked with the window.
    ``uniform``: the whole window is one value repeated. ``narrow``: the window's bytes
    rule out a wide object (:attr:`DecodedChunk.narrow`)."""
    if uniform:
        return DecodedChunk(first, entries, True, False, type(entries[0]) is dict,
                            len(entries) > 1, narrow=narrow)
    # all objects? (in C, stopping at the first entry of another type: mixed windows;
    # _same checks the types itself)
    objects = type(entries[0]) is dict and all(
        map(operator.is_, map(type, entries), repeat(dict)))
    return DecodedChunk(first, entries, True, False, objects, _worth_same(entries),
                        narrow=narrow)


class _Upcoming(NamedTuple):
    """The text ``span[start:stop]`` that is about to be decoded as the next window:
    told before it is decoded."""

    start: int
    stop: int

    def held(self, span: bytes) -> _Held:
        """As :class:`_Held`, bounded as the window decoded from it is (that text adds
        its brackets: one byte more, one opening bracket more)."""
        return _Held(memoryview(span)[self.start : self.stop], self.stop - self.start + 1,
                     extra=1)


#: A window's entries: values (and None), or, when the typed decoder refuses them or
#: their bytes bound more values than the limit, raw slices (``[]`` and the slices);
#: whether the window is one entry repeated; and the window's text with an upper bound of
#: its values (see _bound_within; for a single long entry, its bytes in the chain).
_Window = tuple[list[Any], list[Any] | None, bool, _Held]


def _decode_window(text: bytes, max_depth: int, counted: int | None = None) -> _Window | None:
    """The window's entries, or None when ``text`` is not an array of entries (the cut
    was not a boundary, or the content needs the exact path).

    A window that is one entry's bytes repeated (a hostile chain) is decoded once: when
    those bytes alone decode as one value, the window is that many copies of a complete
    value, comma-separated -- an array (so the cut is a boundary) of equal entries.

    A window whose bytes bound more values than :data:`keel_verify.load.budget.MAX_VALUES`
    (counted only when it is longer than that: a long entry straddled its first cut) is
    read as raw slices, which hold no value, and decoded in parts by the caller.
    ``counted``: the bound of its entries' values, when counted already."""
    errors = accel.decode_errors()
    item_levels = min(accel.MAX_TYPED_NESTING, max_depth - 2)
    held = _Held(text, len(text) - 1)  # its entries' values: at most one per byte, less "[]"
    if counted is not None:
        held = _Held(text, counted, True)
    elif held.bound > budget.MAX_VALUES:
        held = _Held(text, budget.marks_in(text), True)
    if item_levels >= 0 and held.bound <= budget.MAX_VALUES:
        typed = accel.nested_items_decoder(item_levels)
        repeated = _repeated_text(text)
        if repeated is not None:
            one, count = repeated
            try:
                value: list[Any] = typed.decode(b"[" + one + b"]")
            except errors:
                pass
            else:
                if len(value) == 1 and accel.keys_within_bmp(one):
                    return value * count, None, True, held
        try:
            with collector_paused():  # a window of "[]" is half a million lists
                entries: list[Any] = typed.decode(text)
        except errors:
            pass
        else:
            if entries and accel.keys_within_bmp(text):
                return entries, None, False, held
    try:
        raws: list[Any] = accel.decoder("items").decode(text)
    except errors:
        return None
    return ([], raws, False, held) if raws else None


#: Fewer entries than this (a window of large entries) are not looked at for one value
#: repeated: "same" is only a shortcut (hash one entry for all), and proving it costs about
#: what hashing each of a few large entries costs.
SAME_MIN_ENTRIES = 16


def _worth_same(entries: list[Any]) -> bool:
    """:func:`_same`, for at least :data:`SAME_MIN_ENTRIES` entries (else not proven)."""
    return len(entries) >= SAME_MIN_ENTRIES and _same(entries)


def _same(entries: list[Any]) -> bool:
    """Every entry one and the same value (see :func:`same_value`), in C per entry."""
    if len(entries) < 2:
        return False
    one = entries[0]
    if entries[-1] != one:  # the last differs: no step per entry (distinct values)
        return False
    if entries.count(one) != len(entries) or set(map(type, entries)) != {type(one)}:
        return False
    if isinstance(one, (dict, list)) and one:
        encode = accel.plain_encoder()
        return encode(entries) == b"[" + b",".join([encode(one)] * len(entries)) + b"]"
    return True


def same_value(one: Any, other: Any) -> bool:
    """Whether two float-free decoded values are one and the same: equal, of the same
    type, and (containers) with their members in the same order at every depth -- what
    equal input bytes give on the raw path. Python's ``==`` alone says ``1 == True`` and
    ignores key order; the insertion-ordered encoding tells both apart."""
    if one is other:
        return True
    if type(one) is not type(other) or one != other:
        return False
    return not (isinstance(one, (dict, list)) and one) or _same([one, other])


def _joined(parts: list[DecodedChunk]) -> DecodedChunk:
    """Consecutive parts of one chunk (from two windows) as one chunk: each proof holds
    for it when it holds for every part. When a part holds floats the chunk has a twin:
    the parts' twins, a float-free part being its own."""
    if len(parts) == 1:
        return parts[0]
    entries = list(chain.from_iterable(part.entries for part in parts))
    within_jcs = all(part.within_jcs for part in parts)
    if all(part.twin is None for part in parts):
        return DecodedChunk(
            parts[0].first, entries, within_jcs=within_jcs,
            flat=all(part.flat for part in parts),
            objects=all(part.objects for part in parts),
            same=_parts_same(parts) or _worth_same(entries),
            narrow=all(part.narrow for part in parts),
        )
    return DecodedChunk(
        parts[0].first, entries,
        objects=all(part.objects for part in parts),
        twin=[item for part in parts for item in (part.entries if part.twin is None else part.twin)],
        floats=sum(part.floats for part in parts),
        floats_only=all(part.floats_only or part.within_jcs for part in parts),
        narrow=all(part.narrow for part in parts),
    )


def _parts_same(parts: list[DecodedChunk]) -> bool:
    """Proven without looking at every entry: the parts' entries are one and the same
    value (see :func:`same_value`), when each part is one value repeated (``same``, or a
    single entry) and each part's value is the first part's: ``same_value`` is an
    equivalence (equal types, ``==`` and equal insertion-ordered bytes each are). False
    means not proven (then every entry is compared)."""
    if not all(part.same or len(part.entries) == 1 for part in parts):
        return False
    one = parts[0].entries[0]
    return all(same_value(one, part.entries[0]) for part in parts[1:])
