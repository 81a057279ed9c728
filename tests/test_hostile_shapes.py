"""Hostile shapes whose cost used to be a Python step per node: a million top-level members,
chain entries nested deeper than the typed decoders reach, junk ``signatures[]`` entries,
a ``session_metadata`` of a million keys or small arrays. Each must report exactly as the
exact path does; the bounds are proved by structure (how many decodes, writes and walks),
never by a clock (the times are in ``benchmarks/hostile.py``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keel_verify import TrustPolicy, verify_bytes
from keel_verify.checks import canonical_portability, schema
from keel_verify.errors import LoadError
from keel_verify.load import accel, chainpass, loader, member_sort, nesting
from keel_verify.load.chainpass import read_strictly
from keel_verify.load.loader import MAX_DEPTH, NeedsExactPath, _check_depth_and_strings
from keel_verify.report.json_report import report_to_dict
from tests import hostile_inputs as hostile
from tests.helpers import count_strict_parses, public_v3, record_decoders

pytestmark = pytest.mark.skipif(
    not accel.fast_json_available(), reason="msgspec not installed: only the exact path exists"
)

TRUST = TrustPolicy.self_attested_only()
MANY = 2 * loader.MEMBER_BATCH + 17  # more members than two batches


def distinct_deep_entries(count: int, depth: int) -> bytes:
    """``count`` entries, each ``depth`` arrays around its own index (no two alike)."""
    return hostile.deep_entries(count, depth, distinct=True)


SHAPES: dict[str, Callable[[], bytes]] = {
    "many top-level members": lambda: hostile.many_members(MANY),
    "deep entries, all alike": lambda: hostile.deep_entries(600, 100),
    "deep entries, distinct": lambda: distinct_deep_entries(600, 60),
    "junk signatures": lambda: hostile.junk_signatures(300),
    "session_metadata of many keys": lambda: hostile.wide_metadata(MANY),
    "session_metadata of small arrays": lambda: hostile.metadata_of_small_arrays(MANY),
}


def _counted_batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the member batches the loader decodes, as it decodes them."""
    batches: list[int] = []
    batch = loader._MemberDecoder.batch

    def counting_batch(self: Any, keys: list[str], raws: list[Any]) -> None:
        batches.append(len(keys))
        batch(self, keys, raws)

    monkeypatch.setattr(loader._MemberDecoder, "batch", counting_batch)
    return batches


@pytest.mark.parametrize("build", SHAPES.values(), ids=SHAPES.keys())
def test_each_shape_reports_as_the_exact_path(build: Callable[[], bytes]) -> None:
    data = build()
    fast = report_to_dict(verify_bytes(data, TRUST))
    assert fast == report_to_dict(verify_bytes(data, TRUST, exact=True))
    assert read_strictly(data)[1].content_hash == read_strictly(data, exact=True)[1].content_hash


def test_many_members_are_decoded_in_one_pass_and_written_by_sorting_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    batches: list[int] = []
    writes: list[int] = []
    batch, write = loader._MemberDecoder.batch, chainpass.MessageWriter.write

    def counting_batch(self: Any, keys: list[str], raws: list[Any]) -> None:
        batches.append(len(keys))
        batch(self, keys, raws)

    def counting_write(self: Any, piece: bytes) -> None:
        writes.append(len(piece))
        write(self, piece)

    def member_by_member(*_args: Any) -> bytes:
        raise AssertionError("written member by member")

    data = hostile.many_members(MANY)
    expected = read_strictly(data, exact=True)[1].content_hash
    monkeypatch.setattr(loader._MemberDecoder, "batch", counting_batch)
    monkeypatch.setattr(chainpass.MessageWriter, "write", counting_write)
    monkeypatch.setattr(chainpass, "_members_bytes", member_by_member)
    artifact, chain_pass = read_strictly(data)
    assert artifact.document_within_jcs and not artifact.float_members
    assert len(artifact.document) == MANY + len(public_v3()) - 1  # the chain is apart
    assert batches == []  # one typed decode of the whole document
    # The members in input order, the chain taken out.
    assert list(artifact.document) == [key for key in json.loads(data) if key != "chain"]
    # Members before the chain, "chain":[, its entries and commas, "]", the members after.
    entry_writes = 2 * len(artifact.chain or ())  # each chunk's bytes and a comma at most
    assert len(writes) <= 6 + entry_writes
    assert chain_pass.content_hash == expected


#: Members that send the document to the batch decoder: each is judged there, as before.
NOT_WHOLE: dict[str, Callable[[dict[str, Any]], None]] = {
    "a float": lambda document: document.update(k5=0.5),
    "a name outside the BMP": lambda document: document.update({"k\U0001f600": 1}),
    "a key outside the BMP inside a value": lambda document: document.update(k5={"\U0001f600": 1}),
    "nesting deeper than the typed decoder": lambda document: document.update(
        k5=[[[[[[[[1]]]]]]]]),
    "a long integer": lambda document: document.update(k5=2**60),
    "a chain of more than half the input": lambda document: document.update(
        chain=document["chain"] * 400),
}


@pytest.mark.parametrize("change", NOT_WHOLE.values(), ids=NOT_WHOLE.keys())
def test_what_one_typed_decode_cannot_prove_is_decoded_a_batch_at_a_time(
    change: Callable[[dict[str, Any]], None], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(loader, "WHOLE_DOCUMENT_COLONS", 0)
    document = public_v3()
    document.update({f"k{index}": index for index in range(100)})
    change(document)
    data = hostile.encode(document)
    batches = _counted_batches(monkeypatch)
    artifact = loader.load_bytes(data)
    assert batches and not artifact.exact_path
    fast = report_to_dict(verify_bytes(data, TRUST))
    assert fast == report_to_dict(verify_bytes(data, TRUST, exact=True))
    assert read_strictly(data)[1].content_hash == read_strictly(data, exact=True)[1].content_hash


@pytest.mark.parametrize("containers_counted, batched", [(4096, False), (2, True)])
def test_a_member_of_many_names_is_found_by_either_decoder(
    containers_counted: int, batched: bool, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(loader, "MANY_NAMES", 50)
    monkeypatch.setattr(loader, "CONTAINERS_COUNTED", containers_counted)
    monkeypatch.setattr(loader, "WHOLE_DOCUMENT_COLONS", 0)
    data = hostile.wide_metadata(200)
    batches = _counted_batches(monkeypatch)
    artifact = loader.load_bytes(data)
    assert artifact.many_names == {"session_metadata"}
    assert bool(batches) is batched
    assert read_strictly(data)[1].content_hash == read_strictly(data, exact=True)[1].content_hash


# Names whose bytes sort as they do by code point, and names that rule that out (an
# escape, a space or "!" sorts below the closing quote): around "chain" and
# "signatures", prefixes of each other, beyond ASCII and the BMP.
_names = st.lists(st.sampled_from(["a", "c", "h", "i", "n", "chain", "signatures", "#", "~",
                                   "\x7f", "é", "\u20ac", "\U0001f600", " ", "!", '"', "\\",
                                   "\n", "\x00", ",", ":", "0"]), max_size=3).map("".join)
_member_values = (st.none() | st.booleans() | st.integers(-(2**53 - 1), 2**53 - 1)
                  | st.lists(st.sampled_from([",", '"', ',"', "a", "\\", ":", "\u2028"]),
                             max_size=4).map("".join)
                  | st.floats(allow_nan=False, allow_infinity=False)
                  | st.lists(st.integers(0, 3) | st.text(max_size=2), max_size=3)
                  | st.dictionaries(_names, st.integers(0, 3), max_size=3))


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(_names, _member_values, max_size=12), st.booleans(), st.booleans())
def test_members_sorted_as_bytes_are_the_exact_bytes(extra: dict[str, Any], chain_is_array: bool,
                                                     whole: bool) -> None:
    document = public_v3()
    document.update(extra)
    if not chain_is_array:
        document["chain"] = {"not": "an array"}
    for required in ("schema", "schema_version", "canonicalization_profile",
                     "verifier_compatibility"):
        document[required] = public_v3()[required]
    data = json.dumps(document, ensure_ascii=False).encode()
    with pytest.MonkeyPatch.context() as patch:  # the one-decode path too, or not
        patch.setattr(loader, "WHOLE_DOCUMENT_COLONS", 0 if whole else 1 << 30)
        fast = read_strictly(data)[1].content_hash
    assert fast == read_strictly(data, exact=True)[1].content_hash


@pytest.mark.parametrize("long_chain", [False, True])
def test_a_large_input_is_scanned_once_for_its_chain(long_chain: bool,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "MEMBERS_FIRST_BYTES", 0)  # every input counts as large
    document = public_v3()
    document.update({f"k{index}": index for index in range(5000)})
    if long_chain:
        document["chain"] = document["chain"] * 3000
    data = hostile.encode(document)
    kinds = record_decoders(monkeypatch)
    artifact, chain_pass = read_strictly(data)
    assert kinds.count("members") == 1 and "chain_member" not in kinds
    assert len(artifact.chain or ()) == len(document["chain"])
    monkeypatch.undo()
    assert chain_pass.content_hash == read_strictly(data, exact=True)[1].content_hash


def test_few_colons_keep_the_batch_decoder(monkeypatch: pytest.MonkeyPatch) -> None:
    batches = _counted_batches(monkeypatch)
    small = hostile.encode(public_v3())
    assert small.count(b":") <= loader.WHOLE_DOCUMENT_COLONS
    loader.load_bytes(small)
    assert batches == [len(public_v3()) - 1]  # all but the chain, in one batch


def test_members_are_sorted_as_bytes_only_when_proven() -> None:
    for name, value, sorted_as_bytes in [
            ("plain", 1, True), ("é€😀", 1, True), ("a,", 1, False), ("a", "b,", False),
            ("a", ',"', True), ("a b", 1, False), ("a!", 1, False), ('a"', 1, False),
            ("a\\", 1, False), ("a\n", 1, False)]:
        document = {**public_v3(), name: value, "other": [1, {"b": 2, "a": 1}]}
        artifact = loader.load_bytes(hostile.encode(document))
        split = chainpass._members_sorted_as_bytes(artifact, accel.sorted_encoder())
        assert (split is not None) is sorted_as_bytes, name
    many_apart = {**public_v3(), **{f"k{index}": [index] for index in range(
        chainpass.MEMBERS_WRITTEN_APART + 1)}}
    artifact = loader.load_bytes(hostile.encode(many_apart))
    assert chainpass._members_sorted_as_bytes(artifact, accel.sorted_encoder()) is None


def test_a_float_among_many_members_is_found_by_halving(monkeypatch: pytest.MonkeyPatch) -> None:
    document = public_v3()
    document.update({f"k{index}": index for index in range(MANY)})
    document["k5000"] = 0.5
    data = hostile.encode(document)
    strict = count_strict_parses(monkeypatch)
    batches = _counted_batches(monkeypatch)
    artifact = loader.load_bytes(data)
    assert set(artifact.float_members) == {"k5000"} and not artifact.document_within_jcs
    # Only that member read with its floats (and none by the strict parser).
    assert artifact.float_members["k5000"].canonical == b"0.5" and strict == []
    assert artifact.float_members["k5000"].located == (("/k5000", "floating-point number 0.5"),)
    halvings = loader.MEMBER_BATCH.bit_length()
    assert len(batches) <= 3 + 2 * halvings
    fast = report_to_dict(verify_bytes(data, TRUST))
    assert fast == report_to_dict(verify_bytes(data, TRUST, exact=True))


def test_deep_entries_are_proven_without_a_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_walk(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("walked node by node")

    data = distinct_deep_entries(600, 60)
    expected = report_to_dict(verify_bytes(data, TRUST, exact=True))
    monkeypatch.setattr(loader, "_check_depth_and_strings", no_walk)
    monkeypatch.setattr(canonical_portability, "jcs_divergence_summary", no_walk)
    artifact = loader.load_bytes(data)
    chunks = list(artifact.chain.chunks(chainpass.CHUNK_ENTRIES, MAX_DEPTH))  # type: ignore[union-attr]
    assert chunks and all(chunk.within_jcs for chunk in chunks)
    assert report_to_dict(verify_bytes(data, TRUST)) == expected


@pytest.mark.parametrize("value, proven", [
    (2**53 - 1, True), (-(2**53 - 1), True), (999_999_999_999_999, True),
    (2**53, False), (-(2**53), False), (10**40, False), ("1234567890123456", True),
    ("9999999999999999", True),  # sixteen digits in a string: not an integer (strings left out)
])
def test_a_deep_chunk_is_within_jcs_only_when_its_integers_are_proven(value: Any, proven: bool) -> None:
    entry = [[[[[[[[[[{"n": value}]]]]]]]]]]
    chunk = loader.decode_raw_chunk(0, [json.dumps(entry).encode()], MAX_DEPTH)
    assert chunk.within_jcs is proven
    data = hostile.chain_of([entry] * 3)
    assert report_to_dict(verify_bytes(data, TRUST)) == report_to_dict(verify_bytes(data, TRUST, exact=True))


# --- the depth proof on the bytes agrees with the walk ----------------------------------

_tricky_text = st.text(st.sampled_from(['[', ']', '{', '}', '"', '\\', 'a', ',', ':', '😀']),
                       max_size=6)
_leaves = st.none() | st.booleans() | st.integers(-(2**60), 2**60) | _tricky_text


def _nested(children: Any) -> Any:
    return st.lists(children, max_size=3) | st.dictionaries(_tricky_text, children, max_size=3)


_values = st.recursive(_leaves, _nested, max_leaves=12)


def _wrapped(value: Any, levels: list[bool]) -> Any:
    """``value`` inside one array (True) or object (False) per level, innermost last."""
    for as_array in reversed(levels):
        value = [value] if as_array else {"[\"\\": value}
    return value


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


@settings(max_examples=300)
@given(_values, st.lists(st.booleans(), max_size=40), st.booleans(), st.sampled_from([None, 1]))
def test_max_nesting_is_the_depth(value: Any, levels: list[bool], ascii_only: bool,
                                  indent: int | None) -> None:
    value = _wrapped(value, levels)
    text = json.dumps(value, ensure_ascii=ascii_only, indent=indent).encode()
    assert nesting.max_nesting(text) == _depth(value)


def _walk_allows(entries: list[Any], max_depth: int) -> bool:
    try:
        for entry in entries:
            _check_depth_and_strings(entry, max_depth, False, start_depth=3)
    except LoadError:
        return False
    return True


@settings(max_examples=200)
@given(st.lists(st.tuples(_values, st.lists(st.booleans(), min_size=5, max_size=30)),
                min_size=1, max_size=4),
       st.integers(3, 40))
def test_a_deep_chunk_is_refused_exactly_when_the_walk_refuses(
    parts: list[tuple[Any, list[bool]]], max_depth: int
) -> None:
    entries = [_wrapped(value, levels) for value, levels in parts]
    raw = [json.dumps(entry).encode() for entry in entries]
    try:
        chunk = loader.decode_raw_chunk(0, raw, max_depth)
    except LoadError:
        assert not _walk_allows(entries, max_depth)
        return
    assert _walk_allows(entries, max_depth)
    assert chunk.entries == entries


@pytest.mark.parametrize("inner, accepted", [(126, True), (127, False)])
def test_the_depth_limit_holds_exactly_for_deep_entries(inner: int, accepted: bool) -> None:
    # An entry sits at level 3 (document, chain, entry): ``inner`` arrays put its deepest
    # container at level 2 + inner, i.e. 128 (the limit) or 129. Its strings hold
    # brackets, escaped quotes and backslashes, which must not count.
    tricky = ['[[[{{', '\\"]]]', '\\\\', '"\\\\"[', '}}}]]]']
    entry: Any = tricky
    for level in range(inner - 1):
        entry = [entry, "]" * (level % 5)] if level % 2 else {"{[\"": entry}
    raw = [json.dumps(entry).encode(), json.dumps(["]]]"]).encode()]
    assert _walk_allows([json.loads(item) for item in raw], MAX_DEPTH) is accepted
    if accepted:
        assert loader.decode_raw_chunk(0, raw, MAX_DEPTH).entries == [json.loads(item) for item in raw]
    else:
        with pytest.raises(LoadError, match="nesting deeper than the limit of 128 levels"):
            loader.decode_raw_chunk(0, raw, MAX_DEPTH)
    data = hostile.chain_of([json.loads(item) for item in raw])
    fast = report_to_dict(verify_bytes(data, TRUST))
    assert fast == report_to_dict(verify_bytes(data, TRUST, exact=True))
    assert (fast["verdict"] != "ERROR") is accepted


@settings(max_examples=150)
@given(_values, st.lists(st.booleans(), max_size=30), st.integers(1, 40))
def test_a_deep_member_is_refused_exactly_when_the_walk_refuses(
    value: Any, levels: list[bool], max_depth: int
) -> None:
    document = {**public_v3(), "deep": _wrapped(value, levels)}
    try:
        _check_depth_and_strings(document, max_depth, False)
        allowed = True
    except LoadError:
        allowed = False
    try:
        artifact = loader._load_fast(hostile.encode(document), max_depth)
    except (LoadError, NeedsExactPath):
        assert not allowed
        return
    assert allowed
    assert artifact.document["deep"] == document["deep"]


# --- schema messages about a huge value ---------------------------------------------------


class _CountingRepr(dict[str, Any]):
    calls = 0

    def __repr__(self) -> str:
        type(self).calls += 1
        return super().__repr__()


def test_a_schema_message_does_not_write_out_a_huge_value_again() -> None:
    huge = _CountingRepr({f"m{index}": 0 for index in range(1000)})
    error = SimpleNamespace(validator="required", validator_value=["x"], instance=huge,
                            message="'x' is a required property")
    assert schema._message(error) == "'x' is a required property"
    assert _CountingRepr.calls == 0
    # A "type" error (whose message jsonschema starts with the repr) is worded here.
    error = SimpleNamespace(validator="type", validator_value="string", instance=huge,
                            message=f"{dict(huge)!r} is not of type 'string'")
    assert schema._message(error) == ('{"m0":0,"m1":0,"m2":0,"m3":0,"m4":0,"m5":0,"m6":0,'
                                      '"m7":0,"m8":0,"m9":0,"m10":... is not of type \'string\'')
    assert _CountingRepr.calls == 0
    small = _CountingRepr({"a": None})
    error = SimpleNamespace(validator="type", validator_value="string", instance=small,
                            message=f"{dict(small)!r} is not of type 'string'")
    assert schema._message(error) == '{"a":null} is not of type \'string\''


def _many_names_writers(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """Which writer chainpass._many_names_bytes takes, and on what value: "cut" when
    sorted as bytes, "exact" for the exact encoder, "msgspec" for msgspec's sorted
    encoder (which the chain pass also takes for every other value it writes)."""
    from keel_verify.crypto.canonical import canonical_bytes as exact

    taken: list[tuple[str, Any]] = []
    cut, sorted_encoder = member_sort.sorted_as_bytes, accel.sorted_encoder()

    def cutting(value: Any, *args: Any) -> bytes | None:
        written = cut(value, *args)
        if written is not None:
            taken.append(("cut", value))
        return written

    def exactly(value: Any) -> bytes:
        taken.append(("exact", value))
        return exact(value)

    def sorting(value: Any) -> bytes:
        taken.append(("msgspec", value))
        return sorted_encoder(value)

    monkeypatch.setattr(member_sort, "sorted_as_bytes", cutting)
    monkeypatch.setattr(chainpass, "canonical_bytes", exactly)
    monkeypatch.setattr(accel, "sorted_encoder", lambda: sorting)
    return taken


@pytest.mark.parametrize("make, writer", [
    (lambda: hostile.wide_metadata(MANY), "cut"),  # scalars, names in a few runs
    (lambda: hostile.wide_metadata(MANY).replace(b'"m7":0', b'"m7":[0]', 1), "exact"),
    (lambda: hostile.wide_metadata(MANY, value=b"[]"), "exact"),
    (lambda: hostile.wide_metadata(MANY, scattered=True), "msgspec"),
    (lambda: hostile.wide_metadata(MANY, value=b"[]", scattered=True), "msgspec"),
    (lambda: hostile.metadata_of_small_arrays(MANY, b'{"b":%d,"a":%d}'), "msgspec"),
], ids=["scalars", "a container among them", "containers", "scattered names",
        "containers, scattered names", "small objects"])
def test_a_member_of_many_names_is_written_the_cheapest_exact_way(
    monkeypatch: pytest.MonkeyPatch, make: Callable[[], bytes], writer: str,
) -> None:
    """Written alone (chainpass._many_names_bytes): a wide object of scalars whose names
    come in a few runs sorted as bytes, one of other values by the exact encoder (its
    sort merges runs), anything else (scattered names, a list of small objects) by
    msgspec's sorted encoder; each as the exact path writes it."""
    monkeypatch.setattr(loader, "MANY_NAMES", 1000)
    monkeypatch.setattr(member_sort, "WIDE_OBJECT_MEMBERS", 1000)
    data = make()
    taken = _many_names_writers(monkeypatch)
    artifact, chain_pass = read_strictly(data)
    assert artifact.many_names == {"session_metadata"} and artifact.document_within_jcs
    metadata = artifact.document["session_metadata"]
    assert [kind for kind, value in taken if value is metadata] == [writer]
    monkeypatch.undo()
    assert chain_pass.content_hash == read_strictly(data, exact=True)[1].content_hash
    assert report_to_dict(verify_bytes(data, TRUST)) == report_to_dict(verify_bytes(data, TRUST, exact=True))


_scalars = st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(
    st.sampled_from(["a", "b", ",", '"', "\\", " ", "!", "é", "😀", "\x00", "\x7f"]), max_size=4)
_names = st.text(st.sampled_from(["a", "b", "z", "0", ",", '"', "\\", " ", "!", "#", "é", "😀",
                                  "\x1f", "\u2028"]), max_size=4)


@pytest.mark.parametrize("wide", [2, member_sort.WIDE_OBJECT_MEMBERS])
@settings(max_examples=300)
@given(st.dictionaries(_names, _scalars | st.lists(_scalars, max_size=2), max_size=8)
       | st.lists(st.dictionaries(_names, _scalars, max_size=3), max_size=3))
def test_many_names_are_written_as_the_exact_encoder_writes_them(wide: int, members: Any) -> None:
    """Whichever writer is taken (with ``wide`` 2, objects of two members or more are
    wide: cut, exact or msgspec by their names and values)."""
    from keel_verify.crypto.canonical import canonical_bytes

    with patch.object(member_sort, "WIDE_OBJECT_MEMBERS", wide):
        assert chainpass._many_names_bytes(members) == canonical_bytes(members)


# Four members or more is wide here (WIDE_OBJECT_MEMBERS patched): "b" before "a" is
# one descent, a few runs; names in order are none (msgspec's best case); twenty names
# in falling order are more than member_sort.MOST_DESCENTS (scattered).
_FALLING = {chr(ord("z") - index): index for index in range(20)}


@pytest.mark.parametrize("members, writer", [
    ({"b": 1, "a": "x", "c": None, "d": True}, "cut"),
    ({"b": 1, "a b": 2, "c": 3, "d": 4}, "exact"),  # a space sorts below the closing quote
    ({"b": 1, "a!": 2, "c": 3, "d": 4}, "exact"),
    ({"b": 1, "a\n": 2, "c": 3, "d": 4}, "exact"),  # written with an escape
    ({"b": "x,y", "a": 2, "c": 3, "d": 4}, "cut"),  # a comma inside a string, not at its end
    ({"b": "x,", "a": 2, "c": 3, "d": 4}, "exact"),  # a string ending with a comma
    ({"b": 1, "a": [2], "c": 3, "d": 4}, "exact"),  # a container
    ({"b": 1.5, "a": 2, "c": 3, "d": 4}, "exact"),  # a float
    ({"a": 1, "b": [2], "c": 3, "d": 4}, "msgspec"),  # names in order
    (_FALLING, "msgspec"),  # scattered names
    ({"b": 1, "a": [2]}, "msgspec"),  # not wide
    ([{"b": 1, "a": 2}, {"d": [], "c": 3}], "msgspec"),  # not an object
])
def test_many_names_are_sorted_as_bytes_only_when_proven(
    monkeypatch: pytest.MonkeyPatch, members: Any, writer: str,
) -> None:
    from keel_verify.crypto.canonical import canonical_bytes as exact

    monkeypatch.setattr(member_sort, "WIDE_OBJECT_MEMBERS", 4)
    taken = _many_names_writers(monkeypatch)
    assert chainpass._many_names_bytes(members) == exact(members)
    assert [(kind, value is members) for kind, value in taken] == [(writer, True)]


DUPLICATES = {
    "a member": (b',"k3":1', "k3"),
    "the chain, an array": (b',"chain":[]', "chain"),
    "the chain, not an array": (b',"chain":5', "chain"),
    "signatures": (b',"signatures":[]', "signatures"),
    "a name inside a member": (b',"x":{"a":1,"a":2}', "a"),
}


@pytest.mark.parametrize("extra, key", DUPLICATES.values(), ids=DUPLICATES.keys())
def test_a_duplicate_key_on_the_one_decode_path_is_refused_as_the_exact_path_words_it(
    extra: bytes, key: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(loader, "WHOLE_DOCUMENT_COLONS", 0)
    data = hostile.many_members(50)[:-1] + extra + b"}"
    for exact in (False, True):
        with pytest.raises(LoadError, match=f'duplicate object key "{key}"'):
            read_strictly(data, exact=exact)
