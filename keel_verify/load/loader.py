"""Strict loader: bytes -> JSON value -> detected attestation artifact (docs/format.md §2, §9.5).

Everything here rejects with a :class:`LoadError` whose message is one line. Limits are
documented in the README ("Input limits") and are keyword arguments so that a caller
(and the tests) can tighten them.
"""

from __future__ import annotations

import errno
import io
import json
import operator
import os
import re
import stat
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress, repeat
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple

from keel_verify.crypto.canonical import PROFILE, float_divergences, tagged_sha256
from keel_verify.errors import LoadError
from keel_verify.lazy_sequence import LazySequence
from keel_verify.load import accel, budget, entry_parts, member_sort, nesting
from keel_verify.load.access import escape_token, type_name
from keel_verify.load.config_files import file_kind

if TYPE_CHECKING:
    from keel_verify.load.dense import DenseChain

SCHEMA = "keel.voice.attestation.phase_a"

#: schema_version -> artifact_version (docs/format.md §2).
SUPPORTED_VERSIONS = {1: "1.0.0", 3: "1.2.0"}

#: What bounds memory: on the fast path the peak is about the input, plus a chunk of
#: entries in flight, plus ~100 bytes per chain entry (raw slices; a dense chain, whose
#: slices would cost more than 3.5 times its bytes, is read by windows instead: see
#: keel_verify.load.dense); the exact path holds
#: the whole document as Python objects (several times the input), so it has its own,
#: lower limit.
MAX_INPUT_BYTES = 4 * 1024**3
MAX_EXACT_PATH_BYTES = 512 * 1024**2
MAX_DEPTH = 128

# A lone surrogate can only enter through a \uD800-\uDFFF escape (the bytes are valid
# UTF-8 by then); this cheap scan decides whether the expensive string walk is needed.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")

# An escaped colon would upset the colon counts of the fast path's duplicate-key proof.
# (A regex scans for it three times faster than two bytes searches, measured.)
_ESCAPED_COLON = re.compile(rb"\\u003[aA]")


class NeedsExactPath(Exception):
    """The fast path met something only the strict stdlib path judges for the whole
    document (a byte order mark, an escaped colon, input msgspec refuses -- an overflowing
    float among it): verification restarts on that path, which also words the error."""


@dataclass(frozen=True)
class ChainSource:
    """The chain array's entries, decoded chunk by chunk during the single chain pass.

    Fast path: ``raw_items`` are msgspec raw slices of the input, so a 100,000-entry
    chain is never held as Python objects all at once; a chain of millions of tiny
    entries is ``dense`` instead (:mod:`keel_verify.load.dense`: no object per entry is
    held for the whole chain). Exact path: ``items`` are the entries already parsed by
    the strict stdlib parser.
    """

    raw_items: Sequence[Any] | None = None
    items: Sequence[Any] | None = None
    dense: DenseChain | None = None  # a chain of tiny entries, read window by window

    def __len__(self) -> int:
        if self.raw_items is not None:
            return len(self.raw_items)
        if self.dense is not None:
            return len(self.dense)
        return len(self.items or ())

    def chunks(self, size: int, max_depth: int) -> Iterator[DecodedChunk]:
        """Consecutive entries, ``size`` at a time; fast-path chunks are strictly decoded
        here (see :class:`DecodedChunk` for what a decode proves), a chunk over the value
        limit in parts (:mod:`keel_verify.load.entry_parts`: then fewer entries at a time)."""
        if self.dense is not None:
            yield from self.dense.chunks(size, max_depth)
            return
        if self.raw_items is None:
            items = self.items or ()
            for start in range(0, len(items), size):
                yield DecodedChunk(start, list(items[start : start + size]))
            return
        for start in range(0, len(self.raw_items), size):
            run = self.raw_items[start : start + size]
            for low, high, _ in entry_parts.parts(run, start):
                yield decode_raw_chunk(start + low, run[low:high], max_depth, lazy=True,
                                       within_limit=True)

    def chunk_at(self, first: int, size: int, max_depth: int) -> DecodedChunk:
        """The entries ``first`` to ``first + size`` (fewer at the end), as :meth:`chunks`,
        but whole: :class:`keel_verify.load.entry_parts.InParts` for entries over the value
        limit together (see :func:`decode_raw_chunk`)."""
        if self.dense is not None:
            return self.dense.chunk_at(first, size, max_depth)
        if self.raw_items is None:
            return DecodedChunk(first, list((self.items or ())[first : first + size]))
        return decode_raw_chunk(first, self.raw_items[first : first + size], max_depth,
                                lazy=True)


class DecodedChunk(NamedTuple):
    """Entries as the chain pass receives them. Each flag is a proof; False means "not
    proven": look.

    ``within_jcs``: no value outside the RFC 8785 domain (float, integer beyond
    +/-(2^53-1), object key outside the BMP); ``flat``: every entry an object of strings,
    integers, booleans and nulls; ``objects``: every entry an object; ``same``: every
    entry is one and the same value (their input bytes are equal).

    A chunk that holds a float has a ``twin`` (:func:`keel_verify.load.accel.read_floats`):
    the entries again, each float a ``msgspec.Raw`` of its profile text, from which the
    sorted encoder writes the entries' canonical bytes at C speed. ``floats``
    counts them; ``floats_only``: proven that they are the chunk's only values outside
    the RFC 8785 domain (so that its divergences are counted, not looked for)."""

    first: int
    entries: Sequence[Any]  # a list, or LazyEntries (see decode_raw_chunk)
    within_jcs: bool = False
    flat: bool = False
    objects: bool = False
    same: bool = False
    twin: list[Any] | None = None
    floats: int = 0
    floats_only: bool = False
    # Proven (nesting.written_canonically): the entries' canonical bytes, comma-joined,
    # are their input bytes, these (for a ``same`` chunk: one entry's), and no entry is
    # an object; so they are neither encoded nor hashed again. None: not proven.
    canonical: bytes | None = None
    # Proven on the bytes decoded (their length, or their colons): no entry holds an
    # object of member_sort.WIDE_OBJECT_MEMBERS members (member_sort.may_hold_wide_object).
    narrow: bool = False


def decode_raw_chunk(first: int, raw_items: Sequence[Any], max_depth: int, *,
                     lazy: bool = False, within_limit: bool = False) -> DecodedChunk:
    """Decode msgspec raw slices of consecutive entries strictly (NeedsExactPath for what
    only the exact path judges, LoadError for nesting beyond ``max_depth``). A chunk that
    holds a float is read by :func:`keel_verify.load.accel.read_floats` (its floats as
    the strict parser reads them, and a twin to write their canonical text).

    The typed decoders prove at C speed what a walk over every node would: JCS-safe
    integers and, entries being 3 levels deep (artifact, chain, entry), a bounded depth.
    Only entries nested deeper than they accept are decoded untyped and walked.

    ``lazy``: a chunk of entries proven on their bytes to need no decode
    (:func:`_proven_without_decode`) comes with :class:`LazyEntries`, each entry decoded
    only when a visitor asks for it.

    Entries whose bytes bound more values together than the limit are not decoded:
    :class:`keel_verify.load.entry_parts.InParts` says in which parts to ask for them,
    :class:`keel_verify.load.budget.TooManyValues` names one over it by itself (counted
    only when their length could be over: see :func:`keel_verify.load.entry_parts.check`).
    ``within_limit``: the caller has proven them within it (a part that
    :func:`keel_verify.load.entry_parts.parts` gave): they are not counted again."""
    count = len(raw_items)
    if count > 1 and raw_items.count(raw_items[0]) == count:
        if not within_limit and (len(raw_items[0]) + 1) * count > budget.MAX_VALUES:
            entry_parts.check(raw_items, first)
        # The same bytes over and over (a hostile chain): decoded once, every proof made
        # for one holds for all, and every entry is that one value.
        one = decode_raw_chunk(first, raw_items[:1], max_depth)
        return one._replace(entries=list(one.entries) * count, same=True,
                            floats=one.floats * count,
                            twin=None if one.twin is None else one.twin * count)
    joined = b"[" + b",".join(raw_items) + b"]"
    if not within_limit and len(joined) - 1 > budget.MAX_VALUES:  # 1 + len(entry), summed
        entry_parts.check(raw_items, first)
    narrow = not member_sort.entries_may_hold_wide_object(raw_items)
    if lazy and _proven_without_decode(joined, raw_items, max_depth):
        return DecodedChunk(first, LazyEntries(raw_items, joined), True, canonical=joined[1:-1],
                            narrow=narrow)
    errors = accel.decode_errors()
    if max_depth >= 3:
        try:
            entries: list[Any] = accel.decoder("flat_entries").decode(joined)
            return DecodedChunk(first, entries, accel.keys_within_bmp(joined), True, True,
                                narrow=narrow)
        except errors:
            pass
    levels = min(accel.MAX_TYPED_NESTING, max_depth - 3)
    if levels > 0:
        try:
            entries = accel.nested_entries_decoder(levels).decode(joined)
            return DecodedChunk(first, entries, accel.keys_within_bmp(joined), False, True,
                                narrow=narrow)
        except errors:
            pass
    # Entries that are not all objects: the entry itself is a container level at depth 3.
    item_levels = min(accel.MAX_TYPED_NESTING, max_depth - 2)
    if item_levels >= 0:
        try:
            entries = accel.nested_items_decoder(item_levels).decode(joined)
            objects = set(map(type, entries)) == {dict}
            return DecodedChunk(first, entries, accel.keys_within_bmp(joined), False, objects,
                                narrow=narrow)
        except errors:
            pass
    # Deeper than the typed decoders reach, or holding a float: the same proofs, made on
    # the bytes outside strings (no Python step per node; read_floats proves float
    # literals on them too). The array of these entries sits where the chain does: at
    # depth 2, so a container at bracket depth d in ``joined`` is at nesting level d + 1.
    outside = nesting.outside_strings(joined)
    try:
        part = accel.read_floats(joined, outside)
    except errors:
        raise NeedsExactPath from None
    entries = part.value
    objects = set(map(type, entries)) == {dict}
    if nesting.max_nesting(outside) + 1 > max_depth:
        raise LoadError(f"nesting deeper than the limit of {max_depth} levels")
    # No long integer (the digits of strings left out: hashes hold long runs of them), no
    # key outside the BMP: then its floats (counted by the twin's reading) are all that
    # leaves the RFC 8785 domain.
    domain = nesting.integers_within_jcs(outside) and accel.keys_within_bmp(joined)
    # Such a chunk is mostly brackets (e.g. 100 arrays around an integer): when its bytes
    # are proven canonical as written, they are its piece of the signed message.
    canonical = (joined[1:-1] if domain and part.twin is None
                 and nesting.written_canonically(joined, outside) else None)
    return DecodedChunk(first, entries, domain and part.twin is None, objects=objects,
                        twin=part.twin, floats=part.floats,
                        floats_only=domain and part.twin is not None, canonical=canonical,
                        narrow=narrow)


def _proven_without_decode(joined: bytes, raw_items: Sequence[Any], max_depth: int) -> bool:
    """Whether the JSON array ``joined`` of the raw chain entries ``raw_items`` (each
    already accepted by msgspec's skip of the chain: see :func:`_chain_source`) is proven
    to decode without error, to values within the RFC 8785 domain, none of them an
    object, whose canonical bytes, comma-joined, are its bytes less the brackets.

    Why, on the bytes alone: with no ``"`` there is no string, so nothing a decode could
    refuse that the skip let pass (invalid UTF-8, a lone surrogate, a control character:
    only a string holds them); with no ``{`` there is no object. The depth is within the
    limit (the array sits at depth 2, as in :func:`decode_raw_chunk`; an entry nested d
    deep takes at least 2d bytes, so the longest entry's length bounds it, else
    :func:`nesting.max_nesting` tells); every integer lies within +/-(2^53-1)
    (:func:`nesting.integers_within_jcs`), so none is too long to decode; and
    :func:`nesting.written_canonically` proves the bytes canonical, float-free included,
    so no literal can overflow. The brackets, commas, number grammar and literals were
    judged by the skip: nothing is left for a decode to refuse. When any of this is not
    proven, the chunk is decoded as before."""
    # Cheapest first (scans for a byte or two): an object, a string, a float, whitespace.
    if b"{" in joined or b'"' in joined or not nesting.written_canonically(joined, joined):
        return False
    longest = max(map(len, map(bytes, raw_items)), default=0)
    return ((longest // 2 + 2 <= max_depth or nesting.max_nesting(joined) + 1 <= max_depth)
            and nesting.integers_within_jcs(joined))


class LazyEntries(LazySequence[Any]):
    """The entries of a chunk proven to need no decode (:func:`_proven_without_decode`):
    the chain pass writes their bytes and hashes nothing, and the visitors need their
    values only while they still look at entries that are not objects (until each has
    found enough problems: keel_verify.checks.entry_problems), and for the few rows a
    report shows. Each entry is decoded when first asked for, by the decoder that would
    have decoded the chunk (the same values: no float, no string); iterating decodes all
    at once."""

    def __init__(self, raw_items: Sequence[Any], joined: bytes) -> None:
        super().__init__(len(raw_items))
        self._raw_items = raw_items
        self._joined = joined
        self._all: list[Any] | None = None

    def _build(self, index: int) -> Any:
        if self._all is not None:
            return self._all[index]
        return accel.decoder("floats").decode(self._raw_items[index])

    def all(self) -> list[Any]:
        """Every entry, decoded in one call."""
        if self._all is None:
            self._all = accel.decoder("floats").decode(self._joined)
        return self._all

    def __iter__(self) -> Iterator[Any]:
        return iter(self.all())


#: How many floats of a top-level member are located while it is decoded (with their
#: JSON Pointers): reports list at most this many values of a kind.
FLOATS_LOCATED = 50


@dataclass(frozen=True)
class FloatMember:
    """A top-level member whose value holds a float, decoded on the fast path by
    :func:`keel_verify.load.accel.read_floats` (its twin dropped once used)."""

    canonical: bytes  # the value's canonical bytes, floats written as the profile writes them
    floats: int  # how many floats the value holds
    # Proven: the floats are the member's only values outside the RFC 8785 domain (its
    # name included), and ``located`` holds the first FLOATS_LOCATED of them, in document
    # order, as jcs_divergences words them.
    floats_only: bool
    located: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Artifact:
    """A parsed, detected voice-session attestation. Nothing here is ever mutated.

    The chain's entries are read through ``chain`` (None when ``document["chain"]`` is
    missing or not an array). On the fast path ``document`` has no ``"chain"`` member when
    the chain is an array; on the exact path it has the parsed list.
    """

    document: dict[str, Any]
    schema_version: int
    size: int
    chain: ChainSource | None = None
    raw: bytes = b""  # the input, kept on the fast path for the duplicate-key proof
    raw_colons: int | None = None  # colons in the input; None on the exact path
    # Proven while decoding: no member but the chain's entries leaves the RFC 8785 domain.
    document_within_jcs: bool = False
    # Fast path: the top-level members proven inside the RFC 8785 domain while decoding
    # (name and value; when document_within_jcs, all are, and this may be left empty),
    # and those whose value holds a float.
    jcs_members: frozenset[str] = frozenset()
    float_members: Mapping[str, FloatMember] = field(default_factory=dict)
    # Top-level members (fast path) holding more than MANY_NAMES object member names:
    # each that holds no float is written apart, by the exact way cheapest for its
    # shape (keel_verify.load.chainpass._many_names_bytes).
    many_names: frozenset[str] = frozenset()

    @property
    def is_hash_only(self) -> bool:
        return self.schema_version == 3

    @property
    def exact_path(self) -> bool:
        return self.raw_colons is None


def read_input(source: str | Path | BinaryIO, *, max_bytes: int = MAX_INPUT_BYTES,
               json_object: bool = True) -> bytes:
    """Read at most ``max_bytes`` (plus one, to detect excess) without touching anything else.

    A path must name a regular file: a FIFO (which could wait forever for a writer), a
    device or a socket is refused before any read. Standard input is read as a stream.

    ``json_object`` (an artifact is one JSON object text, RFC 8259 section 2): an input
    longer than :data:`JUDGED_PREFIX_BYTES` is judged on its first bytes before the rest
    is read, and a stream on every block as it arrives (see :func:`_refuse_prefix`,
    :func:`_refuse_control_byte`), so that bytes which cannot be an artifact are refused
    after a bounded read. A shorter input is read whole and judged by the loader, whose
    messages it keeps. False for other JSON inputs (a scenario list, JSON Lines)."""
    try:
        if isinstance(source, (str, Path)):
            with _open_regular(source) as handle:
                data = _read_regular(handle, max_bytes, json_object)
        elif json_object:
            data = _read_stream(source, max_bytes)
        else:
            data = source.read(max_bytes + 1)
    except IsADirectoryError:
        raise LoadError("is a directory, not a file") from None
    except FileNotFoundError:
        raise LoadError("no such file") from None
    except PermissionError:
        raise LoadError("permission denied") from None
    except OSError as error:
        raise LoadError(f"cannot read: {error.strerror or error}") from None
    if len(data) > max_bytes:
        raise LoadError(f"input larger than the limit of {max_bytes} bytes")
    return data


#: An input longer than this is judged on its first this-many bytes before the rest is
#: read: they must hold the start of a JSON object ("{" after RFC 8259 whitespace, which
#: is therefore limited to this length) and no control byte. Shorter inputs are judged
#: whole by the loader, with its exact messages.
JUDGED_PREFIX_BYTES = 1024**2

#: Standard input is read this many bytes at a time, each block searched for a control
#: byte (a C scan) before the next is read.
READ_BLOCK_BYTES = 4 * 1024**2

# RFC 8259 section 7: U+0000-U+001F must be escaped inside a string, and outside one only
# tab, LF and CR (whitespace) may appear. So any other such byte proves "not JSON".
_CONTROL_BYTE = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# Deleting every other byte (bytes.translate, ~4 GiB/s) says whether a block holds one;
# the regex (~0.5 GiB/s) is run only on a block that does, to find where.
_NOT_CONTROL = bytes(sorted(set(range(256)) - set(range(0x20)) | set(b"\t\n\r")))
_LEADING_WHITESPACE = re.compile(rb"[ \t\n\r]*")  # RFC 8259 section 2
_BYTE_ORDER_MARK = b"\xef\xbb\xbf"


def _read_stream(source: BinaryIO, max_bytes: int) -> bytes:
    """At most ``max_bytes + 1`` bytes of a stream, judged as :func:`read_input` says.
    Blocks go into a BytesIO, whose value is then handed over without a copy, so the
    peak stays about the input (plus a block), as when it was read in one call."""
    first = _read_up_to(source, min(JUDGED_PREFIX_BYTES + 1, max_bytes + 1))
    if len(first) <= JUDGED_PREFIX_BYTES or len(first) > max_bytes:
        return first  # whole (the loader judges it), or over the limit already
    _refuse_prefix(first)
    buffer = io.BytesIO()
    buffer.write(first)
    del first
    while buffer.tell() <= max_bytes:
        block = source.read(min(READ_BLOCK_BYTES, max_bytes + 1 - buffer.tell()))
        if not block:
            break
        _refuse_control_byte(block, buffer.tell())
        buffer.write(block)
    return buffer.getvalue()


def _read_up_to(source: BinaryIO, size: int) -> bytes:
    """``size`` bytes of a stream, fewer only at its end (a raw stream may return less)."""
    data = source.read(size)
    while 0 < len(data) < size:
        more = source.read(size - len(data))
        if not more:
            break
        data += more
    return data


def _refuse_prefix(prefix: bytes) -> None:
    """Raise LoadError when the first bytes of an input longer than them prove that it is
    not one JSON object text. A byte order mark and an array keep the loader's messages."""
    if prefix.startswith(_BYTE_ORDER_MARK):
        raise LoadError("UTF-8 byte order mark is not allowed at the start of JSON")
    start = _LEADING_WHITESPACE.match(prefix)
    assert start is not None  # the pattern matches the empty string
    if start.end() == len(prefix):
        raise LoadError(f"only whitespace in the first {JUDGED_PREFIX_BYTES:,} bytes (an "
                        f"artifact's \"{{\" must come within them)")
    reason = not_an_object_text(prefix, start.end())
    if reason is not None:
        raise LoadError(reason)


def not_an_object_text(data: bytes, start: int | None = None) -> str | None:
    """Why ``data`` (a whole input, or its first bytes) cannot be a JSON object text, in
    one line, or None when its bytes do not prove it. ``start``: the offset of its first
    byte after RFC 8259 whitespace, when known. Whitespace only is not judged here."""
    if start is None:
        match = _LEADING_WHITESPACE.match(data)
        assert match is not None
        start = match.end()
    if data[start : start + 1] == b"[":
        return "top level is an array, not an object"  # as load_bytes words it
    if start < len(data) and data[start] != 0x7B:  # "{"
        return (f"not a JSON object: its first byte after whitespace, {_byte(data[start])} at "
                f"offset {start}, is not \"{{\"")
    found = _control_byte_at(data)
    if found is not None:
        return _control_byte_reason(data[found], found)
    return None


def _refuse_control_byte(block: bytes, offset: int) -> None:
    """Raise LoadError when ``block`` (at ``offset`` in the input) holds a control byte."""
    found = _control_byte_at(block)
    if found is not None:
        raise LoadError(_control_byte_reason(block[found], offset + found))


def _control_byte_at(data: bytes) -> int | None:
    """The offset of the first control byte in ``data`` (see _CONTROL_BYTE), or None."""
    for start in range(0, len(data), READ_BLOCK_BYTES):  # the regex, in one block only
        block = data[start : start + READ_BLOCK_BYTES]  # (all of a short ``data``: no copy)
        if block.translate(None, _NOT_CONTROL):
            found = _CONTROL_BYTE.search(block)
            assert found is not None
            return start + found.start()
    return None


def _control_byte_reason(value: int, offset: int) -> str:
    return (f"not JSON: control byte {_byte(value)} at offset {offset} (RFC 8259 allows "
            f"U+{value:04X} nowhere in JSON text, not even in a string)")


def _byte(value: int) -> str:
    shown = chr(value)
    return f"0x{value:02x}" + (f" ({shown!r})" if shown.isprintable() and value < 0x80 else "")


def _read_regular(handle: BinaryIO, max_bytes: int, json_object: bool = False) -> bytes:
    """The first ``max_bytes + 1`` bytes of a regular file at most. ``read(n)`` sets aside
    n bytes before reading (4 GiB of address space, a map and unmap for every small file
    of a batch), so the file's size is asked first; a file that grew since is read on.
    ``json_object``: a file larger than :data:`JUDGED_PREFIX_BYTES` is judged on its first
    bytes before it is read whole (see :func:`read_input`)."""
    size = os.fstat(handle.fileno()).st_size
    if json_object and JUDGED_PREFIX_BYTES < size <= max_bytes:
        _refuse_prefix(handle.read(JUDGED_PREFIX_BYTES + 1))
        handle.seek(0)
    data = handle.read(min(size, max_bytes) + 1)
    if size < len(data) <= max_bytes:
        data += handle.read(max_bytes + 1 - len(data))
    return data


def _not_regular(mode: int) -> LoadError:
    return LoadError(f"{file_kind(mode)}, not a regular file (pipe it to standard input as '-')")


def _open_regular(path: str | Path) -> BinaryIO:
    """Open ``path`` for reading only if it is a regular file. ``O_NONBLOCK`` makes opening
    a FIFO return at once (instead of waiting for a writer) so that it can be refused; a
    socket cannot be opened at all (ENXIO), so it is told by its mode."""
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
                             | getattr(os, "O_NOCTTY", 0))
    except OSError as error:
        if error.errno == errno.ENXIO:
            mode = os.stat(path).st_mode
            if not stat.S_ISREG(mode):
                raise _not_regular(mode) from None
        raise
    try:
        mode = os.fstat(descriptor).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError
        if not stat.S_ISREG(mode):
            raise _not_regular(mode)
        if hasattr(os, "set_blocking"):
            os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def _line_and_column(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise LoadError(f"duplicate object key {json.dumps(key, ensure_ascii=True)}")
            seen.add(key)
    return result


def _reject_constant(name: str) -> Any:
    raise LoadError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    try:
        return accel.finite_float(text)  # the one reading of a float, shared with the fast path
    except accel.FloatOverflow:
        raise LoadError(f"number {text[:40]} overflows a double") from None


def _check_depth_and_strings(
    value: Any, max_depth: int, check_surrogates: bool, *, start_depth: int = 1
) -> None:
    """One iterative walk: container depth and (only if escapes suggest it) lone surrogates."""
    stack: list[tuple[Any, int]] = [(value, start_depth)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            if depth > max_depth:
                raise LoadError(f"nesting deeper than the limit of {max_depth} levels")
            for key, child in node.items():
                if check_surrogates:
                    _check_string(key)
                if isinstance(child, (dict, list)) or (check_surrogates and isinstance(child, str)):
                    stack.append((child, depth + 1))
        elif isinstance(node, list):
            if depth > max_depth:
                raise LoadError(f"nesting deeper than the limit of {max_depth} levels")
            for child in node:
                if isinstance(child, (dict, list)) or (check_surrogates and isinstance(child, str)):
                    stack.append((child, depth + 1))
        elif isinstance(node, str):
            _check_string(node)


def _check_string(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise LoadError("string contains a lone UTF-16 surrogate escape") from None


def parse_json(data: bytes, *, max_depth: int = MAX_DEPTH, start_depth: int = 1) -> Any:
    """Parse strictly: UTF-8 only, no duplicate keys, no NaN/Infinity, bounded depth
    (``start_depth``: the nesting level of the outermost value, when ``data`` is a part
    of a larger document)."""
    if not data.strip(b" \t\r\n"):
        raise LoadError("empty input" if not data else "empty input (only whitespace)")
    if data.startswith(b"\xef\xbb\xbf"):
        raise LoadError("UTF-8 byte order mark is not allowed at the start of JSON")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        prefix = data[: error.start].decode("utf-8", errors="replace")
        line, column = _line_and_column(prefix, len(prefix))
        raise LoadError(f"invalid UTF-8 at byte {error.start} (line {line}, column {column})") from None
    try:
        value = json.loads(
            text,
            object_pairs_hook=_reject_duplicate_keys,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
        )
    except json.JSONDecodeError as error:
        raise LoadError(
            f"invalid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
        ) from None
    except RecursionError:
        raise LoadError(f"nesting deeper than the limit of {max_depth} levels") from None
    except ValueError as error:  # e.g. an integer beyond CPython's digit limit
        raise LoadError(f"invalid JSON number: {str(error).splitlines()[0]}") from None
    _check_depth_and_strings(value, max_depth, bool(_SURROGATE_ESCAPE.search(data)),
                             start_depth=start_depth)
    return value


def parse_json_fast(data: bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """:func:`parse_json`'s value, at C speed when msgspec proves the same reading:
    msgspec refuses what the strict parser refuses (invalid UTF-8, NaN, lone surrogates)
    except duplicate keys, which the colon count excludes (see
    :mod:`keel_verify.load.chainpass`); the typed decoder proves the depth and refuses
    floats and integers beyond JCS's range. Anything not proven, and every error, goes
    to :func:`parse_json`, which words it."""
    levels = min(accel.MAX_TYPED_NESTING, max_depth)
    if (not accel.fast_json_available() or levels < 1 or data.startswith(b"\xef\xbb\xbf")
            or (b"\\" in data and _ESCAPED_COLON.search(data))):
        return parse_json(data, max_depth=max_depth)
    try:
        value = accel.nested_value_decoder(levels).decode(data)
    except accel.decode_errors():
        return parse_json(data, max_depth=max_depth)
    if accel.encode_sorted(value).count(b":") != data.count(b":"):  # a duplicate key
        return parse_json(data, max_depth=max_depth)
    return value


def detect(
    value: Any,
    *,
    size: int,
    chain: ChainSource | None = None,
    raw: bytes = b"",
    raw_colons: int | None = None,
    document_within_jcs: bool = False,
    jcs_members: frozenset[str] = frozenset(),
    float_members: Mapping[str, FloatMember] | None = None,
    many_names: frozenset[str] = frozenset(),
) -> Artifact:
    """Decide whether a JSON value is a supported voice-session attestation (docs/format.md §2)."""
    if not isinstance(value, dict):
        raise LoadError(f"top level is {type_name(value)}, not an object")
    if not isinstance(value.get("verifier_compatibility"), dict):
        raise LoadError(
            "not a voice session attestation: no \"verifier_compatibility\" object at the top level"
        )
    schema = value.get("schema")
    version = value.get("schema_version")
    profile = value.get("canonicalization_profile")
    if schema != SCHEMA:
        raise LoadError(f"unsupported schema {_show(schema)} (expected {SCHEMA!r})")
    if type(version) is not int or version not in SUPPORTED_VERSIONS:
        raise LoadError(f"unsupported schema_version {_show(version)} (supported: 1, 3)")
    if profile != PROFILE:
        raise LoadError(f"unsupported canonicalization_profile {_show(profile)}")
    if chain is None and isinstance(value.get("chain"), list):
        chain = ChainSource(items=value["chain"])
    return Artifact(
        document=value,
        schema_version=version,
        size=size,
        chain=chain,
        raw=raw,
        raw_colons=raw_colons,
        document_within_jcs=document_within_jcs,
        jcs_members=jcs_members,
        float_members=float_members or {},
        many_names=many_names,
    )


_ARRAY_AT_TOP = re.compile(rb"[ \t\n\r]*\[")  # RFC 8259 section 2 whitespace, then "["


def require_exact_path_size(data: bytes) -> None:
    """Raise LoadError when ``data`` is too large for the exact reading path.

    That path holds the whole document as Python objects (several times the input), so
    every way onto it -- input the fast reader refuses (a byte order mark, an escaped
    colon, a fault it cannot word), a duplicate key the colon count finds, or
    ``KEEL_VERIFY_PURE`` -- passes here first: its input is bounded apart, at
    :data:`MAX_EXACT_PATH_BYTES` and at :data:`keel_verify.load.budget.MAX_VALUES` values
    (the whole document is one part, see :mod:`keel_verify.load.budget`). An input it
    refuses whose bytes prove it is not JSON, or not an object (see
    :func:`not_an_object_text`), is refused for that instead: no need of that path to
    judge it. (A byte order mark keeps this refusal: that path words it.)"""
    too_large = len(data) > MAX_EXACT_PATH_BYTES
    # Bytes alone bound memory loosely (2 bytes of input can cost 300 in Python objects).
    too_many = (not too_large and len(data) >= budget.MAX_VALUES
                and budget.value_bound(data) > budget.MAX_VALUES)
    if not (too_large or too_many):
        return
    reason = None if data.startswith(_BYTE_ORDER_MARK) else not_an_object_text(data)
    if reason is not None:
        raise LoadError(reason)
    if too_large:
        raise LoadError(
            f"input larger than {MAX_EXACT_PATH_BYTES} bytes that only the exact reading path can "
            f"judge ({_EXACT_PATH_WAYS}): that path holds the whole document in memory"
        )
    raise LoadError(
        f"{budget.too_many_values('the input', budget.MAX_VALUES)}; only the exact reading "
        f"path can judge it ({_EXACT_PATH_WAYS}), and that path holds the whole document"
    )


_EXACT_PATH_WAYS = ("a byte order mark, an escaped colon, a duplicate key, input the fast "
                    "reader refuses, or KEEL_VERIFY_PURE")


def load_bytes(data: bytes, *, max_depth: int = MAX_DEPTH, exact: bool = False) -> Artifact:
    """Bytes -> artifact: the fast path unless ``exact`` (or ``KEEL_VERIFY_PURE``); what
    the fast path cannot judge exactly goes to the strict stdlib path, which also words
    every error. The chain's entries are judged during the chain pass."""
    if _ARRAY_AT_TOP.match(data):
        # Refused before parsing: reading a huge array only to refuse it would cost time
        # and memory in proportion to its elements. (Invalid JSON after the "[" is then
        # not worded; the input is refused either way.)
        raise LoadError("top level is an array, not an object")
    if not exact and accel.fast_json_available():
        try:
            return _load_fast(data, max_depth)
        except budget.TooManyValues:
            raise  # the exact path would hold even more
        except (NeedsExactPath, LoadError):
            pass  # errors are always judged and worded by the exact path
    require_exact_path_size(data)
    value = parse_json(data, max_depth=max_depth)
    return detect(value, size=len(data))


def _refuse_values_outside_chain(data: bytes, chain_raw: Any) -> None:
    """Raise :class:`budget.TooManyValues` when the input outside the chain's array bounds
    more than :data:`budget.MAX_VALUES` values: every top-level member but the chain is
    decoded whole before any check runs (the chain is read a part at a time). A chain
    member that is not an array is decoded with the others, so it counts as outside.
    ``chain_raw``: the chain member's raw slice, or UNSET when absent."""
    chain = memoryview(b"" if chain_raw is accel.UNSET else chain_raw)
    if bytes(chain[:1]) != b"[":
        chain = memoryview(b"")
    if len(data) - len(chain) < budget.MAX_VALUES:
        return  # a text bounds at most 1 + its length values
    if budget.value_bound(data) - budget.marks_in(chain) > budget.MAX_VALUES:
        raise budget.TooManyValues(budget.too_many_values("the input outside the chain",
                                                          budget.MAX_VALUES))


def _chain_source(data: bytes, raw: Any) -> ChainSource | None:
    """The chain member's entries: raw slices, or, for a dense chain, its bytes (see
    :mod:`keel_verify.load.dense`); None when it is not an array. The input's commas (an
    upper bound on the chain's) are counted only for a chain large enough to be dense."""
    from keel_verify.load import dense

    span = memoryview(raw)
    if (len(span) >= dense.MIN_DENSE_BYTES and span[0] == 0x5B  # "[": an array
            and dense.is_dense(len(span), data.count(b","))):
        return ChainSource(dense=dense.DenseChain(bytes(span)))
    try:
        return ChainSource(raw_items=accel.decoder("items").decode(raw))
    except accel.decode_errors():
        return None


def _load_fast(data: bytes, max_depth: int) -> Artifact:
    """Top-level members decoded, chain entries kept as raw slices.

    msgspec refuses what the strict parser refuses (invalid UTF-8, NaN, lone surrogates,
    overflowing numbers, over-long integers), except duplicate keys: the chain pass
    proves their absence by counting colons (:mod:`keel_verify.load.chainpass`). A member
    whose value holds a float is read by :func:`keel_verify.load.accel.read_floats`
    (see :class:`FloatMember`).
    """
    if data.startswith(b"\xef\xbb\xbf") or (b"\\" in data and _ESCAPED_COLON.search(data)):
        raise NeedsExactPath
    # A member value is at depth 2: the typed decoder proves its depth and integers.
    levels = min(accel.MAX_TYPED_NESTING, max_depth - 1)
    errors = accel.decode_errors()
    colons = data.count(b":")  # the duplicate-key proof's count (chainpass), taken once
    chain: ChainSource | None = None
    try:
        # A large input is usually a long chain: its members as raw slices (needed
        # unless the one decode succeeds) tell the chain's size without another scan --
        # when they cannot be too many (at most one per colon). Else the chain alone is
        # found first (no other member is built) and the values outside it are counted.
        members_first = len(data) > MEMBERS_FIRST_BYTES
        members = (accel.decoder("members").decode(data)
                   if members_first and colons <= budget.MAX_VALUES else None)
        chain_raw: Any = None  # not looked up: not needed
        if members is not None:
            chain_raw = members.get("chain", accel.UNSET)
        elif len(data) >= budget.MAX_VALUES or colons > WHOLE_DOCUMENT_COLONS:
            chain_raw = accel.decoder("chain_member").decode(data).chain
        if len(data) >= budget.MAX_VALUES:
            _refuse_values_outside_chain(data, chain_raw)
        whole = _load_whole(data, levels, colons, chain_raw)
        if whole is not None:
            return whole
        if members is None:  # (counted: at most MAX_VALUES of them)
            members = accel.decoder("members").decode(data)
        if "chain" in members:
            chain = _chain_source(data, members["chain"])
            if chain is not None:
                del members["chain"]
            # else not an array: decoded as it is, and the checks say so
        # A new dict, not the members' with their values replaced: after the chain's
        # removal that one has a hole, and every later copy of a dict with a hole (the
        # checks make several) re-inserts its members one by one instead of cloning it.
        decoded = _MemberDecoder({}, max_depth, levels)
        decoded.batches(list(members), list(members.values()))
    except errors:
        raise NeedsExactPath from None
    decoded.check_depth()
    document = decoded.document
    return detect(
        document,
        size=len(data),
        chain=chain,
        raw=data,
        raw_colons=colons,
        document_within_jcs=len(decoded.jcs_members) == len(document),
        jcs_members=frozenset(decoded.jcs_members),
        float_members=decoded.float_members,
        many_names=frozenset(decoded.many_names),
    )


#: Inputs with at most this many colons (so at most this many top-level members) are
#: decoded a batch at a time: a few batches cost little, and a typed decode of the whole
#: document refused late (a float at the end of a large member) would be work lost.
WHOLE_DOCUMENT_COLONS = 4096


#: Above this size the members are decoded as raw slices first (see _load_fast).
MEMBERS_FIRST_BYTES = 32 * 1024**2


def _load_whole(data: bytes, levels: int, colons: int, chain_raw: Any) -> Artifact | None:
    """The document in one typed decode (no slice, no Python step per member: a document
    may hold a million members), when its chain (if any) is at most half the input and
    everything in it is proven at once: nesting and integers by the typed decoder (as
    :class:`_MemberDecoder` proves them a batch at a time), names within the BMP on the
    bytes. None when not (a float, deeper nesting, a key outside the BMP, a large chain,
    thousands of containers that may each hold many names): then the members are
    decoded a batch at a time. ``colons``: how many colons ``data`` holds. ``chain_raw``:
    the chain member as a raw slice (UNSET when absent), looked up whenever ``colons``
    exceeds WHOLE_DOCUMENT_COLONS. Raises one of :func:`accel.decode_errors` for input
    msgspec refuses."""
    if levels < 0 or colons <= WHOLE_DOCUMENT_COLONS:
        return None  # a few batches at most: no decode of the whole document to risk
    chain_bytes = 0 if chain_raw is accel.UNSET else len(memoryview(chain_raw))
    if 2 * chain_bytes > len(data):
        return None  # its entries would be decoded for nothing: they are read as slices
    if not accel.keys_within_bmp(data):
        return None
    try:
        document: dict[str, Any] = accel.whole_document_decoder(levels).decode(data)
    except accel.decode_errors():
        return None  # judged member by member, as before
    chain: ChainSource | None = None
    if chain_bytes:
        chain = _chain_source(data, chain_raw)
        if chain is not None:
            # This leaves a hole where the chain was: dict(document) and {**document} would
            # then re-insert every member one by one; document.copy() still clones it.
            del document["chain"]
    many_names = _members_of_many_names(document, colons, chain_raw if chain else None)
    if many_names is None:
        return None
    return detect(document, size=len(data), chain=chain, raw=data, raw_colons=colons,
                  document_within_jcs=True, many_names=many_names)


#: At most this many top-level containers are looked at one by one for their names.
CONTAINERS_COUNTED = 4096


def _members_of_many_names(document: dict[str, Any], colons: int,
                           chain_raw: Any) -> frozenset[str] | None:
    """The members holding more than MANY_NAMES names (see Artifact.many_names), as
    :meth:`_MemberDecoder.count_names` finds them: a member's colons, names and
    characters of strings alike (an overcount at worst). ``colons``: the input's. None
    when more than CONTAINERS_COUNTED containers would be looked at."""
    # Colons that are not the top-level members' own: at most this many in any one member.
    if colons - len(document) <= MANY_NAMES:
        return frozenset()
    if chain_raw is not None and (colons - bytes(chain_raw).count(b":") - len(document)
                                  <= MANY_NAMES):
        return frozenset()
    kinds = map(isinstance, document.values(), repeat((dict, list)))
    containers = list(compress(document, kinds))
    if len(containers) > CONTAINERS_COUNTED:
        return None
    write = accel.plain_encoder()
    return frozenset(name for name in containers
                     if write(document[name]).count(b":") > MANY_NAMES)


#: Above this many object member names (colons) in a top-level member, its canonical
#: bytes are written apart (see Artifact.many_names).
MANY_NAMES = 1 << 16

#: Top-level members decoded together: one C decode for many small members (a document
#: may hold a million), while a member holding a float is found in a few halvings.
MEMBER_BATCH = 4096
#: A top-level member larger than this (bytes) is decoded by itself, never in a batch.
MEMBER_ALONE_BYTES = 1 << 16


class _MemberDecoder:
    """The top-level members but the chain, decoded a batch at a time as one JSON array:
    by the typed decoder (which proves depth and JCS-safe integers) when it accepts the
    batch, else untyped (both proofs then made on the bytes, see
    :mod:`keel_verify.load.nesting`); a batch holding a float is halved until the member
    that holds it is alone, and that member is read by
    :func:`keel_verify.load.accel.read_floats` (see :class:`FloatMember`)."""

    def __init__(self, document: dict[str, Any], max_depth: int, levels: int) -> None:
        self.max_depth = max_depth
        self.typed = accel.nested_items_decoder(levels) if levels >= 0 else None
        self.document = document  # the decoded members, in input order
        self.jcs_members: set[str] = set()  # proven inside the RFC 8785 domain, names too
        self.float_members: dict[str, FloatMember] = {}
        self.many_names: set[str] = set()
        self.untyped: list[bytes] = []  # batches decoded untyped, as JSON arrays

    def batches(self, keys: list[str], raws: list[Any]) -> None:
        # A large member is decoded by itself: batching pays for many small ones only, and
        # halving a batch down to a large member holding a float would decode it again
        # at every step.
        large = [len(raw) > MEMBER_ALONE_BYTES for raw in raws]
        for key, raw in compress(zip(keys, raws, strict=True), large):
            self.batch([key], [raw])
        if any(large):
            small = list(map(operator.not_, large))
            keys, raws = list(compress(keys, small)), list(compress(raws, small))
        for start in range(0, len(keys), MEMBER_BATCH):
            self.batch(keys[start : start + MEMBER_BATCH], raws[start : start + MEMBER_BATCH])

    def batch(self, keys: list[str], raws: list[Any]) -> None:
        joined = b"[" + b",".join(raws) + b"]"
        errors = accel.decode_errors()
        # A large member proven to hold a float would be refused by the typed decoder,
        # maybe only at its end (a float after 10^7 zeros): read with its floats at once.
        refused = (len(keys) == 1 and len(joined) > MEMBER_ALONE_BYTES
                   and nesting.holds_float_without_strings(joined))
        if self.typed is not None and not refused:
            try:
                values = self.typed.decode(joined)
                self.document.update(zip(keys, values, strict=True))
                if accel.keys_within_bmp(joined):
                    self.within_jcs(keys)
                self.count_names(keys, raws, joined)
                return
            except errors:
                pass
        if len(keys) == 1:
            self.alone(keys[0], bytes(raws[0]), joined)
            return
        try:
            values = accel.decoder("any").decode(joined)
        except accel.FloatSeen:
            half = len(keys) // 2
            self.batch(keys[:half], raws[:half])
            self.batch(keys[half:], raws[half:])
            return
        self.untyped_batch(keys, raws, values, joined)

    def untyped_batch(self, keys: list[str], raws: list[Any], values: list[Any],
                      joined: bytes) -> None:
        self.untyped.append(joined)
        self.document.update(zip(keys, values, strict=True))
        if nesting.integers_within_jcs(joined) and accel.keys_within_bmp(joined):
            self.within_jcs(keys)
        self.count_names(keys, raws, joined)

    def count_names(self, keys: list[str], raws: list[Any], joined: bytes) -> None:
        """Note the members holding more than MANY_NAMES names. Every colon of a
        member's bytes but those in strings is a name's: counting them all can only
        overcount, which costs nothing but a choice between exact writers."""
        if joined.count(b":") <= MANY_NAMES:
            return
        for key, raw in zip(keys, raws, strict=True):
            if bytes(raw).count(b":") > MANY_NAMES:
                self.many_names.add(key)

    def alone(self, key: str, raw: bytes, joined: bytes) -> None:
        """One member the typed decoder refused: read with its floats, if it has any."""
        part = accel.read_floats(raw)
        if part.twin is None:
            self.untyped_batch([key], [raw], [part.value], joined)
            return
        outside = nesting.outside_strings(raw)  # only for a member holding floats
        self.untyped.append(joined)  # for its depth
        self.document[key] = part.value
        canonical = accel.encode_sorted(part.twin)
        if not (max(key, default="") <= "\uffff"
                and nesting.integers_within_jcs(outside)
                and accel.keys_within_bmp(raw)):
            self.float_members[key] = FloatMember(canonical, part.floats, False)
            return
        located = float_divergences(part.value, part.twin, "/" + escape_token(key),
                                    FLOATS_LOCATED)
        self.float_members[key] = FloatMember(canonical, part.floats, True, tuple(located))

    def within_jcs(self, keys: list[str]) -> None:
        """Members whose values are proven inside the RFC 8785 domain: so are they, when
        their names are within the BMP."""
        names = "".join(keys)
        if names.isascii() or len(names.encode("utf-16-le")) == 2 * len(names):
            self.jcs_members.update(keys)
        else:
            self.jcs_members.update(key for key in keys if max(key, default="") <= "\uffff")

    def check_depth(self) -> None:
        """Raise LoadError for nesting beyond the limit in a member decoded untyped (each
        such batch is an array at the document's own level, depth 1)."""
        deepest = max(map(nesting.max_nesting, self.untyped), default=1)
        if deepest > self.max_depth or self.max_depth < 1:
            raise LoadError(f"nesting deeper than the limit of {self.max_depth} levels")


def sha256_of_input(data: bytes) -> str:
    return tagged_sha256(data)


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= 60 else text[:57] + "..."
