"""Floats at C speed: a part dense in floats has its float literals proven on its bytes
(keel_verify.load.accel.own_profile_texts_outside_strings), or else read in C, and when
each is proven its own profile text (keel_verify.load.accel.own_profile_texts) the twin
holds the literals themselves; otherwise a dict of their texts (profile_texts_of), or, for
a part sparse in floats, the hook (accel._ProfileTexts). Whichever way is taken, the
value, the twin and the float count must be what the hook alone gives, and the reports
the exact path's. Proved by structure (which way ran), never by a clock (the times are
in ``benchmarks/hostile.py``)."""

from __future__ import annotations

import json
import random
import re
import sys
from typing import Any

import msgspec
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from keel_verify.crypto.canonical import float_text
from keel_verify.load import accel, chainpass, loader, nesting
from tests import hostile_inputs as hostile
from tests.helpers import public_v3
from tests.test_float_parts import assert_mixed_equals_exact

pytestmark = pytest.mark.skipif(
    not accel.fast_json_available(), reason="msgspec not installed: only the exact path exists"
)


def hook_only(data: bytes) -> tuple[Any, Any, int]:
    """What read_floats gave before the literals were read: value, twin (None without a
    float) and float count, every float's text written by the hook."""
    value = accel.decoder("floats").decode(data)
    texts = accel._ProfileTexts()
    twin = msgspec.json.Decoder(float_hook=texts).decode(data)
    return value, twin if texts.count else None, texts.count


def assert_read_as_the_hook_reads(data: bytes) -> accel.FloatPart:
    """read_floats(data) gives the hook's value, twin and count, or raises as it does."""
    try:
        expected = hook_only(data)
    except msgspec.ValidationError as refusal:  # an overflow, as msgspec words it
        with pytest.raises(msgspec.ValidationError) as raised:
            accel.read_floats(data)
        assert raised.value.args == refusal.args
        return accel.FloatPart(None, None, 0)
    part = accel.read_floats(data)
    assert json.dumps(part.value) == json.dumps(expected[0])  # -0.0 and 0.0 told apart
    assert part.twin == expected[1]
    assert part.floats == expected[2]
    if part.twin is not None:
        assert accel.encode_sorted(part.twin) == accel.encode_sorted(expected[1])
    return part


class Ways:
    """Which way read_floats took for each part: proven on its bytes (the float count, 0
    when not), literals read and proven, mapped."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.byte_proofs: list[int] = []
        self.proofs: list[bool] = []
        self.mapped: list[int] = []
        prove, mapping = accel.own_profile_texts, accel.profile_texts_of
        prove_on_bytes = accel.own_profile_texts_outside_strings

        def spied_proof_on_bytes(outside: bytes) -> int:
            self.byte_proofs.append(prove_on_bytes(outside))
            return self.byte_proofs[-1]

        def spied_proof(literals: list[str]) -> bool:
            self.proofs.append(prove(literals))
            return self.proofs[-1]

        def spied_mapping(literals: list[str]) -> Any:
            self.mapped.append(len(literals))
            return mapping(literals)

        monkeypatch.setattr(accel, "own_profile_texts", spied_proof)
        monkeypatch.setattr(accel, "own_profile_texts_outside_strings", spied_proof_on_bytes)
        monkeypatch.setattr(accel, "profile_texts_of", spied_mapping)


@pytest.fixture
def ways(monkeypatch: pytest.MonkeyPatch) -> Ways:
    return Ways(monkeypatch)


# (literal, proven): each proven literal is repr's text of its float; the others are not
# proven (16 or more significant digits, a decimal point position outside -3..14, an
# exponent, a trailing zero), whatever their repr.
EDGE_LITERALS = [
    ("0.0", True), ("-0.0", True), ("0.5", True), ("-0.5", True), ("1.0", True),
    ("100.0", True), ("0.1", True), ("0.0001", True), ("0.00001", False), ("0.00012", True),
    ("-0.000999", True), ("12345678901234.0", True), ("123456789012345.0", False),
    ("1234567890123456.0", False), ("99999999999999.9", True), ("9.99999999999999", True),
    ("9.999999999999999", False), ("0.12345678901234", True), ("0.1234567890123456", False),
    ("0.30000000000000004", False), ("1.50", False), ("0.00", False), ("10.00", False),
    ("1e5", False), ("1E5", False), ("1.5e16", False), ("1.0e400", False), ("-1e400", False),
    ("2e-400", False), ("5e-324", False), ("1.7976931348623157e308", False),
    ("123456789012345678901234567890.5", False),
]


@pytest.mark.parametrize(("literal", "proven"), EDGE_LITERALS)
def test_edge_literals(literal: str, proven: bool) -> None:
    assert accel.own_profile_texts([literal]) is proven
    assert accel.own_profile_texts(["1.5", literal, "2.5"]) is proven
    text = f'[{literal},{{"{literal}":[{literal}]}},0.25,true,false,null]'.encode()
    assert accel.own_profile_texts_outside_strings(nesting.outside_strings(text)) == (
        3 if proven else 0)
    if proven:
        assert float_text(float(literal)) == literal
    assert_read_as_the_hook_reads(f"[{literal},{literal},0.25]".encode())


def test_no_literals_prove_nothing() -> None:
    assert accel.own_profile_texts([]) is False


def test_one_literal_outside_the_form_among_many_leaves_all_unproven() -> None:
    literals = [f"{index}.5" for index in range(1_000)]
    assert accel.own_profile_texts(literals)
    for bad in ("1.50", "1e5", "0.1234567890123456"):
        assert not accel.own_profile_texts([*literals, bad])
        assert not accel.own_profile_texts([bad, *literals])


def test_no_proof_without_the_short_repr(monkeypatch: pytest.MonkeyPatch, ways: Ways) -> None:
    """The proof rests on CPython's shortest round-trip repr: without it, the literals'
    texts are written, and the twin is still right."""
    monkeypatch.setattr(sys, "float_repr_style", "legacy")
    assert not accel.own_profile_texts(["1.5"])
    assert not accel.own_profile_texts_outside_strings(b"[1.5,2.5,3.5]")
    ways.byte_proofs.clear()  # the spy saw the call above: only read_floats' are counted
    ways.proofs.clear()
    assert_read_as_the_hook_reads(b"[1.5,2.5,3.5]")
    assert ways.byte_proofs == [0] and ways.proofs == [False] and ways.mapped == [3]


_digits = st.text("0123456789", min_size=1, max_size=18)
_literals = st.builds(
    lambda sign, whole, fraction, exponent: sign + whole + fraction + exponent,
    st.sampled_from(["", "-"]),
    st.just("0") | st.builds(lambda first, rest: first + rest, st.sampled_from("123456789"),
                             st.text("0123456789", max_size=17)),
    st.just("") | st.builds(lambda digits: "." + digits, _digits),
    st.just("") | st.builds(lambda e, sign, digits: e + sign + digits,
                            st.sampled_from("eE"), st.sampled_from(["", "+", "-"]),
                            st.text("0123456789", min_size=1, max_size=3)),
).filter(lambda literal: any(mark in literal for mark in ".eE"))
_repr_literals = st.floats(allow_nan=False, allow_infinity=False).map(float_text)


@given(_literals | _repr_literals)
@example("0.0001")
@example("99999999999999.9")
@settings(deadline=None)
def test_a_proven_literal_is_its_own_profile_text(literal: str) -> None:
    if accel.own_profile_texts([literal]):
        assert float_text(float(literal)) == literal


def fixed_notation(sign: str, digits: str, point: int) -> str:
    """The literal of 0.``digits`` x 10^``point`` in fixed notation, as repr writes it."""
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    whole = digits[:point].ljust(point, "0")
    return f"{sign}{whole}.{digits[point:] or '0'}"


def test_every_literal_of_the_form_is_proven_and_its_own_profile_text() -> None:
    """The lemma itself, on 20,000 literals built from their parts (at most 15 significant
    digits, the last nonzero; the point -3..14 places from the first), not from floats."""
    rng = random.Random(8032)
    literals = []
    for _ in range(20_000):
        count = rng.randint(1, 15)
        digits = str(rng.randint(10 ** (count - 1), 10**count - 1)).rstrip("0")
        point = rng.randint(-3, 14)
        literal = fixed_notation(rng.choice(["", "-"]), digits, point)
        if len(literal.lstrip("-")) <= 16:  # the form's length bound
            literals.append(literal)
    assert len(literals) > 10_000
    assert accel.own_profile_texts(literals)
    assert [float_text(float(literal)) for literal in literals] == literals


_numbers = _literals | _repr_literals | st.sampled_from(["0", "-7", "123", "9007199254740993"])
_items = st.lists(_numbers | st.sampled_from(['"1.5"', "null", "true", '{"x":2.5}']),
                  min_size=1, max_size=40)


_strings = st.text("0123456789.eE+-\\\"tfn ", max_size=6).map(json.dumps)
_texts = st.lists(_numbers | _strings | st.sampled_from(["null", "true", "false", "[]", "{}"]),
                  min_size=1, max_size=30)


@given(_texts, st.sampled_from(["[{}]", '{{"k":[{}]}}', '[ {} ]', '{{"a":{{"b":[{}]}}}}']),
       st.sampled_from([",", " , ", ",\n"]))
@example(["1.5", "true", "2.5"], "[{}]", ",")
@example(["1.5", '"1e5"', "false"], "[{}]", ",")
@example(["1.5", "1e5", "false"], "[{}]", ",")
@settings(deadline=None)
def test_the_proof_on_the_bytes_is_the_literals_proof(items: list[str], frame: str,
                                                      comma: str) -> None:
    """Proven on the bytes exactly when the float literals a decode reads are proven (so
    each its own profile text), and then it counts them."""
    data = frame.format(comma.join(items)).encode()
    literals: list[str] = []
    msgspec.json.Decoder(float_hook=literals.append).decode(data)
    count = accel.own_profile_texts_outside_strings(nesting.outside_strings(data))
    assert count == (len(literals) if accel.own_profile_texts(literals) else 0)
    if count:
        assert all(float_text(float(literal)) == literal for literal in literals)


@given(_items, st.booleans())
@settings(deadline=None)
def test_any_dense_floats_read_as_the_hook_reads_them(items: list[str], wrapped: bool) -> None:
    text = "[" + ",".join(items) + "]"
    assert_read_as_the_hook_reads((f'{{"a":{text},"b":[{text}]}}' if wrapped else text).encode())


@given(_items)
@settings(deadline=None)
def test_any_floats_read_as_the_hook_reads_them_whichever_way(items: list[str]) -> None:
    data = ("[" + ",".join(items) + "]").encode()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(accel, "BYTES_PER_FLOAT_FOR_LITERALS", 10**9)  # always read the literals
        assert_read_as_the_hook_reads(data)
        patch.setattr(accel, "LITERALS_MAPPED", 0)  # not proven: the hook
        assert_read_as_the_hook_reads(data)
        patch.setattr(accel, "BYTES_PER_FLOAT_FOR_LITERALS", 0)  # never read them
        assert_read_as_the_hook_reads(data)


def test_dense_floats_in_their_profile_text_are_proven_on_their_bytes(ways: Ways) -> None:
    data = ("[" + ",".join(f"{index}.5" for index in range(600)) + ',{"x":-0.0}]').encode()
    part = assert_read_as_the_hook_reads(data)
    assert part.floats == 601
    assert ways.byte_proofs == [601] and ways.proofs == [] and ways.mapped == []  # no literals read


def test_repeated_literals_share_one_raw_in_the_twin(ways: Ways) -> None:
    repeated = ("[" + ",".join(["1.5", "-0.0", "1.5", "2.25", '{"1.5":1.5}'] * 5_000) + "]").encode()
    assert len(repeated) >= accel.SHARED_FROM_BYTES
    assert accel.literals_repeat(nesting.outside_strings(repeated))
    part = assert_read_as_the_hook_reads(repeated)
    assert ways.byte_proofs == [25_000]
    assert part.twin[0] is part.twin[2] is part.twin[4]["1.5"] and part.twin[1] is part.twin[6]
    distinct = ("[" + ",".join(f"{index}.5" for index in range(600)) + "]").encode()
    assert not accel.literals_repeat(nesting.outside_strings(distinct))
    assert_read_as_the_hook_reads(distinct)


def test_dense_floats_not_proven_on_their_bytes_take_the_literals(ways: Ways) -> None:
    """An exponent in a number is not in the form on the bytes (the literals' proof
    rejects it too); an "e" in a string or a literal is not in a number."""
    for data, byte_proof in [(b'[1.5,2.5,"1e5",true,false]', 2), (b"[1.5,2.5,1e5]", 0),
                             (b"[1.5,2.5,1E5]", 0), (b"[1.5,2.5,1.0e+5]", 0)]:
        ways.byte_proofs.clear()
        ways.proofs.clear()
        assert_read_as_the_hook_reads(data)
        assert ways.byte_proofs == [byte_proof] and ways.proofs == ([] if byte_proof else [False])


def test_dense_floats_in_other_texts_take_their_mapped_texts(ways: Ways) -> None:
    literals = ["1.50", "1E5", "0.00001", "1.5", "-0.0", "1e16", "1.50"]
    part = assert_read_as_the_hook_reads(("[" + ",".join(literals) + "]").encode())
    assert accel.encode_sorted(part.twin) == b"[1.5,100000.0,1e-05,1.5,-0.0,1e+16,1.5]"
    assert ways.byte_proofs == [0] and ways.proofs == [False] and ways.mapped == [7]


def test_more_literals_than_mapped_take_the_hook(monkeypatch: pytest.MonkeyPatch, ways: Ways) -> None:
    monkeypatch.setattr(accel, "LITERALS_MAPPED", 2)
    part = assert_read_as_the_hook_reads(b"[1.50,2.50,3.50]")
    assert accel.encode_sorted(part.twin) == b"[1.5,2.5,3.5]"
    assert ways.proofs == [False] and ways.mapped == []


def test_sparse_floats_take_the_hook(ways: Ways) -> None:
    data = ("[" + "0," * 10_000 + "1.5]").encode()
    assert assert_read_as_the_hook_reads(data).floats == 1
    assert ways.byte_proofs == [] and ways.proofs == [] and ways.mapped == []


def test_dots_in_strings_alone_leave_no_twin(ways: Ways) -> None:
    part = assert_read_as_the_hook_reads(b'["1.5","2.5","3.5"]')
    assert part.twin is None and part.floats == 0
    assert ways.byte_proofs == [0]  # no float on the bytes: not proven, the literals read
    assert ways.proofs == [] and ways.mapped == []  # no literal to prove or map


@pytest.mark.parametrize("literals", [["1.5", "1e400", "-1e400"], ["1.50", "-1e400", "1e400"],
                                      ["2.5", "1.0e999"]])
def test_an_overflow_in_a_dense_part_is_refused_as_the_hook_refuses(literals: list[str],
                                                                    ways: Ways) -> None:
    data = ("[" + ",".join(literals) + "]").encode()
    with pytest.raises(msgspec.ValidationError) as raised:
        accel.read_floats(data)
    first = next(text for text in literals if "e" in text)
    assert raised.value.args == (f"{first} - at `$[{literals.index(first)}]`",)
    assert ways.byte_proofs == [0]
    assert ways.proofs == [False] and ways.mapped == [len(literals)]  # mapped: none, the hook


@pytest.mark.parametrize("entries", [
    (b"0.5", b"1.25", b"-0.0", b"0.0", b"123456.75"),  # each its own profile text
    (b"0.5", b"1.50", b"1E5", b"0.00001", b"1e16"),  # some not: written as the profile writes
    (b"[0.5,2.5]", b'{"x":1.25,"y":[3.5]}', b"7"),
])
def test_chains_of_dense_floats_report_as_the_exact_path(entries: tuple[bytes, ...],
                                                         ways: Ways) -> None:
    assert_mixed_equals_exact(hostile.tiny_chain_entries(3 * chainpass.CHUNK_ENTRIES + 5, entries))
    assert ways.byte_proofs or ways.proofs


@pytest.mark.parametrize(("values", "proven_on_bytes"), [
    (hostile.WIDE_FLOAT_VALUES["own profile texts"], True),
    (hostile.WIDE_FLOAT_VALUES["other texts"], False),
])
def test_a_wide_float_entry_reports_as_the_exact_path(values: tuple[bytes, ...],
                                                      proven_on_bytes: bool, ways: Ways) -> None:
    report = assert_mixed_equals_exact(hostile.wide_entry_of(5_000, values))
    floats = sum(len(re.findall(rb"[0-9][.eE]", values[index % len(values)]))
                 for index in range(5_000))
    reads = len(ways.byte_proofs)  # the fast path runs twice (report, then the digest)
    assert reads and ways.byte_proofs == [floats if proven_on_bytes else 0] * reads
    assert ways.proofs == ([] if proven_on_bytes else [False] * reads)
    assert ways.mapped == ([] if proven_on_bytes else [floats] * reads)
    assert "/chain/0/m0" in json.dumps(report)


def test_distinct_floats_report_as_the_exact_path(ways: Ways) -> None:
    assert_mixed_equals_exact(hostile.float_entries(3 * chainpass.CHUNK_ENTRIES + 1, distinct=True))
    assert ways.byte_proofs and all(ways.byte_proofs) and ways.proofs == ways.mapped == []


@given(st.lists(_numbers, min_size=1, max_size=60))
@settings(deadline=None, max_examples=25)
def test_random_chains_of_float_literals_report_as_the_exact_path(literals: list[str]) -> None:
    assert_mixed_equals_exact(hostile.tiny_chain_entries(len(literals) * 3,
                                                         tuple(text.encode() for text in literals)))


@pytest.mark.parametrize(("text", "proven"), [
    (b"[0,1.5]", True), (b"[0,1E5]", True), (b"[0,-2.5e-3]", True), (b"[0,1e5]", False),
    (b'["1.5"]', False), (b'[1.5,"x"]', False), (b"[true,false,null,0]", False), (b"[0]", False),
])
def test_a_float_is_proven_on_text_without_strings(text: bytes, proven: bool) -> None:
    assert nesting.holds_float_without_strings(text) is proven
    if proven:
        assert not nesting.float_free(text)


def test_a_large_member_dense_in_floats_is_proven_on_its_bytes(ways: Ways) -> None:
    """A top-level member read alone (:class:`keel_verify.load.loader.FloatMember`) takes
    the proof on its bytes too, the parts outside its strings computed once."""
    items = ",".join(["1.5", "-0.0", '"2.5"', "0.125", "null"] * (loader.MEMBER_ALONE_BYTES // 20))
    document = public_v3()
    document["padding"] = []
    data = hostile.encode(document).replace(b'"padding":[]', b'"padding":[' + items.encode() + b"]", 1)
    artifact = loader.load_bytes(data)
    floats = 3 * (loader.MEMBER_ALONE_BYTES // 20)
    assert artifact.float_members["padding"].floats == floats
    assert ways.byte_proofs == [floats] and ways.proofs == []
    assert_mixed_equals_exact(data)


class TypedDecodes:
    """The sizes of the inputs the members' typed decoder is handed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sizes: list[int] = []
        build = accel.nested_items_decoder

        class Counting:
            def __init__(self, real: Any, sizes: list[int]) -> None:
                self.real, self.sizes = real, sizes

            def decode(self, data: bytes) -> Any:
                self.sizes.append(len(data))
                return self.real.decode(data)

        monkeypatch.setattr(accel, "nested_items_decoder",
                            lambda levels: Counting(build(levels), self.sizes))


@pytest.mark.parametrize(("last", "typed_tried"), [
    (b"1.5", False),  # proven to hold a float: never handed to the typed decoder
    (b"1e5", True),  # not proven (an e exponent): refused by it, then read alike
    (b'1.5,"x"', True),  # not proven (a string): the same
    (b"7", True),  # no float: decoded by it
])
def test_a_large_member_holding_a_float_skips_the_typed_decoder(
        monkeypatch: pytest.MonkeyPatch, last: bytes, typed_tried: bool) -> None:
    items = b"0," * loader.MEMBER_ALONE_BYTES + last
    document = public_v3()
    document["padding"] = []
    data = hostile.encode(document).replace(b'"padding":[]', b'"padding":[' + items + b"]", 1)
    typed = TypedDecodes(monkeypatch)
    artifact = loader.load_bytes(data)
    assert (len(items) + 4 in typed.sizes) is typed_tried  # "[" + the member's bytes + "]"
    assert ("padding" in artifact.float_members) is (last != b"7")
    assert_mixed_equals_exact(data)
