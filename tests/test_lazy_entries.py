"""A chunk of raw chain entries proven on its bytes to need no decode (no string, no
object, no float, JCS-safe integers, written canonically, within the depth limit) is
written as it is and its entries are decoded only when a visitor asks for them
(:class:`keel_verify.load.loader.LazyEntries`): once the checks that report entries that
are not objects have found enough problems, nothing asks. The report, the content hash,
``--json``, stderr and the exit code stay those of the exact path; when the proof fails,
the chunk is decoded as before."""

from __future__ import annotations

import dataclasses
import json
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keel_verify import TrustPolicy, verify_bytes
from keel_verify.checks import visitor_factories
from keel_verify.crypto.canonical import canonical_bytes
from keel_verify.crypto.signed_message import SignedMessage
from keel_verify.errors import LoadError
from keel_verify.facts.collect import EDGE_ROWS, ChainFacts
from keel_verify.facts.model import ChainRow
from keel_verify.load import accel, chainpass, loader, nesting, shards
from keel_verify.load.chainpass import read_strictly
from keel_verify.load.loader import MAX_DEPTH, LazyEntries
from keel_verify.report.json_report import report_to_dict
from tests import hostile_inputs as hostile
from tests.helpers import PUBLIC_V3, public_v3, record_worker_results
from tests.test_cli import run

pytestmark = pytest.mark.skipif(
    not accel.fast_json_available(), reason="msgspec not installed: only the exact path exists"
)

TRUST = TrustPolicy.self_attested_only()
TRUST_ROOT = Path(__file__).resolve().parents[1] / "sample" / "trust-root.json"
CHUNK = chainpass.CHUNK_ENTRIES


def _chain_of(raw_entries: list[bytes]) -> bytes:
    """The public v3 sample with its chain replaced by these entries, written as given."""
    document = public_v3()
    document["chain"] = []
    return hostile.encode(document).replace(
        b'"chain":[]', b'"chain":[' + b",".join(raw_entries) + b"]", 1)


def _deep(index: int, depth: int = 20) -> bytes:
    return b"[" * depth + b"%d" % index + b"]" * depth


def _same_as_exact(data: bytes) -> None:
    fast = report_to_dict(verify_bytes(data, TRUST))
    assert fast == report_to_dict(verify_bytes(data, TRUST, exact=True))
    assert read_strictly(data)[1].content_hash == read_strictly(data, exact=True)[1].content_hash


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[int]]:
    """Every lazy chunk decoded whole (by its identity) and every entry decoded alone."""
    seen: dict[str, list[int]] = {"whole": [], "alone": []}
    whole, alone = LazyEntries.all, LazyEntries._build

    def counting_whole(self: LazyEntries) -> list[Any]:
        seen["whole"].append(id(self))
        return whole(self)

    def counting_alone(self: LazyEntries, index: int) -> Any:
        seen["alone"].append(index)
        return alone(self, index)

    monkeypatch.setattr(LazyEntries, "all", counting_whole)
    monkeypatch.setattr(LazyEntries, "_build", counting_alone)
    monkeypatch.setattr(shards, "usable_cpus", lambda: 1)  # every chunk in this process
    return seen


def test_a_deep_chain_of_values_is_decoded_only_while_checks_look(
        decodes: dict[str, list[int]]) -> None:
    chunks = 12
    data = _chain_of([_deep(index) for index in range(chunks * CHUNK)])
    artifact, _chain = read_strictly(data, visitor_factories())
    assert artifact.chain is not None and artifact.chain.raw_items is not None
    # Each check reports every entry (not an object) and stops after 1,000 problems:
    # after two chunks of 512 nothing reads an entry whole again; the session facts keep
    # the chain's first rows and the last rows of each chunk (each entry decoded alone),
    # and the checks the chain's last entry.
    assert len(set(decodes["whole"])) == 2
    assert len(decodes["alone"]) <= (chunks + 1) * EDGE_ROWS + 1
    _same_as_exact(data)


def test_a_chunk_proven_without_decode_has_the_values_and_bytes_of_a_decode() -> None:
    raw = [_deep(7), b"[[true,false,null,-12,9007199254740991]]", b"3", b"null", b"[]"]
    lazy = loader.decode_raw_chunk(0, raw, MAX_DEPTH, lazy=True)
    decoded = loader.decode_raw_chunk(0, raw, MAX_DEPTH)
    assert isinstance(lazy.entries, LazyEntries) and isinstance(decoded.entries, list)
    assert lazy.entries[1] == decoded.entries[1] and lazy.entries[-1] == []
    assert list(lazy.entries) == decoded.entries == [json.loads(item) for item in raw]
    assert lazy.canonical == decoded.canonical == b",".join(raw)
    assert lazy.within_jcs and not lazy.objects and not lazy.same


@pytest.mark.parametrize("entry", [
    b'[["x"]]',  # a string: its characters are judged by a decode only
    b"[[{}]]",  # an object
    b'[{"a":1}]',
    b"[[1.5]]",  # a float
    b"[[1e2]]",
    b"[[9007199254740992]]",  # beyond the JCS domain
    b"[[-0]]",  # written 0
    b"[ [1]]",  # whitespace
])
def test_a_chunk_not_proven_is_decoded_as_before(entry: bytes) -> None:
    raw = [_deep(1), entry]
    chunk = loader.decode_raw_chunk(0, raw, MAX_DEPTH, lazy=True)
    assert isinstance(chunk.entries, list)
    assert chunk == loader.decode_raw_chunk(0, raw, MAX_DEPTH)
    _same_as_exact(_chain_of([_deep(index) for index in range(CHUNK)] + raw))


def test_a_chunk_deeper_than_the_limit_is_refused_as_before() -> None:
    raw = [_deep(1), _deep(2, depth=MAX_DEPTH)]  # an entry sits at level 3
    for lazy in (True, False):
        with pytest.raises(LoadError, match="nesting deeper than the limit of 128 levels"):
            loader.decode_raw_chunk(0, raw, MAX_DEPTH, lazy=lazy)
    assert isinstance(loader.decode_raw_chunk(0, [_deep(1, MAX_DEPTH - 3)], MAX_DEPTH,
                                              lazy=True).entries, LazyEntries)
    data = _chain_of([_deep(index) for index in range(CHUNK)] + raw)
    with pytest.raises(LoadError, match="nesting deeper than the limit"):
        read_strictly(data)


MIXED: dict[str, Callable[[int], bytes]] = {
    "deep value": _deep,
    "object": lambda index: b'{"i":%d}' % index,
    "string": lambda index: b'["s%d"]' % index,
    "float": lambda index: b"[[%d.5]]" % index,
    "integer": lambda index: b"%d" % index,
}


@pytest.mark.parametrize("sharded", [False, True], ids=["alone", "with a worker"])
def test_a_chain_of_mixed_chunks_reports_as_the_exact_path(
        sharded: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    kinds = list(MIXED.values())
    # runs of one kind, some longer than a chunk, some shorter: chunks proven and not
    entries = [kinds[(index // 150) % len(kinds)](index) for index in range(4 * CHUNK)]
    entries += [_deep(index) for index in range(4 * CHUNK, 7 * CHUNK)]
    entries += [_deep(7)] * (2 * CHUNK) + [MIXED["object"](index) for index in range(CHUNK)]
    data = _chain_of(entries)
    received: list[bool] = []
    if sharded:
        monkeypatch.setattr(shards, "usable_cpus", lambda: 2)
        monkeypatch.setattr(shards, "MIN_ENTRIES", 1)
        monkeypatch.setattr(shards, "MIN_ENTRY_BYTES", 0)
        received = record_worker_results(monkeypatch)
        taken = shards.Worker.take
        broken: list[bool] = []

        def watched(self: shards.Worker, index: int, first: int) -> None:
            taken(self, index, first)
            broken.append(self.broken)

        monkeypatch.setattr(shards.Worker, "take", watched)
    _same_as_exact(data)
    if sharded:
        # the worker did chunks of objects, left chunks proven without decode to this
        # process, and never failed
        assert True in received and False in received and not any(broken)


@pytest.mark.parametrize("raw, left", [
    ([_deep(1), _deep(2)], True),  # proven without decode
    ([b'[["x"]]'] * 3, True),  # one value, not an object, repeated: decoded once
    ([b'{"a":1}'] * 3, False),  # one object repeated: the visitors' work may be real
    ([b'[["x"]]', b'[["y"]]'], False),  # decoded: the worker's decode is not wasted
])
def test_a_worker_leaves_to_this_process_only_chunks_cheap_here(raw: list[bytes],
                                                                left: bool) -> None:
    writer = chainpass.MessageWriter(SignedMessage(None))
    pass_ = chainpass.EntriesPass(loader.load_bytes(_chain_of(raw)), {},
                                  accel.sorted_encoder(), writer, {}, MAX_DEPTH, CHUNK)
    chunk, _piece = pass_.chunk(0)
    assert shards._left_here(chunk) is left


def test_the_cli_prints_the_same_with_the_pure_fallbacks(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_bytes(_chain_of([_deep(index, 60) for index in range(3 * CHUNK)]))
    fast = run("--json", "--trust-root", TRUST_ROOT, path)
    pure = run("--json", "--trust-root", TRUST_ROOT, path, env={"KEEL_VERIFY_PURE": "1"})
    assert (fast.returncode, fast.stdout, fast.stderr) == (pure.returncode, pure.stdout,
                                                           pure.stderr)
    assert fast.returncode == 1 and json.loads(fast.stdout)["files"]


_leaves = (st.none() | st.booleans() | st.integers(-(2**54), 2**54)
           | st.sampled_from(["s", 1.5, -0.0, {}]))
_values = st.recursive(_leaves, lambda children: st.lists(children, max_size=3), max_leaves=6)


def _written(value: Any, depth: int, style: int) -> bytes:
    text = json.dumps(value, separators=(",", ":") if style else (", ", ": "))
    return (b"[" * depth + text.encode() + b"]" * depth).replace(b"[0", b"[-0", style == 2)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_values, st.integers(0, 10), st.integers(0, 2)), min_size=1,
                max_size=6))
def test_a_lazy_chunk_reads_as_a_decoded_one(entries: list[tuple[Any, int, int]]) -> None:
    raw = [_written(value, depth, style) for value, depth, style in entries]
    try:
        decoded = loader.decode_raw_chunk(0, raw, MAX_DEPTH)
    except loader.NeedsExactPath:  # e.g. an integer beyond 64 bits
        return
    lazy = loader.decode_raw_chunk(0, raw, MAX_DEPTH, lazy=True)
    assert list(lazy.entries) == decoded.entries
    if not isinstance(lazy.entries, LazyEntries):
        assert lazy == decoded
        return
    # the same proofs, or stronger: the typed decoders prove no canonical bytes
    assert lazy._replace(entries=decoded.entries, canonical=None) == decoded._replace(
        canonical=None)
    assert decoded.canonical in (None, lazy.canonical)
    assert lazy.canonical == b",".join(map(canonical_bytes, decoded.entries))
    assert [lazy.entries[at] for at in range(len(raw))] == decoded.entries


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(_values, st.integers(0, 10), st.integers(0, 2)), min_size=1,
                max_size=4), st.integers(1, 3))
def test_a_chain_of_such_entries_reports_as_the_exact_path(
        entries: list[tuple[Any, int, int]], repeat: int) -> None:
    raw = [_written(value, depth, style) for value, depth, style in entries]
    _same_as_exact(_chain_of(raw * (repeat * 150)))


# -- what the proofs rest on -----------------------------------------------------------

@pytest.mark.parametrize("outside, free", [
    (b"[true,false,null,1,-2]", True), (b"[1e5]", False), (b"[1E5]", False), (b"[1.5]", False),
    (b"[true,1e5]", False), (b"[false,-1.0e-3]", False), (b"[[]]", True), (b"{:true,:3}", True),
])
def test_a_float_is_found_outside_strings_by_single_bytes(outside: bytes, free: bool) -> None:
    assert nesting.float_free_outside_strings(outside) is free is nesting.float_free(outside)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=3), lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=3), children, max_size=3), max_leaves=8)


@given(_json, st.booleans())
def test_a_float_is_found_outside_strings_as_float_free_finds_it(value: Any, spaced: bool) -> None:
    text = json.dumps(value, separators=(", ", ": ") if spaced else (",", ":")).encode()
    outside = nesting.outside_strings(text)
    assert nesting.float_free_outside_strings(outside) == nesting.float_free(outside)


def test_a_long_shallow_entry_is_proven_by_its_nesting() -> None:
    # longer than twice the depth limit, so its length proves nothing: the brackets do
    entry = b"[" + b",".join(b"%d" % index for index in range(200)) + b"]"
    assert len(entry) // 2 + 2 > MAX_DEPTH
    chunk = loader.decode_raw_chunk(0, [entry, _deep(3)], MAX_DEPTH, lazy=True)
    assert isinstance(chunk.entries, LazyEntries) and chunk.entries[0] == list(range(200))
    assert isinstance(loader.decode_raw_chunk(0, [entry, _deep(3, depth=MAX_DEPTH - 2)],
                                              MAX_DEPTH, lazy=True).entries, LazyEntries)
    deep = _deep(3, depth=MAX_DEPTH - 1)  # one level too deep (an entry sits at level 3)
    with pytest.raises(LoadError, match="nesting deeper than the limit"):
        loader.decode_raw_chunk(0, [entry, deep], MAX_DEPTH, lazy=True)


# -- the session facts read the last rows only from the chunks that keep some -----------

def _rows_chunk(first: int, count: int) -> chainpass.Chunk:
    entries = [{"artifact_sequence": index} for index in range(first, first + count)]
    hashes: list[str | None] = [f"sha256:{index:064x}" for index in range(first, first + count)]
    return chainpass.Chunk(first, entries, hashes, True, True, True)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 130), min_size=1, max_size=12), st.data())
def test_the_last_rows_are_those_of_the_chains_last_entries(sizes: list[int],
                                                             data: st.DataObject) -> None:
    from keel_verify.facts.collect import ChainFacts
    from tests.helpers import PUBLIC_V3

    artifact = loader.load_bytes(PUBLIC_V3.read_bytes())
    split = data.draw(st.integers(0, len(sizes)))  # the later chunks done by a "worker"
    here, there = ChainFacts(artifact), ChainFacts(artifact)
    first = 0
    for number, size in enumerate(sizes):
        (here if number < split else there).visit(_rows_chunk(first, size))
        first += size
    here.absorb(pickle.loads(pickle.dumps(there)))
    expected = list(range(max(EDGE_ROWS, first - EDGE_ROWS), first))
    rows = here.last_rows()
    assert [row.index for row in rows] == expected == [row.sequence for row in rows]


def test_the_last_rows_are_kept_as_rows_not_entries() -> None:
    """The facts keep each of the last rows as its row, not its entry: an entry may be an
    object of a million members, and the 50 last ones were held to the end of the pass
    (a chain of 120 objects of 131,072 members: 1,137 MiB, now 552 MiB)."""
    facts = ChainFacts(loader.load_bytes(PUBLIC_V3.read_bytes()))
    chunks = [_rows_chunk(first, 7) for first in range(0, 140, 7)]
    for chunk in chunks:
        facts.visit(chunk)
    facts.last_rows()
    assert len(facts.last) == EDGE_ROWS and all(type(row) is ChainRow for row in facts.last)
    fields = {type(field) for row in facts.last for field in dataclasses.astuple(row)}
    assert fields <= {int, str, type(None)}  # no field holds an entry


def test_a_chunk_of_few_entries_is_settled_as_it_is_visited() -> None:
    """A chunk of EDGE_ROWS entries or fewer (a part of large entries) has its rows taken
    at once, so that the facts do not hold it while the next part is read; a chunk of
    more waits (its rows are built only if no later chunk pushes them out)."""
    facts = ChainFacts(loader.load_bytes(PUBLIC_V3.read_bytes()))
    for first in range(0, 140, 7):
        facts.visit(_rows_chunk(first, 7))
        assert facts.unsettled is None
        if first >= EDGE_ROWS:  # the chain's first rows are kept apart (facts.first)
            assert facts.last[-1].index == first + 6
    facts.visit(_rows_chunk(140, EDGE_ROWS + 1))
    assert facts.unsettled is not None
