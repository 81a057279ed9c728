"""A chain of millions of tiny mixed entries: the content hashes of a chunk that is not
all objects are computed when a visitor first reads them (keel_verify/load/chainpass.py
Chunk.hashes, as for a chunk of objects), and the session facts learn from the chunk's
written bytes that no object in it has a member they would read (Chunk.lacks_member);
parts of a chunk from two windows are one value repeated when each part is and their
values are the same (dense._parts_same). Each must give what computing everything at
once gives: the same hashes, the same entries, the same reports as the raw slices and
the exact path. Proved by comparison and by counting what is hashed, never by a clock
(the times are in ``benchmarks/hostile.py``)."""

from __future__ import annotations

import copy
import json
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keel_verify import TrustPolicy, verify_bytes
from keel_verify.crypto.canonical import canonical_bytes, tagged_sha256
from keel_verify.crypto.signed_message import SignedMessage
from keel_verify.facts import collect
from keel_verify.load import accel, chainpass, dense
from keel_verify.load.chainpass import CHUNK_ENTRIES, Chunk
from keel_verify.load.loader import MAX_DEPTH, DecodedChunk, load_bytes
from keel_verify.report.json_report import report_to_dict
from tests import hostile_inputs as hostile
from tests.test_dense_chain import chain_values, reports

pytestmark = pytest.mark.skipif(
    not accel.fast_json_available(), reason="msgspec not installed: only the exact path exists"
)

TRUST = TrustPolicy()
STATED = "sha256:" + "0" * 64
#: Objects among tiny values: with and without a content_hash (at the top or nested), and
#: with each member the session facts read.
OBJECTS = [{}, {"a": 0}, {"content_hash": STATED}, {"content_hash": 7, "b": [1]},
           {"x": {"content_hash": STATED}}, {"permit_id": "p-1", "artifact_sequence": 3},
           {"event_type": "voice.turn.evaluated", "occurred_at": "2026-11-30T00:00:00Z"},
           {"event_type": 5}, {"occurred_at": None}, {"n": {"event_type": "x"}}]
entry_values = st.sampled_from([0, None, [], "", "x", True, False, -1, [0], *OBJECTS]) | chain_values


def _in_order(value: Any) -> bytes:
    """The value's bytes with every object's members in insertion order (so that a
    member taken out and put back at the end shows)."""
    return msgspec.json.encode(value)


def _pass_chunk(entries: list[Any], exact: bool) -> tuple[Chunk, bytes]:
    """The chunk the pass makes of ``entries`` (values of any kind, decoded afresh, not
    proven to be objects), on the fast path or the exact one."""
    raw = json.dumps(entries).encode()
    decoded = DecodedChunk(0, accel.decoder("any").decode(raw), within_jcs=True)
    artifact = load_bytes(hostile.chain_of([{"i": 0}]), exact=exact)
    encode = canonical_bytes if exact else accel.sorted_encoder()
    out = chainpass.MessageWriter(SignedMessage(None))
    entries_pass = chainpass.EntriesPass(artifact, {}, encode, out, {}, MAX_DEPTH,
                                         CHUNK_ENTRIES)
    return entries_pass.hashed(decoded)


@given(st.lists(entry_values, min_size=2, max_size=60), st.integers(0, 60), st.integers(0, 60),
       st.booleans())
@settings(deadline=None)
def test_hashes_computed_when_read_are_those_computed_at_once(
        entries: list[Any], start: int, stop: int, exact: bool) -> None:
    """Any run read first, then all of them: the hashes computed at once, each entry's
    by its definition; the entries never changed (no member moved last)."""
    expected = chainpass._hash_any_entries(copy.deepcopy(entries), canonical_bytes, True)
    assert expected == [_defined(entry) for entry in entries]
    chunk, piece = _pass_chunk(entries, exact)
    assert piece == b",".join(map(canonical_bytes, entries))
    assert callable(chunk.hashes)  # deferred (not proven objects, nor one value repeated)
    before = _in_order(chunk.entries)
    assert chunk.content_hashes_between(start, stop) == expected[start:stop]
    assert chunk.part(start, max(start, stop)).content_hashes == expected[start:stop]
    assert chunk.content_hashes == expected
    assert chunk.content_hashes_between(start, stop) == expected[start:stop]
    assert _in_order(chunk.entries) == before


def _defined(entry: Any) -> str | None:
    """An entry's content hash by its definition (None for one that is not an object)."""
    if type(entry) is not dict:
        return None
    return tagged_sha256(canonical_bytes({k: v for k, v in entry.items() if k != "content_hash"}))


@given(st.lists(entry_values, max_size=40))
@settings(deadline=None)
def test_a_member_is_said_to_lack_only_when_no_object_has_it(entries: list[Any]) -> None:
    written = accel.sorted_encoder()(entries)[1:-1]
    chunk = Chunk(0, entries, [None] * len(entries), True, written=written)
    for name in ("event_type", "occurred_at", "permit_id", "content_hash", "a", "x"):
        if chunk.lacks_member(name):
            assert not _has_member(entries, name), name


def test_a_member_anywhere_is_found_and_an_odd_name_is_never_proven_absent() -> None:
    """Found at any depth; not proven absent where its text ends another name (a weaker
    answer, never a wrong one); never proven for a name not written as its characters,
    nor for a chunk whose bytes the pass did not keep (a part of a grown chunk)."""
    def chunk(entries: list[Any]) -> Chunk:
        written = accel.sorted_encoder()(entries)[1:-1]
        return Chunk(0, entries, [None] * len(entries), True, written=written)

    assert chunk([0, {}, {"a": 0}, [0]]).lacks_member("event_type")
    assert not chunk([0, [{"z": {"event_type": 1}}]]).lacks_member("event_type")
    assert not chunk([0, {"permit_id": None}]).lacks_member("permit_id")
    assert chunk(['"event_type":']).lacks_member("event_type")  # in a string: escaped
    # a name ending in the text: found, so not proven absent (weaker, never wrong)
    assert not chunk([{'a"event_type': 0}]).lacks_member("event_type")
    for name in ("a-b", "é", 'a"b', "", "a b"):
        assert not chunk([0, {}]).lacks_member(name), name
    assert not Chunk(0, [0], [None], True).lacks_member("event_type")  # no bytes kept
    grown = chunk([0] * 10 + [{}] * 10)
    assert grown.lacks_member("event_type") and not grown.part(0, 10).lacks_member("event_type")


def _has_member(value: Any, name: str) -> bool:
    if isinstance(value, dict):
        return name in value or any(_has_member(item, name) for item in value.values())
    if isinstance(value, list):
        return any(_has_member(item, name) for item in value)
    return False


def _hashed_entries(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many entries each call of the pass's hashing of non-object chunks hashes."""
    counted: list[int] = []
    hash_any = chainpass._hash_any_entries

    def spy(entries: list[Any], *args: Any) -> list[str | None]:
        counted.append(len(entries))
        return hash_any(entries, *args)

    monkeypatch.setattr(chainpass, "_hash_any_entries", spy)
    return counted


def test_a_mixed_tiny_chain_is_hashed_only_where_a_visitor_reads(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """100,000 mixed tiny entries read dense: chain_integrity reads every hash until it
    stops (after 1,000 problems, a few chunks in), the session facts only those of the
    rows they keep; the rest is never hashed, and the report is the exact path's."""
    data = hostile.tiny_chain_entries(100_000, hostile.MIXED_TINY)
    expected = report_to_dict(verify_bytes(data, TRUST, exact=True))
    with monkeypatch.context() as patch:
        counted = _hashed_entries(patch)
        patch.setattr(dense, "MIN_DENSE_BYTES", 0)
        assert report_to_dict(verify_bytes(data, TRUST)) == expected
    assert 0 < sum(counted) < 10_000


def test_the_rows_kept_show_the_hashes_the_exact_path_recomputes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Objects with and without a stated content hash among tiny values: the first and
    last rows the session facts keep (the HTML report's chain table) carry the hashes
    read when the report is made, those of the exact path."""
    items = (b"0", b'{"a":1}', b"[]", b'{"content_hash":"' + STATED.encode() + b'","b":2}',
             b'{"b":[2]}', b'"x"')
    data = hostile.tiny_chain_entries(30_001, items)
    expected = verify_bytes(data, TRUST, exact=True).session
    with monkeypatch.context() as patch:
        patch.setattr(dense, "MIN_DENSE_BYTES", 0)
        patch.setattr(dense, "DENSE_BYTES_PER_COMMA", 10**9)
        session = verify_bytes(data, TRUST).session
    assert session is not None and expected is not None
    assert (session.chain_first, session.chain_last) == (expected.chain_first, expected.chain_last)
    objects = [row for row in session.chain_last if row.event_type != "(not an object)"]
    assert objects and all(row.hash_prefix for row in objects)
    dense_report, raw_report, exact_report = reports(data, monkeypatch)
    assert dense_report == raw_report == exact_report


@pytest.mark.parametrize("items", [
    (b"0", b'{"permit_id":"perm_voice_sample_lookup","artifact_sequence":2}', b"[]"),
    (b'{"event_type":"voice.turn.evaluated","occurred_at":"2026-11-30T00:00:00Z"}', b"0"),
    (b'{"occurred_at":"2026-11-30T00:00:00Z"}', b"null", b'"x"'),
    (b'{"n":{"event_type":"x","permit_id":"q"}}', b"0"),  # only nested: read as absent
    (b'{"a\\"event_type":0}', b"{}", b"0"),  # the name's text ends another: not proven
    hostile.MIXED_TINY,
])
def test_tiny_chains_the_member_proof_fails_on_report_as_the_other_paths(
        items: tuple[bytes, ...], monkeypatch: pytest.MonkeyPatch) -> None:
    """Where an object has a member the session facts read (or its text occurs), the
    proof fails and the objects are looked into: the same report on every path, with
    the counts by event type and the permit's first use the entries themselves give."""
    data = hostile.tiny_chain_entries(20_000, items)
    dense_report, raw_report, exact_report = reports(data, monkeypatch)
    assert dense_report == raw_report == exact_report
    entries = [json.loads(item) for item in items] * (20_000 // len(items) + 1)
    assert dense_report["session"]["counts_by_event_type"] == _counts(entries[:20_000])
    bound = {permit["permit_id"]: permit["bound_sequence"]
             for permit in dense_report["session"]["permits"]}
    assert bound["perm_voice_sample_lookup"] == (2 if b"perm_voice" in items[1] else None)


def _counts(entries: list[Any]) -> dict[str, int]:
    """Entries by event type, as the session facts name them, counted here one by one."""
    counted: dict[str, int] = {}
    for entry in entries:
        stated = entry.get("event_type") if type(entry) is dict else None
        kind = (stated if isinstance(stated, str) else "(no event_type)"
                if type(entry) is dict else "(not an object)")
        counted[kind] = counted.get(kind, 0) + 1
    return counted


@given(entries=st.lists(entry_values, min_size=1, max_size=400), window=st.integers(1, 200))
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                HealthCheck.function_scoped_fixture])
def test_generated_mixed_chains_in_small_chunks_report_as_the_exact_path(
        entries: list[Any], window: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of 4 entries grown to 64, and 5 rows kept at each end: many grown chunks,
    their last rows hashed when read, on small generated chains."""
    data = hostile.tiny_chain_entries(len(entries), tuple(json.dumps(e).encode() for e in entries))
    with monkeypatch.context() as patch:
        patch.setattr(chainpass, "CHUNK_ENTRIES", 4)
        patch.setattr(collect, "EDGE_ROWS", 5)
        patch.setattr(dense, "MIN_DENSE_BYTES", 0)
        patch.setattr(dense, "DENSE_BYTES_PER_COMMA", 10**9)
        patch.setattr(dense, "WINDOW_BYTES", window)
        dense_report = report_to_dict(verify_bytes(data, TRUST))
        exact_report = report_to_dict(verify_bytes(data, TRUST, exact=True))
    assert dense_report == exact_report


def _part(first: int, entries: list[Any]) -> DecodedChunk:
    """A part as the dense reader makes it of a window's values (``same`` proven)."""
    return DecodedChunk(first, entries, True, same=dense._same(entries))


@given(st.lists(st.lists(st.sampled_from([0, 1, True, 1.0, "", None, [], {}, [0], {"a": 0},
                                          {"a": 0, "b": 1}, {"b": 1, "a": 0}]),
                         min_size=1, max_size=4).map(lambda one: one[:1] * len(one))
                | st.lists(entry_values, min_size=1, max_size=4), min_size=2, max_size=4))
@settings(deadline=None)
def test_parts_of_one_value_join_as_one_value_exactly_when_their_entries_are(
        parts_entries: list[list[Any]]) -> None:
    """Parts from two windows joined (dense._joined): said to be one value repeated
    exactly when comparing every entry says so; proven from the parts alone only then."""
    parts, first = [], 0
    for entries in parts_entries:
        parts.append(_part(first, entries))
        first += len(entries)
    every = [entry for entries in parts_entries for entry in entries]
    assert dense._joined(parts).same == dense._same(every)
    if dense._parts_same(parts):
        assert dense._same(every)


def test_parts_alike_only_in_python_are_not_one_value() -> None:
    """1 and True, 0 and 0.0, and objects with their members in another order are equal
    in Python, not the same entry."""
    for one, other in ((1, True), (0, 0.0), ({"a": 0, "b": 1}, {"b": 1, "a": 0})):
        parts = [_part(0, [one, one]), _part(2, [other])]
        assert not dense._parts_same(parts) and not dense._joined(parts).same
    assert dense._parts_same([_part(0, [{"a": [0]}] * 3), _part(3, [{"a": [0]}])])
