"""Objects written by cutting and sorting their members as bytes (load/member_sort.py):
the same bytes as msgspec's sorted encoder, and a chain of wide entries hashed right."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keel_verify import TrustPolicy, verify_bytes
from keel_verify.crypto.canonical import canonical_bytes
from keel_verify.load import accel, chainpass, member_sort
from keel_verify.load import dense as dense_chain
from keel_verify.load.chainpass import read_strictly
from keel_verify.report.json_report import report_to_dict
from tests import hostile_inputs as hostile
from tests.helpers import public_v3, rechain, resign

msgspec = pytest.importorskip("msgspec")  # a twin's floats are msgspec.Raw

pytestmark = pytest.mark.skipif(
    not accel.fast_json_available(), reason="msgspec not installed: only the exact path exists"
)

TRUST = TrustPolicy.self_attested_only()

_scalars = st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(
    st.sampled_from(["a", "b", ",", '"', "\\", " ", "!", "é", "😀", "\x00", "\x7f"]), max_size=4)
_names = st.text(st.sampled_from(["a", "b", "z", "0", ",", '"', "\\", " ", "!", "#", "é", "😀",
                                  "\x1f", "\u2028"]), max_size=4)
# A twin's float: its profile text as msgspec.Raw (keel_verify.load.accel.read_floats).
_raw_floats = st.floats(allow_nan=False, allow_infinity=False).map(
    lambda number: msgspec.Raw(repr(number).encode()))
_values = st.recursive(_scalars | _raw_floats, lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(_names, inner, max_size=3), max_leaves=12)
_entries = st.lists(_values | st.dictionaries(_names, _values, max_size=10), max_size=6)


@settings(max_examples=300)
@given(_entries)
def test_the_wide_object_writer_writes_what_the_sorted_encoder_writes(entries: list[Any]) -> None:
    """Whatever the entries (objects of scalars, of Raw floats, nested, other values), and
    with every object of two or more members taken as wide: the sorted encoder's bytes,
    for the list and for each entry."""
    encode = accel.sorted_encoder()
    for runs in (True, False):  # the cut and sort taken wherever proven, or never
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(member_sort, "WIDE_OBJECT_MEMBERS", 2)
            patch.setattr(member_sort, "few_runs", lambda value, runs=runs: runs)
            writer = member_sort.WideObjectWriter(encode)
            assert list(map(writer, entries)) == list(map(encode, entries))


@pytest.mark.parametrize("members, cut", [
    ({"b": 1, "a": "x", "c": None, "d": True}, True),
    ({"b": msgspec.Raw(b"1.5"), "a": 2}, True),
    ({"b": 1, "a b": 2}, False),  # a space sorts below the closing quote
    ({"b": 1, "a!": 2}, False),
    ({"b": 1, "a\n": 2}, False),  # written with an escape
    ({"b": "a b!", "a": 2}, True),  # a space and a "!" in a value only: the names are looked at
    ({"b": "x,y", "a": 2}, True),  # a comma inside a string, not at its end
    ({"b": "x,", "a": 2}, False),  # a string ending with a comma: cut inside a member
    ({"b": 1, "a": {"d": 1, "c": 2}}, False),  # an object: its members to sort too
    ({"b": 1, "a": [2]}, False),  # a container
    ({"b": 1.5, "a": 2}, False),  # a float: msgspec's text is not always the profile's
    ({"a": 1}, False),  # nothing to sort
])
def test_an_object_is_cut_and_sorted_only_when_proven(members: dict[str, Any], cut: bool) -> None:
    written = member_sort.sorted_as_bytes(members, member_sort.SCALARS | {msgspec.Raw})
    assert (written is not None) is cut
    if written is not None:
        assert written == accel.sorted_encoder()(members)


def test_joined_a_slice_at_a_time_is_joined_at_once() -> None:
    pieces = [b"m%d\":%d" % (index, index) for index in range(3 * member_sort.JOINED_AT_ONCE + 5)]
    assert member_sort.joined_members(pieces) == b',"'.join(pieces)
    assert member_sort.joined_members(pieces[:3]) == b',"'.join(pieces[:3])


_MEMBERS = member_sort.WIDE_OBJECT_MEMBERS


@pytest.mark.parametrize("text, may", [
    # as many colons as a wide object's members, and long enough
    (b"[" + b",".join([b'{"a":1}'] * _MEMBERS) + b"]", True),
    (b"[" + b",".join([b'{"a":1}'] * (_MEMBERS * 2 // 3)) + b"]", False),  # too short
    (b"[" + b",".join([b'["a",1]'] * _MEMBERS) + b"]", False),  # long enough, no colon
    (b'["' + b"x" * (6 * _MEMBERS) + b'"]', False),
    (b'["' + b":" * (6 * _MEMBERS) + b'"]', True),  # colons in a string count (an upper bound)
])
def test_a_wide_object_is_ruled_out_by_length_or_colons(text: bytes, may: bool) -> None:
    assert member_sort.may_hold_wide_object(text) is may
    assert member_sort.may_hold_wide_object(memoryview(text)) is (
        len(text) >= member_sort.MEMBER_MIN_BYTES * member_sort.WIDE_OBJECT_MEMBERS)


def _spy_on_cuts(patch: pytest.MonkeyPatch) -> list[int]:
    """Each call of member_sort.sorted_as_bytes, as it happens: the object's member count
    when it was cut and sorted, -1 when that was not proven."""
    cuts: list[int] = []
    sorted_as_bytes = member_sort.sorted_as_bytes

    def counting(value: dict[str, Any], kinds: frozenset[type] = member_sort.SCALARS,
                 text: bytes | None = None) -> bytes | None:
        made = sorted_as_bytes(value, kinds, text)
        cuts.append(len(value) if made is not None else -1)
        return made

    patch.setattr(member_sort, "sorted_as_bytes", counting)
    return cuts


def test_a_wide_object_at_any_depth_is_cut_and_the_entry_left_as_it_was() -> None:
    """An entry holding wide objects inside arrays and objects: each is written by the
    cut and sort, the bytes are the sorted encoder's, and the entry is unchanged."""
    encode = accel.sorted_encoder()
    wide = {f"m{index}": index % 3 for index in range(12)}  # m10 sorts before m2
    entry = {"z": [1, {"b": wide, "a": [wide, 2]}], "y": wide, "x": {"k": [[wide]]}}
    before = json.dumps(entry)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(member_sort, "WIDE_OBJECT_MEMBERS", 12)
        cut = _spy_on_cuts(patch)
        assert member_sort.WideObjectWriter(encode)(entry) == encode(entry)
    assert cut == [12] * 4
    assert json.dumps(entry) == before


#: Wide, for the chain tests: the threshold is lowered to this (the bytes that rule a
#: wide object out follow it), so that a test's entries stay small.
TEST_WIDE = 4096
WIDE = TEST_WIDE + 3


def _wide_text() -> bytes:
    """An object of WIDE members ``"m0":0,"m1":1,...`` (values 0 to 6), as JSON text."""
    return b"{" + b",".join(b'"m%d":%d' % (index, index % 7) for index in range(WIDE)) + b"}"


def _wide_members(seed: int) -> dict[str, Any]:
    """WIDE members of every scalar kind, strings with commas and spaces among them,
    named ``w0``, ``w1``, ... (a few runs: see member_sort.few_runs)."""
    kinds = [seed, f"v{seed}, ok", None, True, -seed, "x y!"]
    return {f"w{index}": kinds[index % len(kinds)] for index in range(WIDE)}


def _signed_wide_chain(*, float_member: bool, nested: bool) -> dict[str, Any]:
    """The public v3 sample, its first two entries WIDE members wider (or, ``nested``,
    holding such an object in an array in a member), re-chained and re-signed (a float
    member in the second's wide object when ``float_member``)."""
    document = public_v3()
    for seed, entry in enumerate(document["chain"][:2]):
        wide = _wide_members(seed)
        if float_member and seed == 1:
            wide["w1"] = 2.5
        if nested:
            entry["extra"] = [1, {"inner": wide}]
        else:
            entry.update(wide)
    return resign(rechain(document))


def _check(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(check for check in report["checks"] if check["name"] == name)


@pytest.mark.parametrize("compact", [True, False], ids=["compact", "indented"])
@pytest.mark.parametrize("float_member", [False, True], ids=["scalars", "a float member"])
@pytest.mark.parametrize("nested", [False, True], ids=["the entry", "nested in it"])
def test_a_chain_of_wide_entries_is_hashed_right_and_a_tampered_member_found(
    monkeypatch: pytest.MonkeyPatch, compact: bool, float_member: bool, nested: bool,
) -> None:
    """Entries of more than WIDE_OBJECT_MEMBERS members, signed: their content hashes
    recomputed by the cut and sort match, the report is the exact path's, and one
    member's value changed is found by both paths."""
    monkeypatch.setattr(member_sort, "WIDE_OBJECT_MEMBERS", TEST_WIDE)
    cuts = _spy_on_cuts(monkeypatch)
    document = _signed_wide_chain(float_member=float_member, nested=nested)

    def dumped(value: dict[str, Any]) -> bytes:
        return (json.dumps(value, ensure_ascii=False, separators=(",", ":")) if compact
                else json.dumps(value, ensure_ascii=False, indent=1)).encode()

    data = dumped(document)
    fast = report_to_dict(verify_bytes(data, TRUST))
    assert [cut for cut in cuts if cut >= WIDE], "the wide entries were written by the cut"
    assert fast == report_to_dict(verify_bytes(data, TRUST, exact=True))
    assert _check(fast, "chain_integrity")["outcome"] == "pass"
    assert read_strictly(data)[1].content_hash == read_strictly(data, exact=True)[1].content_hash

    wide = document["chain"][0]["extra"][1]["inner"] if nested else document["chain"][0]
    wide["w3"] = False  # was True: the entry's stated hash no longer holds
    tampered = dumped(document)
    fast_tampered = report_to_dict(verify_bytes(tampered, TRUST))
    assert fast_tampered == report_to_dict(verify_bytes(tampered, TRUST, exact=True))
    assert _check(fast_tampered, "chain_integrity")["outcome"] == "fail"


def test_the_exact_path_and_narrow_chunks_never_take_the_wide_writer() -> None:
    """The exact encoder is never wrapped (its bytes are the profile's by definition),
    nor is ``write`` for a chunk proven narrow."""
    wide = [{f"m{index}": index for index in range(member_sort.WIDE_OBJECT_MEMBERS)}]
    encode = accel.sorted_encoder()
    assert chainpass._writer_for(wide, canonical_bytes) is canonical_bytes
    assert type(chainpass._writer_for(wide, encode)) is member_sort.WideObjectWriter
    assert chainpass._writer_for(wide, encode, narrow=True) is encode


def _spy_on_lengths(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many entries each chunk written by a WideObjectWriter held (it walks each)."""
    looked: list[int] = []
    writer_for = chainpass._writer_for

    def spying(entries: list[Any], write: Any, narrow: bool = False) -> Any:
        made = writer_for(entries, write, narrow)
        if type(made) is member_sort.WideObjectWriter:
            looked.append(len(entries))
        return made

    monkeypatch.setattr(chainpass, "_writer_for", spying)
    return looked


def test_a_dense_chain_of_tiny_entries_is_never_looked_at_for_wide_objects(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows too short to hold a wide object prove it on their length: no entry is
    walked (a chain of 10^7 tiny entries would pay a Python call each)."""
    monkeypatch.setattr(dense_chain, "MIN_DENSE_BYTES", 0)
    looked = _spy_on_lengths(monkeypatch)
    data = hostile.tiny_chain_entries(200_000, hostile.MIXED_TINY)
    artifact, chain_pass = read_strictly(data)
    assert artifact.chain is not None and artifact.chain.dense is not None
    assert looked == []
    assert chain_pass.content_hash == read_strictly(data, exact=True)[1].content_hash


@pytest.mark.parametrize("dense", [True, False], ids=["dense chain", "raw chain"])
def test_a_wide_entry_among_tiny_ones_is_written_by_the_cut(
        monkeypatch: pytest.MonkeyPatch, dense: bool) -> None:
    """One wide object after thousands of tiny entries in the same window (or chunk of
    raw slices): found by its length and written by the cut and sort; the report is the
    exact path's."""
    monkeypatch.setattr(member_sort, "WIDE_OBJECT_MEMBERS", TEST_WIDE)
    if dense:
        monkeypatch.setattr(dense_chain, "MIN_DENSE_BYTES", 0)
    looked = _spy_on_lengths(monkeypatch)
    wide = _wide_text()
    tiny = b",".join([b"0", b"{}", b'"x"', b"[1]", b"null"] * (400 if dense else 20))
    data = hostile._with_raw_chain(tiny + b"," + wide + b"," + tiny)
    written = _spy_on_cuts(monkeypatch)
    artifact, chain_pass = read_strictly(data)
    assert (artifact.chain is not None and artifact.chain.dense is not None) is dense
    assert looked and written == [WIDE]
    assert chain_pass.content_hash == read_strictly(data, exact=True)[1].content_hash
    assert report_to_dict(verify_bytes(data, TRUST)) == report_to_dict(
        verify_bytes(data, TRUST, exact=True))


def test_a_raw_chunk_is_narrow_by_its_entries_lengths_or_colons() -> None:
    """decode_raw_chunk proves no wide object when no entry takes as many bytes as one,
    or when an entry that does holds too few colons."""
    from keel_verify.load.loader import decode_raw_chunk

    def decoded(text: bytes) -> Any:
        # within the value limit (at most 3 values a member here): decoded whole
        return decode_raw_chunk(0, accel.decoder("items").decode(text), 64, within_limit=True)

    assert decoded(b'[{"a":1},2,"x"]').narrow
    members = member_sort.WIDE_OBJECT_MEMBERS
    least = member_sort.MEMBER_MIN_BYTES * members
    # Distinct entries (a repeated one is decoded alone).
    short_objects = b",".join(b'{"a":%d}' % index for index in range(members))
    assert len(short_objects) >= least
    assert decoded(b"[" + short_objects + b"]").narrow  # each short
    long_array = b"[" + b",".join(b"%d" % index for index in range(members)) + b"]"
    assert len(long_array) >= least
    assert decoded(b"[1," + long_array + b"]").narrow  # no colon
    long_object = b"{" + b",".join(b'"%d":0' % index for index in range(members)) + b"}"
    assert not decoded(b"[1," + long_object + b"]").narrow


@pytest.mark.parametrize("names, runs", [
    ([f"m{index}" for index in range(5000)], True),  # m0, m1, ...: four runs
    ([f"{index:08x}" for index in range(5000)], False),  # sorted: msgspec's best case
    ([f"{index * 2654435761 % 2**32:08x}" for index in range(5000)], False),  # scattered
    ([f"{index:08x}" for index in range(5000, 0, -1)], False),  # descending
    # sorted, then scattered: counted past the first names (no sample to fool)
    ([f"{index:08x}" for index in range(5000)] + [f"{index * 7919 % 9973:08x}x"
                                                 for index in range(200)], False),
    ([f"{index:04d}" for index in range(9000)] + [f"{index:04d}a" for index in range(9000)],
     True),  # two runs
])
def test_names_in_few_runs_are_told_by_their_descents(names: list[str], runs: bool) -> None:
    assert member_sort.few_runs(dict.fromkeys(names, 0)) is runs


def test_a_wide_object_of_scattered_names_is_left_to_msgspec(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Names that do not come in few runs: msgspec's sort is cheaper there, so the
    object is never cut (and the bytes are the same)."""
    monkeypatch.setattr(member_sort, "WIDE_OBJECT_MEMBERS", TEST_WIDE)
    cut: list[int] = []
    monkeypatch.setattr(member_sort, "sorted_as_bytes", lambda *args: cut.append(1))
    scattered = {f"{index * 2654435761 % 2**32:08x}": index for index in range(WIDE)}
    encode = accel.sorted_encoder()
    assert member_sort.WideObjectWriter(encode)({"a": [scattered]}) == encode({"a": [scattered]})
    assert cut == []


def test_many_small_containers_are_told_apart_in_c_not_walked(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An entry long enough, with colons enough, made of many small containers: only the
    entry itself is looked into (its children's encodings rule each of them out), not a
    Python step for each of them; and the one child that holds a wide object is found."""
    monkeypatch.setattr(member_sort, "WIDE_OBJECT_MEMBERS", TEST_WIDE)
    looked: list[int] = []
    cut_inside = member_sort.WideObjectWriter.cut_inside

    def counting(self: Any, value: Any, written: bytes, depth: int) -> Any:
        looked.append(depth)
        return cut_inside(self, value, written, depth)

    monkeypatch.setattr(member_sort.WideObjectWriter, "cut_inside", counting)
    encode = accel.sorted_encoder()
    small = [{"a": index} for index in range(2 * WIDE)] + [[index] for index in range(WIDE)]
    assert member_sort.WideObjectWriter(encode)(small) == encode(small)
    assert looked == [0]
    looked.clear()
    wide = _wide_members(1)
    assert member_sort.WideObjectWriter(encode)([*small, {"w": wide}]) == encode([*small, {"w": wide}])
    assert looked == [0, 1, 2]


@pytest.mark.parametrize("items", [b"1,%s,2", b'{"a":1},%s'], ids=["mixed", "objects"])
def test_a_wide_entry_is_cut_once_for_its_bytes_and_its_hash(
        monkeypatch: pytest.MonkeyPatch, items: bytes) -> None:
    """A chunk of a wide object among other entries: the object is cut and sorted once,
    for the signed message and for its content hash alike; the report is the exact
    path's."""
    monkeypatch.setattr(member_sort, "WIDE_OBJECT_MEMBERS", TEST_WIDE)
    cuts = _spy_on_cuts(monkeypatch)
    wide = _wide_text()
    data = hostile._with_raw_chain(items % wide)
    fast = report_to_dict(verify_bytes(data, TRUST))
    assert cuts == [WIDE]
    assert fast == report_to_dict(verify_bytes(data, TRUST, exact=True))
    assert read_strictly(data)[1].content_hash == read_strictly(data, exact=True)[1].content_hash
