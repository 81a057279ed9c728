"""A chunk of objects hashes its entries only when a visitor reads their hashes
(``Chunk.hashes``): a chain of junk objects is hashed no further than chain_integrity
reads it (it stops after its 1,000th problem) plus the report's edge rows, and every hash
read is the one computed eagerly."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from keel_verify import TrustPolicy, verify_bytes
from keel_verify.crypto.canonical import canonical_bytes, tagged_sha256
from keel_verify.crypto.signed_message import SignedMessage
from keel_verify.facts.collect import EDGE_ROWS
from keel_verify.load import accel, chainpass, dense
from keel_verify.load.chainpass import CHUNK_ENTRIES
from keel_verify.load.loader import MAX_DEPTH, DecodedChunk, load_bytes
from keel_verify.report.json_report import report_to_dict
from tests import hostile_inputs as hostile
from tests.report_support import SAMPLE_TRUST, SAMPLES

TRUST = TrustPolicy()

_members = st.dictionaries(
    st.sampled_from(["content_hash", "i", "kind", "a"]),
    st.one_of(st.integers(-5, 5), st.text(max_size=3), st.none(),
              st.lists(st.integers(0, 3), max_size=2),
              st.dictionaries(st.sampled_from(["content_hash", "b"]), st.integers(0, 3),
                              max_size=2)),
    max_size=4)


def _expected(entry: dict[str, Any]) -> str:
    """The content hash by its definition: the canonical bytes of the entry without its
    own content_hash member."""
    return tagged_sha256(canonical_bytes({k: v for k, v in entry.items() if k != "content_hash"}))


def _hashed_chunk(entries: list[dict[str, Any]], same: bool = False) -> chainpass.Chunk:
    """The chunk the pass makes of ``entries`` (objects each, decoded afresh; ``same``:
    proven one value repeated)."""
    raw = json.dumps(entries).encode()
    decoded = DecodedChunk(0, accel.decoder("any").decode(raw), within_jcs=True,
                                     objects=True, same=same)
    out = chainpass.MessageWriter(SignedMessage(None))
    artifact = load_bytes(hostile.chain_of([{"i": 0}]))
    entries_pass = chainpass.EntriesPass(artifact, {}, accel.sorted_encoder(), out, {},
                                         MAX_DEPTH, CHUNK_ENTRIES)
    chunk, piece = entries_pass.hashed(decoded)
    assert piece == b",".join(map(canonical_bytes, entries))
    return chunk


@settings(max_examples=150, deadline=None)
@given(st.lists(_members, min_size=2, max_size=12).filter(
    lambda entries: len({json.dumps(e, sort_keys=True) for e in entries}) > 1),
    st.integers(0, 12), st.integers(0, 12))
def test_any_run_of_deferred_hashes_is_the_eager_one(
        entries: list[dict[str, Any]], start: int, stop: int) -> None:
    chunk = _hashed_chunk(entries)
    assert not isinstance(chunk.hashes, list), "a chunk of distinct objects defers its hashes"
    expected = list(map(_expected, entries))
    assert chunk.content_hashes_between(start, stop) == expected[start:stop]
    part = chunk.part(start, stop) if start < stop <= len(entries) else None
    if part is not None:
        assert part.content_hashes == expected[start:stop]
    assert chunk.content_hashes == expected
    assert chunk.content_hashes_between(start, stop) == expected[start:stop]  # from the list
    # Hashing never reorders an entry's members (a visitor may hold it already).
    assert [list(entry) for entry in chunk.entries] == [list(entry) for entry in entries]


def test_a_chunk_of_one_object_repeated_is_hashed_at_once() -> None:
    chunk = _hashed_chunk([{"i": 1}] * 5, same=True)
    assert isinstance(chunk.hashes, list)
    assert chunk.content_hashes == [_expected({"i": 1})] * 5


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many entries each call of the deferred hashing hashes."""
    counts: list[int] = []
    real = chainpass._object_hashes

    def counted(*arguments: Any) -> list[str | None]:
        start, stop = arguments[-2:]
        counts.append(stop - start)
        return real(*arguments)

    monkeypatch.setattr(chainpass, "_object_hashes", counted)
    return counts


@pytest.mark.parametrize("read_dense", [False, True])
def test_junk_objects_are_hashed_only_where_read(monkeypatch: pytest.MonkeyPatch,
                                                 read_dense: bool) -> None:
    """20,000 distinct objects stating no hash: chain_integrity finds problems in every
    one and stops after 1,000; from then on only the edge rows are hashed. The report is
    the exact path's."""
    count = 20_000
    data = hostile.distinct_object_entries(count)
    expected = report_to_dict(verify_bytes(data, TRUST, exact=True))
    if read_dense:
        monkeypatch.setattr(dense, "MIN_DENSE_BYTES", 0)
    counts = _counting(monkeypatch)
    assert report_to_dict(verify_bytes(data, TRUST)) == expected
    chunks = -(-count // CHUNK_ENTRIES)
    assert counts, "the deferred hashes were read"
    # The chunks chain_integrity reads (it stops within the first few) plus, per chunk,
    # at most the rows the report keeps at each end.
    assert sum(counts) <= 4 * CHUNK_ENTRIES * (16 if read_dense else 1) + 2 * EDGE_ROWS * chunks
    assert sum(counts) < count / 2
    integrity = {check["name"]: check for check in expected["checks"]}["chain_integrity"]
    assert integrity["outcome"] == "fail"
    assert "stopped examining chain entries" in integrity["reason"]


def test_a_sound_chain_is_hashed_whole_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A real chain: chain_integrity reads every hash, each entry is hashed once, and the
    verdict stands."""
    counts = _counting(monkeypatch)
    data = (SAMPLES / "voice_session_v3.json").read_bytes()
    report = report_to_dict(verify_bytes(data, SAMPLE_TRUST))
    entries = len(json.loads(data)["chain"])
    assert report["verdict"] == "VERIFIED"
    assert sum(counts) == entries


def _chunk_of_any(entries: list[Any]) -> chainpass.Chunk:
    """The chunk the pass makes of ``entries`` (any JSON values, decoded afresh)."""
    raw = json.dumps(entries).encode()
    decoded = DecodedChunk(0, accel.decoder("any").decode(raw), within_jcs=True)
    out = chainpass.MessageWriter(SignedMessage(None))
    entries_pass = chainpass.EntriesPass(load_bytes(hostile.chain_of([{"i": 0}])), {},
                                         accel.sorted_encoder(), out, {}, MAX_DEPTH,
                                         CHUNK_ENTRIES)
    return entries_pass.hashed(decoded)[0]


_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.text(alphabet="{}[]x", max_size=3),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text("ab", max_size=1),
                                                                 inner, max_size=2),
    max_leaves=5)


@settings(max_examples=150, deadline=None)
@given(st.lists(_values, min_size=2, max_size=10))
@example([0, "x", [1, [None]], True])  # proven to hold none (generated ones mostly are not)
@example([None, [], "}", -1])
def test_a_chunk_said_to_hold_no_object_holds_none(entries: list[Any]) -> None:
    """``holds_no_object`` is claimed only when no entry is or holds an object (a brace
    inside a string only makes it unproven); either way the objects found are the
    entries that are objects."""
    chunk = _chunk_of_any(entries)
    if chunk.holds_no_object():
        assert "{" not in json.dumps(entries)
    objects = [entry for entry in entries if type(entry) is dict]
    assert chunk.object_entries() == objects
    assert chunk.object_offsets() == [i for i, entry in enumerate(entries) if type(entry) is dict]


def test_a_brace_in_a_string_leaves_no_object_unproven() -> None:
    chunk = _chunk_of_any(["{", 1, [2]])
    assert not chunk.holds_no_object()
    assert chunk.object_entries() == [] and chunk.object_offsets() == []
    assert _chunk_of_any([0, "x", [1]]).holds_no_object()
    assert not _chunk_of_any([0, [{}]]).holds_no_object()
