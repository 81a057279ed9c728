"""The single pass over the chain: the only place chain entries are decoded.

For each chunk of entries it produces every entry's canonical bytes once, hashes them
(the recomputed ``content_hash``), appends them to the signed message, and hands the
chunk to the per-entry visitors of the checks that look at entries. Nothing keeps the
entries afterwards, so a 100,000-entry chain costs the input bytes plus the signed
message in memory, not a tree of Python objects.

On the fast path (msgspec) this pass also completes the strict reading of the input:
msgspec refuses everything the strict parser refuses except duplicate object keys, and
those are excluded by counting colons. Canonical bytes never escape ``:``, numbers and
literals hold none, and the loader sends any ``\\u003a`` escape to the exact path; so
every ``:`` in the input is either a member's separator or a character of a string, and
the canonical bytes of the decoded document hold exactly as many colons as the input if
and only if decoding dropped no member -- which is what a duplicate key makes it do.

Parts that hold a float (a top-level member's value, a chunk of entries) are decoded by
msgspec too (:func:`keel_verify.load.accel.read_floats`), so a duplicate key inside them
is dropped just as silently, and the same count finds it: their canonical bytes are
written from their twin by msgspec's sorted encoder, which writes ``:`` unescaped and
once per member, and each float as its profile text (``float_text``: digits, sign,
``.``, ``e``, ``+``; never a colon); the twin is a decode of the same bytes as the value,
so it drops exactly the members the value drops.
"""

from __future__ import annotations

import operator
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from hashlib import sha256
from itertools import compress, repeat
from operator import methodcaller
from typing import Any, Protocol

from keel_verify.crypto.canonical import canonical_bytes, tagged_sha256
from keel_verify.crypto.signed_message import SignedMessage
from keel_verify.errors import LoadError
from keel_verify.gc_pause import collector_paused
from keel_verify.load import accel, entry_parts, member_sort
from keel_verify.load.dense import repeated_bytes, same_value
from keel_verify.load.loader import (
    MAX_DEPTH,
    Artifact,
    DecodedChunk,
    FloatMember,
    NeedsExactPath,
    parse_json,
    require_exact_path_size,
)
from keel_verify.load.member_sort import WideObjectWriter

CHUNK_ENTRIES = 512
#: A dense chain's chunks of values are read, hashed and written this many at a time
#: (:meth:`EntriesPass.run_dense`): a chunk of tiny entries costs more in fixed steps
#: than in entries.
DENSE_GROWTH = 16
SIGNATURES = "signatures"


#: The content hashes of the entries ``start`` to ``stop`` of a chunk, computed when first
#: asked for (see :attr:`Chunk.hashes`).
HashesOf = Callable[[int, int], "list[str | None]"]


@dataclass(frozen=True)
class Chunk:
    """Consecutive chain entries, as the pass hands them to every visitor."""

    first: int  # index of entries[0] in the chain
    entries: Sequence[Any]  # a list, or entries decoded when asked for (loader.LazyEntries)
    # Each entry's H(C(entry without content_hash)), None for one that is not an object:
    # the list, or how to compute any run of it. Read them by content_hashes or
    # content_hashes_between: a chain of junk objects is hashed only where some visitor
    # still reads its hashes (chain_integrity until it stopped, the report's edge rows).
    hashes: list[str | None] | HashesOf
    within_jcs: bool  # proven free of floats, unsafe integers and non-BMP keys
    flat: bool = False  # proven: every entry an object of strings, integers, booleans, nulls
    objects: bool = False  # proven: every entry an object
    encode: Callable[[Any], bytes] = canonical_bytes  # canonical bytes of these entries' values
    columns: dict[str, list[Any]] = field(default_factory=dict, compare=False, repr=False)
    same: bool = False  # proven: every entry is one and the same value
    offsets: list[list[int]] = field(default_factory=list, compare=False, repr=False)
    # Entries holding floats (fast path): their twin (keel_verify.load.loader.DecodedChunk),
    # how many floats, and whether those are proven the only values outside RFC 8785's domain.
    twin: list[Any] | None = field(default=None, compare=False, repr=False)
    floats: int = 0
    floats_only: bool = False
    # The entries that are objects, in order, once computed (see object_entries).
    held_objects: list[list[Any]] = field(default_factory=list, compare=False, repr=False)
    # The entries' canonical bytes, comma-joined, when the pass wrote them (see lacks_member).
    written: bytes | None = field(default=None, compare=False, repr=False)
    computed_hashes: list[list[str | None]] = field(default_factory=list, compare=False,
                                                   repr=False)

    @property
    def content_hashes(self) -> list[str | None]:
        """Every entry's content hash (computed once, for all visitors, when deferred)."""
        if isinstance(self.hashes, list):
            return self.hashes
        if not self.computed_hashes:
            self.computed_hashes.append(self.hashes(0, len(self.entries)))
        return self.computed_hashes[0]

    def content_hashes_between(self, start: int, stop: int) -> list[str | None]:
        """The content hashes of entries ``start`` to ``stop`` (a slice's bounds); when
        deferred and not yet computed, only theirs are computed."""
        if isinstance(self.hashes, list):
            return self.hashes[start:stop]
        if self.computed_hashes:
            return self.computed_hashes[0][start:stop]
        start, stop, _ = slice(start, stop).indices(len(self.entries))
        return self.hashes(start, max(start, stop))

    def object_offsets(self) -> list[int]:
        """The offsets of the entries that are objects, in order, computed once for all
        visitors in C (a chain of millions of tiny values has few or none)."""
        if not self.offsets:
            count = len(self.entries)
            if self.objects:
                self.offsets.append(list(range(count)))
            elif self.same:
                self.offsets.append(list(range(count)) if type(self.entries[0]) is dict else [])
            elif self.holds_no_object():
                self.offsets.append([])
            else:
                kinds = map(operator.is_, map(type, self.entries), repeat(dict))
                self.offsets.append(list(compress(range(count), kinds)))
        return self.offsets[0]

    def object_entries(self) -> list[Any]:
        """The entries that are objects, in order (all of them for a chunk of
        ``objects``), computed once for all visitors in C."""
        if self.objects:
            return _as_list(self.entries)
        if not self.held_objects:
            if self.holds_no_object():
                objects = []
            elif self.offsets:
                objects = list(map(self.entries.__getitem__, self.offsets[0]))
            else:  # one step per entry, no offsets built (most readers need none)
                objects = [entry for entry in self.entries if type(entry) is dict]
            self.held_objects.append(objects)
        return self.held_objects[0]

    def holds_no_object(self) -> bool:
        """Proven: no entry is an object (nor holds one). The bytes the pass wrote for
        these entries (``written``) hold each object's opening brace, outside any string,
        and a brace inside a string only as itself; so bytes without a ``{`` hold no
        object. One search in C, instead of a look at each entry's type."""
        return self.written is not None and b"{" not in self.written

    def lacks_member(self, name: str) -> bool:
        """Proven: no object among the entries, at any depth, has a member ``name`` (an
        ASCII name of letters, digits and underscores); False when not proven. Why: the
        bytes the pass wrote for these entries (``written``, their canonical bytes, or
        their twin's) hold each member of each object, at any depth, as its name's JSON
        string and a colon, and such a name is written as its characters between quotes
        by every JSON encoder; so when ``"name":`` occurs nowhere in them, no object has
        the member. One search in C, instead of a look into each object."""
        written = self.written
        if written is None or not (name.isascii() and name.replace("_", "a").isalnum()):
            return False
        return b'"' + name.encode() + b'":' not in written

    def moved(self, first: int) -> Chunk:
        """This chunk at another place in the chain (its computed columns shared)."""
        return replace(self, first=first)

    def part(self, start: int, stop: int) -> Chunk:
        """The entries ``start`` to ``stop`` of this chunk as a chunk of their own, at
        their place in the chain: their content hashes, the columns and object offsets
        computed so far, all sliced alike. Every proof of the chunk holds for a part of
        it; ``objects`` is proven for a part of objects when the offsets are known, and
        ``same`` only for a part of a chunk that is one value repeated (else not proven:
        a weaker proof, never a different answer). Not for a chunk holding floats (its
        float count cannot be split): the pass never grows those."""
        if self.twin is not None:
            raise ValueError("a chunk holding floats is not split")
        entries = self.entries[start:stop]
        count = len(entries)
        objects = self.objects
        offsets: list[list[int]] = []
        if self.offsets and not (self.objects or self.same):
            known = self.offsets[0]
            mine = known[bisect_left(known, start) : bisect_left(known, stop)]
            offsets.append(list(map(operator.sub, mine, repeat(start))) if start else mine)
            objects = len(mine) == count > 0
        columns = {key: values[start:stop] for key, values in self.columns.items()}
        hashes = (partial(_hashes_moved, self.hashes, start)
                  if not isinstance(self.hashes, list) and not self.computed_hashes
                  else self.content_hashes_between(start, stop))  # still deferred, or known
        return Chunk(self.first + start, entries, hashes,
                     self.within_jcs, self.flat, objects, self.encode, columns,
                     self.same and count > 1, offsets)

    def column(self, key: str) -> list[Any]:
        """``entry.get(key)`` for every entry, computed once for all visitors (only for a
        chunk proven to be ``objects``)."""
        values = self.columns.get(key)
        if values is None:
            if self.same:
                values = [self.entries[0].get(key)] * len(self.entries)
            else:
                values = list(map(dict.get, self.entries, repeat(key)))
            self.columns[key] = values
        return values

    def encoded_column(self, key: str) -> list[bytes]:
        """The canonical bytes of ``entry.get(key)`` for every entry (only for a chunk
        proven to be ``objects``), in C: from the twin when the entries hold floats."""
        if self.twin is None:
            return list(map(self.encode, self.column(key)))
        return list(map(accel.sorted_encoder(), map(dict.get, self.twin, repeat(key))))


class EntryVisitor(Protocol):
    """Per-check state fed with every chunk of chain entries, in order.

    Optional: ``stops_before(first: int) -> bool``, asked at each chunk boundary in chain
    order (``first``: the chunk's first entry): once True, the visitor is fed no more
    chunks (a check that found enough problems; see keel_verify.checks.entry_problems).
    It may depend only on the chunks fed before, so every way of making the pass stops
    at the same entry.

    Optional: ``unchanged_by(chunk: Chunk) -> bool``: True only when visiting ``chunk``,
    or any run of its entries as a chunk of its own (:meth:`Chunk.part`), would change
    nothing of the visitor (so neither its findings nor its stop). A dense chain's grown
    chunk is then not fed to it at all (:meth:`EntriesPass.visit_grown`)."""

    def visit(self, chunk: Chunk) -> None: ...


VisitorFactory = Callable[[Artifact], EntryVisitor]


@dataclass(frozen=True)
class ChainPass:
    message: SignedMessage  # C(artifact without "signatures"), as digests: what signatures cover
    content_hash: str  # H(message)
    visitors: Mapping[str, EntryVisitor]
    # The chain's last entry, decoded, when some visitor stopped before it (what a check
    # compares after the chain must still be the real last entry); else None.
    last_entry: Any = None

    def visitor(self, name: str) -> Any:
        return self.visitors[name]


#: The message is fed to its digests in pieces of about this size.
FLUSH_BYTES = 1 << 20


class MessageWriter:
    """Collects the message's small pieces and feeds them to its digests about a MiB at
    a time, counting colons for the duplicate-key proof; nothing more is ever held."""

    def __init__(self, message: SignedMessage) -> None:
        self.message = message
        self.buffer = bytearray()
        self.colons = 0

    def write(self, piece: bytes | bytearray) -> None:
        if len(piece) >= FLUSH_BYTES // 4:  # a chunk's bytes: fed as they are, not copied
            self.flush()
            self._feed(piece)
            return
        self.buffer += piece
        if len(self.buffer) >= FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            self._feed(self.buffer)
            self.buffer.clear()

    def _feed(self, piece: bytes | bytearray) -> None:
        self.colons += piece.count(b":")
        self.message.update(piece)


def _members_bytes(names: list[str], document: Mapping[str, Any], encode: Callable[[Any], bytes],
                   alone: frozenset[str], float_members: Mapping[str, FloatMember]) -> bytes:
    """The canonical bytes of the members of ``document`` named in ``names`` (sorted),
    comma-joined: each run of members between those ``alone`` as one object in one call
    of an encoder (its braces cut off; the run is built in sorted order, so a run of
    scalars is written in insertion order, unsorted), and each member ``alone`` by
    itself: one in ``float_members`` with the value's canonical bytes written when it was
    decoded, any other (one holding many names: see Artifact.many_names) by
    :func:`_many_names_bytes`."""
    pieces: list[bytes] = []
    start = 0
    alone_at = []
    for key in alone:
        at = bisect_left(names, key)
        if names[at : at + 1] == [key]:
            alone_at.append(at)
    alone_at.sort()
    for at in [*alone_at, len(names)]:
        if at > start:
            run = names[start:at]
            values = list(map(document.__getitem__, run))
            write = (accel.plain_encoder() if encode is not canonical_bytes
                     and set(map(type, values)) <= member_sort.SCALARS else encode)
            pieces.append(write(dict(zip(run, values, strict=True)))[1:-1])
        if at < len(names):
            key = names[at]
            float_member = float_members.get(key)
            pieces.append(canonical_bytes(key) + b":" + (
                _many_names_bytes(document[key]) if float_member is None
                else float_member.canonical))
        start = at + 1
    return b",".join(pieces)


#: At most this many top-level members are written apart from the rest by
#: :func:`_members_sorted_as_bytes` (a container, a float, many names): one step each.
MEMBERS_WRITTEN_APART = 4096


def _members_sorted_as_bytes(artifact: Artifact,
                             encode: Callable[[Any], bytes]) -> tuple[bytes, bytes] | None:
    """The signed members' canonical bytes (fast path), comma-joined, those sorted before
    "chain" and those after: one encoding of the whole document in insertion order, cut
    into members and sorted as bytes (a million members cost a few C calls, not a Python
    step or a dict insertion each). None when not proven to give the profile's bytes:
    then they are written member by member.

    Why it is exact: see :mod:`keel_verify.load.member_sort` (the document's members are
    cut and sorted as an object's are). The few members whose value is a container, holds
    a float or many names stand in as ``null`` and are written apart, each as the
    member-by-member path writes it."""
    document = artifact.document
    names = list(document)
    if len(names) < 2 or not member_sort.names_sort_as_bytes(names):
        return None
    kinds = map(member_sort.SCALARS.__contains__, map(type, document.values()))
    apart = set(compress(names, map(operator.not_, kinds)))
    del names
    apart.update(artifact.many_names, artifact.float_members)
    apart.discard(SIGNATURES)
    if len(apart) > MEMBERS_WRITTEN_APART:
        return None
    standing_in = document.copy()  # a clone (hole and all), then values replaced
    for name in apart:
        standing_in[name] = None
    standing_in.pop(SIGNATURES, None)
    pieces = member_sort.cut_members(standing_in)
    del standing_in
    if pieces is None:
        return None
    pieces.sort()
    for name in apart:
        head = name.encode() + b'":'
        at = bisect_left(pieces, head)
        float_member = artifact.float_members.get(name)
        value = document[name]
        pieces[at] = head + (float_member.canonical if float_member is not None
                             else _many_names_bytes(value) if name in artifact.many_names
                             else encode(value))
    cut = bisect_left(pieces, b'chain"') if artifact.chain is not None else len(pieces)
    return _joined(pieces[:cut]), _joined(pieces[cut:])


def _many_names_bytes(value: Any) -> bytes:
    """The canonical bytes of a top-level member's value holding many names
    (Artifact.many_names; it holds no float, so msgspec's sorted encoder and the exact
    encoder write the same bytes). Each shape goes the cheapest exact way (measured at
    10^6 names): a wide object of scalars whose names come in a few runs is cut and
    sorted as bytes (:func:`keel_verify.load.member_sort.sorted_as_bytes`, about 80 ns a
    name); a wide object of other values whose names come in a few runs is written by
    the exact encoder, whose sort merges runs (0.55 s against msgspec's 0.75 s);
    anything else by msgspec's sorted encoder: the exact encoder takes seven times as
    long on scattered names (2.5 s against 0.35 s) and ten times as long on a list of
    small objects (20,000 receipts: 86 ms against 9 ms). (A wide object of few runs
    deeper down costs both encoders about the same; looking for it costs more than it
    saves here, where the values outside the chain are at most 2^20.)"""
    if (type(value) is dict and len(value) >= member_sort.WIDE_OBJECT_MEMBERS
            and member_sort.few_runs(value)):
        written = member_sort.sorted_as_bytes(value)
        return canonical_bytes(value) if written is None else written
    return accel.sorted_encoder()(value)


def _joined(pieces: list[bytes]) -> bytes:
    """Members cut at ``,"``, written back (``pieces`` is changed)."""
    if not pieces:
        return b""
    pieces[0] = b'"' + pieces[0]
    return member_sort.joined_members(pieces)


def run_chain_pass(
    artifact: Artifact,
    factories: Mapping[str, VisitorFactory],
    *,
    max_depth: int = MAX_DEPTH,
    chunk_entries: int | None = None,
) -> ChainPass:
    """Raises LoadError for input the fast path finds unreadable only now (a duplicate
    key, nesting inside an entry), and NeedsExactPath to restart on the exact path."""
    document = artifact.document
    exact = artifact.exact_path
    encode: Callable[[Any], bytes] = canonical_bytes if exact else accel.sorted_encoder()
    visitors = {name: factory(artifact) for name, factory in factories.items()}
    # The signed members in the profile's order (by code point): all but "signatures",
    # and but "chain" when its entries are written by the pass (a chain that is not an
    # array stays a member, encoded as it is); those sorted before "chain", and after.
    split = None if exact else _members_sorted_as_bytes(artifact, encode)
    if split is None:
        members = sorted(document)
        for unsigned in (SIGNATURES, "chain") if artifact.chain is not None else (SIGNATURES,):
            at = bisect_left(members, unsigned)
            if members[at : at + 1] == [unsigned]:
                del members[at]
        cut = bisect_left(members, "chain") if artifact.chain is not None else len(members)
        alone = artifact.many_names | frozenset(artifact.float_members)
        split = (_members_bytes(members[:cut], document, encode, alone, artifact.float_members),
                 _members_bytes(members[cut:], document, encode, alone, artifact.float_members))
    before, after = split
    out = MessageWriter(SignedMessage(document.get(SIGNATURES)))
    last_entry = None
    out.write(b"{")
    out.write(before)
    if artifact.chain is not None:
        out.write(b',"chain":[' if before else b'"chain":[')
        entries = EntriesPass(artifact, factories, encode, out, visitors, max_depth,
                              chunk_entries or CHUNK_ENTRIES)
        entries.run()
        if entries.stopped:
            last_entry = entries.decoded(len(artifact.chain) - 1, 1).entries[0]
        out.write(b"]")
        if after:
            out.write(b",")
    out.write(after)
    out.write(b"}")
    out.flush()

    if not exact:
        _prove_no_duplicate_keys(artifact, out.colons, encode)
    return ChainPass(
        message=out.message,
        content_hash=out.message.content_hash,
        visitors=visitors,
        last_entry=last_entry,
    )


def read_strictly(
    data: bytes,
    factories: Mapping[str, VisitorFactory] | None = None,
    *,
    max_depth: int = MAX_DEPTH,
    exact: bool = False,
) -> tuple[Artifact, ChainPass]:
    """Load and make the chain pass; the whole strict reading of an input. Raises LoadError."""
    from keel_verify.load.loader import load_bytes

    if not exact:
        try:
            artifact = load_bytes(data, max_depth=max_depth)
            return artifact, run_chain_pass(artifact, factories or {}, max_depth=max_depth)
        except NeedsExactPath:
            pass
    artifact = load_bytes(data, max_depth=max_depth, exact=True)  # bounded: MAX_EXACT_PATH_BYTES
    return artifact, run_chain_pass(artifact, factories or {}, max_depth=max_depth)


@dataclass
class EntriesPass:
    """The chain's entries, chunk by chunk, in order: each chunk's canonical bytes go to
    the message and the chunk to every visitor. A long chain on the fast path is shared
    with a worker process (:mod:`keel_verify.load.shards`) that does whole chunks --
    decoding, hashing, encoding, visiting -- while this process does others."""

    artifact: Artifact
    factories: Mapping[str, VisitorFactory]
    encode: Callable[[Any], bytes]
    out: MessageWriter
    visitors: Mapping[str, EntryVisitor]
    max_depth: int
    chunk_entries: int
    stopped: set[str] = field(default_factory=set)  # visitors fed no more chunks
    # The last chunk made of one entry repeated: that entry's input bytes, the chunk, its
    # canonical bytes (a hostile chain repeats one entry over and over).
    repeated: tuple[Any, Chunk, bytes] | None = None
    may_stop: list[tuple[str, Callable[[int], bool]]] | None = None  # the others that can

    def run(self) -> None:
        from keel_verify.load import shards

        chain = self.artifact.chain
        assert chain is not None
        if chain.dense is not None:
            self.run_dense()
            return
        worker = shards.start_worker(self)
        try:
            for index, first in enumerate(range(0, len(chain), self.chunk_entries)):
                if index:
                    self.out.write(b",")
                for name in self.stopping_before(first):
                    if worker is not None:
                        worker.stop_visitor(name)
                if worker is not None and worker.owns(index):
                    worker.take(index, first)
                else:
                    self.here(first)
        finally:
            if worker is not None:
                worker.stop()

    def run_dense(self) -> None:
        """A dense chain (:mod:`keel_verify.load.dense`): its chunks as they are read, all
        in this process (never shared with a worker: its entries are too small for that
        to pay), with the same chunk boundaries and stop decisions as any other pass.

        Chunks of values come grown (up to :data:`DENSE_GROWTH` chunks at once), read,
        hashed and written once, and handed whole to the visitors that never stop (or
        stopped already); a visitor that may still stop is fed them chunk by chunk, its
        stop decided between them as for every other chunk (:meth:`visit_grown`)."""
        assert self.artifact.chain is not None and self.artifact.chain.dense is not None
        size = self.chunk_entries
        chunks = self.artifact.chain.dense.chunks(size, self.max_depth, size * DENSE_GROWTH)
        with collector_paused():  # millions of small objects made and freed, no cycle
            # Each chunk is done in a call of its own and let go here before the next is
            # read (DenseChain.chunks holds one part at a time): a for loop's variable, and
            # enumerate's or zip's reused tuple, would hold the last while the next is read.
            index = 0
            decoded = next(chunks, None)
            while decoded is not None:
                self._dense_chunk(index, decoded)
                index += 1
                decoded = None
                decoded = next(chunks, None)

    def _dense_chunk(self, index: int, decoded: DecodedChunk) -> None:
        """The ``index``-th chunk of :meth:`run_dense`."""
        size = self.chunk_entries
        if index:
            self.out.write(b",")
        first = decoded.first
        if first % size == 0:  # a chunk boundary (a part of a chunk over the value
            self.stopping_before(first)  # limit may start between two)
        if _boundaries_in(first, len(decoded.entries), size) == [first]:
            self.here(first, decoded=decoded)
            return
        chunk, piece = self.chunk(first, decoded)
        self.out.write(piece)
        self.visit_grown(chunk)

    def visit_grown(self, chunk: Chunk) -> None:
        """Feed a grown chunk (entries across chunk boundaries of the pass's size, the stop
        decisions before its first entry taken): whole to each visitor that cannot stop,
        and part by part to each that still may, the parts cut at those boundaries, asking
        at each which of them stop there (:meth:`stopping_before`), as a pass of chunks of
        that size does."""
        size = self.chunk_entries
        may_stop = {name for name, _ in self.may_stop or ()}
        for name in self.active():
            if name not in may_stop:
                self.visitors[name].visit(chunk)
        # A visitor this chunk leaves unchanged is asked nothing within it: it would not
        # stop there (nothing it was fed changed), and each part would change nothing.
        fed = [name for name in may_stop if not _unchanged(self.visitors[name], chunk)]
        if not fed:
            return
        count = len(chunk.entries)
        cuts = [at - chunk.first for at in _boundaries_in(chunk.first, count, size)]
        for start, stop in zip(cuts, [*cuts[1:], count], strict=True):
            if start:
                self.stopping_before(chunk.first + start)
            part = chunk.part(start, stop)
            for name in self.active():
                if name in fed:  # active(): not stopped
                    self.visitors[name].visit(part)

    def stopping_before(self, first: int) -> list[str]:
        """The visitors that stop at the chunk boundary before entry ``first`` (decided
        here alone, from the chunks before it: see :class:`EntryVisitor`)."""
        if self.may_stop is None:
            self.may_stop = [(name, visitor.stops_before) for name, visitor in self.visitors.items()
                             if hasattr(visitor, "stops_before")]
        stopping = [name for name, stops in self.may_stop if stops(first)]
        if stopping:
            self.stopped.update(stopping)
            self.may_stop = [(name, stops) for name, stops in self.may_stop
                             if name not in self.stopped]
        return stopping

    def active(self) -> list[str]:
        """The visitors still fed, in registration order."""
        return [name for name in self.visitors if name not in self.stopped]

    def decoded(self, first: int, size: int | None = None) -> DecodedChunk:
        assert self.artifact.chain is not None
        return self.artifact.chain.chunk_at(first, size or self.chunk_entries, self.max_depth)

    def chunk(self, first: int, decoded: DecodedChunk | None = None,
              size: int | None = None) -> tuple[Chunk, bytes]:
        """The chunk at ``first`` (``decoded`` already, when given; of ``size`` entries, a
        part of a chunk, else of the pass's size) as visitors see it, and its entries'
        canonical bytes. A chunk whose input is the entry of the last
        repeated chunk, as many times, is that chunk at another place: the same bytes
        decode and hash to the same values, so nothing is decoded or hashed again (for a
        chunk decoded already: the same value, as :func:`keel_verify.load.dense.same_value`
        tells)."""
        if decoded is not None:
            if decoded.same and self.repeated is not None:
                value, chunk, piece = self.repeated
                if (len(chunk.entries) == len(decoded.entries)
                        and same_value(value, decoded.entries[0])):
                    return chunk.moved(decoded.first), piece
            chunk, piece = self.hashed(decoded)
            self.repeated = (decoded.entries[0], chunk, piece) if chunk.same else None
            return chunk, piece
        raw = self.artifact.chain.raw_items if self.artifact.chain is not None else None
        if self.repeated is not None and raw is not None:
            item, chunk, piece = self.repeated
            count = min(size or self.chunk_entries, len(raw) - first)
            if count == len(chunk.entries) and raw[first : first + count].count(item) == count:
                return chunk.moved(first), piece
        chunk, piece = self.hashed(self.decoded(first, size))
        self.repeated = (raw[first], chunk, piece) if chunk.same and raw is not None else None
        return chunk, piece

    def hashed(self, decoded: DecodedChunk) -> tuple[Chunk, bytes]:
        """The chunk as visitors see it, and its entries' canonical bytes, comma-joined."""
        first, entries, within_jcs = decoded.first, decoded.entries, decoded.within_jcs
        same, objects, flat = decoded.same, decoded.objects, decoded.flat
        # A chunk holding a float: its canonical bytes come from its twin (each float a
        # msgspec.Raw of its profile text; its dicts are this chunk's own, so _hash_entries
        # may take a member out and put it back). Visitors get the entries, real floats and
        # all, and the exact encoder, which writes any value they hand it as the profile does.
        twin = decoded.twin
        source = entries if twin is None else twin
        write = self.encode if twin is None else accel.sorted_encoder()
        encode = self.encode if twin is None else canonical_bytes
        hashed = source[:1] if same else source  # one value repeated: hashed once
        columns: dict[str, list[Any]] = {}

        def made(hashes: list[str | None] | HashesOf, offsets: list[list[int]],
                 written: bytes | None = None) -> Chunk:
            return Chunk(first, entries, hashes, within_jcs, flat, objects, encode, columns,
                         same, offsets, twin, decoded.floats, decoded.floats_only,
                         written=written)

        if not objects:  # in C per chunk, whatever the entries: one encoding of them all
            if decoded.canonical is not None:  # proven: its input bytes, and no object
                none: list[str | None] = [None] * len(entries)
                return made(none, [[]]), (decoded.canonical if not same
                                          else repeated_bytes(decoded.canonical, len(entries)))
            listed = _as_list(hashed)
            write = _writer_for(listed, write, decoded.narrow)
            # Entries that may hold a wide object are written one by one, once: their
            # bytes serve the hashes too (an object stating a content_hash is written
            # again without it, as any is).
            each = list(map(write, listed)) if type(write) is WideObjectWriter else None
            piece = write(listed)[1:-1] if each is None else b",".join(each)
            if same:
                hashes = _hash_any_entries(listed, write, self.artifact.exact_path, each)
                return made(hashes * len(entries), []), repeated_bytes(piece, len(entries))
            # Deferred: hashed when a visitor first reads them (see Chunk.hashes).
            return made(partial(_any_hashes, listed, write, written=each), [], piece), piece
        objects_hashed = _as_list(hashed)  # objects: always decoded, a list
        write = _writer_for(objects_hashed, write, decoded.narrow)
        stated = list(map(dict.get, objects_hashed, repeat("content_hash")))
        # Tiny objects (a dense chain) are cut from one encoding of them all; real entries
        # are encoded one by one (one of their own may hold a "},{" and cost a second pass).
        dense = self.artifact.chain is not None and self.artifact.chain.dense is not None
        encoded = (_each_encoded(objects_hashed, write) if dense
                   else list(map(write, objects_hashed)))
        # The visitors' column holds the entries' values (the twin's floats are texts).
        column = stated if twin is None else list(map(
            dict.get, entries[:1] if same else entries, repeat("content_hash")))
        if same:
            one = _hash_object_entries(objects_hashed, write, flat, stated, encoded)[0]
            columns["content_hash"] = column * len(entries)
            return made(one * len(entries), []), repeated_bytes(encoded[0], len(entries))
        # Deferred: hashed when a visitor first reads them (see Chunk.hashes).
        columns["content_hash"] = column
        hashes_of = partial(_object_hashes, objects_hashed, write, flat, stated, encoded)
        piece = b",".join(encoded)
        return made(hashes_of, [], piece), piece

    def here(self, first: int, only: Iterable[str] | None = None, write: bool = True,
             decoded: DecodedChunk | None = None) -> None:
        """Do the chunk at ``first`` (``decoded`` already, when given) in this process
        (for the visitors named in ``only``, else for every visitor still fed): part by
        part when it is over the value limit (:meth:`parts`), each part's entries let go
        before the next is decoded. Every visitor is fed the parts in order with no stop
        decision between them, which is feeding it the chunk."""
        names = self.active() if only is None else list(only)
        for index, (chunk, piece) in enumerate(self.parts(first, decoded)):
            if write:
                if index:
                    self.out.write(b",")
                self.out.write(piece)
            for name in names:
                self.visitors[name].visit(chunk)

    def parts(self, first: int,
              decoded: DecodedChunk | None = None) -> Iterator[tuple[Chunk, bytes]]:
        """The chunk at ``first`` (as :meth:`chunk`), or, when its entries bound more
        values together than the limit (:class:`keel_verify.load.entry_parts.InParts`),
        its parts in order, each decoded once the one before was let go. LoadError for an
        entry over the limit by itself."""
        try:
            made = self.chunk(first, decoded)
        except entry_parts.InParts as over:
            found = over.parts
        else:
            yield made
            return
        for start, stop, _ in found:
            yield self.chunk(first + start, size=stop - start)


def _writer_for(entries: list[Any], write: Callable[[Any], bytes],
                narrow: bool = False) -> Callable[[Any], bytes]:
    """``write`` for a chunk's ``entries``; unless they are proven to hold no wide object
    (``narrow``: :attr:`DecodedChunk.narrow`) or ``write`` is the exact encoder, the same
    bytes written cheaply where an entry holds one
    (:class:`keel_verify.load.member_sort.WideObjectWriter`, called on each entry):
    msgspec's sorted encoder costs about 540 ns a member on an object of 10^6 members
    named in a few runs, the cut and sort 80."""
    if narrow or write is canonical_bytes or not entries:
        return write
    return WideObjectWriter(write)


def _boundaries_in(first: int, count: int, size: int) -> list[int]:
    """``first`` and the chunk boundaries (multiples of ``size``) after it among the
    ``count`` entries from ``first``: where a run of entries is cut into the pass's
    chunks (or the parts of one)."""
    inner = range(first - first % size + size, first + count, size)
    return [first, *inner]


def _hashes_moved(hashes_of: HashesOf, offset: int, start: int, stop: int) -> list[str | None]:
    """``hashes_of`` for a part starting at ``offset`` of its chunk."""
    return hashes_of(offset + start, offset + stop)


def _unchanged(visitor: EntryVisitor, chunk: Chunk) -> bool:
    """Whether the visitor says that ``chunk`` and its parts would change nothing of it
    (the optional ``unchanged_by`` of :class:`EntryVisitor`)."""
    unchanged_by = getattr(visitor, "unchanged_by", None)
    return unchanged_by is not None and bool(unchanged_by(chunk))


def _as_list(values: Sequence[Any]) -> list[Any]:
    """``values`` as a list (encoders take lists; lazily decoded entries are decoded)."""
    return values if isinstance(values, list) else list(values)


_CONTENT_HASH_KEY = b'"content_hash":'


def _object_hashes(entries: list[dict[str, Any]], encode: Callable[[Any], bytes], flat: bool,
                   stated: list[Any], encoded: list[bytes], start: int,
                   stop: int) -> list[str | None]:
    """The content hashes of ``entries[start:stop]``, objects each (a chunk's deferred
    :attr:`Chunk.hashes`), from their canonical bytes ``encoded`` and stated
    ``content_hash`` values. Never changes an entry: visitors may hold them already."""
    whole = start == 0 and stop == len(entries)
    return _hash_object_entries(
        entries if whole else entries[start:stop], encode, flat,
        stated if whole else stated[start:stop], encoded if whole else encoded[start:stop],
        mutate=False)[0]


def _hash_object_entries(
    entries: list[dict[str, Any]], encode: Callable[[Any], bytes], flat: bool,
    stated: list[Any] | None = None, encoded: list[bytes] | None = None, *,
    mutate: bool = True,
) -> tuple[list[str | None], list[bytes]]:
    """One encoding per entry: the hashed form is the full form less its content_hash
    member. In a flat object that member's bytes occur once: a string's own quotes are
    always escaped, so '"content_hash":' cannot occur inside a value. A nested value may
    hold a "content_hash" member of its own, so there the member's bytes must be found
    exactly once in the entry's bytes (else the entry is encoded a second time).
    ``encoded``: the entries' canonical bytes, when already written. ``mutate``: whether
    an entry's member may be taken out and put back (moving it last in the dict)."""
    if encoded is None:
        encoded = list(map(encode, entries))
    if stated is None:
        stated = [entry.get("content_hash") for entry in entries]
    if None not in stated or all(map(operator.contains, entries, repeat("content_hash"))):
        # Every entry has the member (the common case, and any garbage that states one),
        # in C: each member removed with the comma before it, and the removal proved by
        # the lengths (every member found, and found once).
        members = _content_hash_members(stated, encode)
        if flat or _found_once_at_top(encoded, members):
            bodies = list(map(bytes.replace, encoded, members, repeat(b""), repeat(1)))
            removed = map(operator.sub, map(len, encoded), map(len, bodies))
            if list(removed) == list(map(len, members)):
                digests = map(_hexdigest, map(sha256, bodies))
                return ["sha256:" + digest for digest in digests], encoded
    if stated.count(None) == len(stated) and not any(
            map(operator.contains, entries, repeat("content_hash"))):
        # No entry has the member (a chain of garbage): each hashes its full bytes.
        return _tagged_digests(encoded), encoded
    if not flat:
        return _hash_entries(entries, encode, not mutate)
    hashes: list[str | None] = []
    for entry, full in zip(entries, encoded, strict=True):
        if "content_hash" not in entry:
            hashes.append("sha256:" + sha256(full).hexdigest())
            continue
        member = _CONTENT_HASH_KEY + encode(entry["content_hash"])
        at = full.find(member)
        end = at + len(member)
        if full[at - 1] == 0x2C:  # a comma before it: drop that comma with the member
            body = full[: at - 1] + full[end:]
        elif full[end] == 0x2C:  # the first member: drop the comma after it
            body = full[:at] + full[end + 1 :]
        else:  # the only member
            body = full[:at] + full[end:]
        hashes.append("sha256:" + sha256(body).hexdigest())
    return hashes, encoded


def _found_once_at_top(encoded: list[bytes], members: list[bytes]) -> bool:
    """Each member occurs once in its entry's bytes, comma and all, and once without its
    comma: so the one occurrence is the entry's own member, after another member."""
    once = [1] * len(members)
    bare = [member[1:] for member in members]
    return (list(map(bytes.count, encoded, members)) == once
            and list(map(bytes.count, encoded, bare)) == once)


_MEMBER_KEY = b"," + _CONTENT_HASH_KEY


def _content_hash_members(stated: list[Any], encode: Callable[[Any], bytes]) -> list[bytes]:
    """``,"content_hash":<value>`` for each value; for strings, cut from one encoding of
    the whole list. When that JSON text holds no backslash and no comma but the n - 1
    between its strings, every quote in it delimits a string and every comma separates
    two, so ``","`` occurs exactly at the boundaries; raw newlines never occur in JSON
    text, so a newline marks each boundary for one split. Otherwise (or for values of any
    other type) each value is encoded by itself."""
    if set(map(type, stated)) == {str}:
        text = encode(stated)
        if b"\\" not in text and text.count(b",") == len(stated) - 1:
            glued = text[1:-1].replace(b'","', b'"\n' + _MEMBER_KEY + b'"')
            return (_MEMBER_KEY + glued).split(b"\n")
    return [_MEMBER_KEY + value for value in map(encode, stated)]


_hexdigest = methodcaller("hexdigest")


#: Pieces shorter than this on average are hashed once per distinct value: a chain of
#: millions of small entries repeats few values, and real entries (hundreds of bytes,
#: each different) would only pay for the lookups.
SHORT_PIECE_BYTES = 64


def _tagged_digests(pieces: list[bytes]) -> list[str | None]:
    """``H(piece)`` for each piece, in C; short pieces hashed once per distinct value
    (equal bytes have an equal hash)."""
    if len(pieces) > 1 and sum(map(len, pieces)) < SHORT_PIECE_BYTES * len(pieces):
        distinct = dict.fromkeys(pieces)
        table = dict(zip(distinct, _tagged_digests_each(list(distinct)), strict=True))
        return list(map(table.__getitem__, pieces))
    return _tagged_digests_each(pieces)


def _tagged_digests_each(pieces: list[bytes]) -> list[str | None]:
    return ["sha256:" + digest for digest in map(_hexdigest, map(sha256, pieces))]


def _hash_any_entries(
    entries: list[Any], encode: Callable[[Any], bytes], keep_entries: bool,
    written: list[bytes] | None = None,
) -> list[str | None]:
    """Each entry's content hash (None for an entry that is not an object), in C per
    entry whatever the entries (a chain of millions of tiny values): only the objects
    are encoded, once, and each distinct object is hashed once (equal canonical bytes are
    an equal value, hence an equal hash). ``keep_entries``: never take a member out of
    an entry and put it back (which moves it last), as when a visitor may hold it.
    ``written``: each entry's canonical bytes, when written already."""
    offsets = list(compress(range(len(entries)), map(operator.is_, map(type, entries),
                                                     repeat(dict))))
    hashes: list[str | None] = [None] * len(entries)
    if not offsets:
        return hashes
    objects = list(map(entries.__getitem__, offsets))
    encoded = (_each_encoded(objects, encode) if written is None
               else list(map(written.__getitem__, offsets)))
    distinct = dict(zip(encoded, objects, strict=True))
    if not any(map(operator.contains, distinct.values(), repeat("content_hash"))):
        # No member to leave out: each distinct object's hash is that of its bytes, the
        # keys of ``distinct``.
        table = dict(zip(distinct, _tagged_digests_each(list(distinct)), strict=True))
    else:  # their bytes, the keys, passed on (objects with and without content_hash: encoded again)
        table = dict(zip(distinct, _hash_object_entries(
            list(distinct.values()), encode, False, None, list(distinct),
            mutate=not keep_entries)[0], strict=True))
    deque(map(hashes.__setitem__, offsets, map(table.__getitem__, encoded)), maxlen=0)
    return hashes


def _any_hashes(entries: list[Any], encode: Callable[[Any], bytes], start: int,
                stop: int, written: list[bytes] | None = None) -> list[str | None]:
    """The content hashes of ``entries[start:stop]``, whatever they are (a chunk's
    deferred :attr:`Chunk.hashes`): each entry's hash is a function of its value alone,
    so a run's hashes are those of the whole chunk's at its place. Never changes an
    entry: visitors may hold them already. ``written``: each entry's canonical bytes,
    when written already."""
    if start == 0 and stop == len(entries):
        return _hash_any_entries(entries, encode, True, written)
    return _hash_any_entries(entries[start:stop], encode, True,
                             None if written is None else written[start:stop])


def _each_encoded(objects: list[dict[str, Any]], encode: Callable[[Any], bytes]) -> list[bytes]:
    """Each object's bytes, cut from one encoding of the list when that is safe: the
    n - 1 places where one object ends and the next begins each read ``},{``, so when the
    text holds exactly n - 1 of them, each is such a place (a raw newline never occurs
    in JSON text, so it marks them for one split). Else, or when ``encode`` is for wide
    objects (:func:`_writer_for`), each object is encoded alone."""
    if type(encode) is WideObjectWriter:
        return list(map(encode, objects))
    text = encode(objects)
    if text.count(b"},{") == len(objects) - 1:
        return text[1:-1].replace(b"},{", b"}\n{").split(b"\n")
    return list(map(encode, objects))


def _hash_entries(
    entries: list[Any], encode: Callable[[Any], bytes], keep_entries: bool
) -> tuple[list[str | None], list[bytes]]:
    encoded = list(map(encode, entries))
    if set(map(type, entries)) == {dict} and not any(
            map(operator.contains, entries, repeat("content_hash"))):
        return _tagged_digests(encoded), encoded  # no member to leave out: as above
    hashes: list[str | None] = []
    for entry, full in zip(entries, encoded, strict=True):
        if type(entry) is not dict:
            hashes.append(None)
        elif "content_hash" not in entry:
            hashes.append(tagged_sha256(full))
        elif keep_entries:  # the document's own dicts, or ones a visitor holds: unchanged
            hashes.append(tagged_sha256(encode(
                {k: v for k, v in entry.items() if k != "content_hash"})))
        else:  # our own fresh dicts, before any visitor: take it out, put it back
            stated = entry.pop("content_hash")
            hashes.append(tagged_sha256(encode(entry)))
            entry["content_hash"] = stated
    return hashes, encoded


def _prove_no_duplicate_keys(
    artifact: Artifact, colons: int, encode: Callable[[Any], bytes]
) -> None:
    if SIGNATURES in artifact.document:
        float_member = artifact.float_members.get(SIGNATURES)
        signatures = (encode(artifact.document[SIGNATURES]) if float_member is None
                      else float_member.canonical)
        colons += 1 + signatures.count(b":")
    if colons == artifact.raw_colons:
        return
    require_exact_path_size(artifact.raw)
    parse_json(artifact.raw)  # raises the exact, worded LoadError for the duplicate
    # The strict parser found nothing: the counts disagree for a reason this proof does
    # not model, so trust neither path's reading and let the exact path judge alone.
    raise NeedsExactPath


__all__ = [
    "ChainPass", "Chunk", "EntryVisitor", "LoadError", "VisitorFactory", "read_strictly",
    "run_chain_pass",
]
