"""The fast path's float reading and writing equal the exact path's, value for value and
byte for byte: :func:`keel_verify.load.accel.read_floats` reads each float as the strict
parser does, and the twin it decodes is written by msgspec's sorted encoder exactly as
:func:`keel_verify.crypto.canonical.canonical_bytes` writes the value; and
:func:`keel_verify.crypto.canonical.float_divergences` finds what ``jcs_divergences``
finds. Differential tests over generated values, the RFC 8785 number vectors
(tests/data/json-canonicalization) and number texts at the edges of the grammar."""

from __future__ import annotations

import csv
import json
import math
import random
import struct
from itertools import islice
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from keel_verify.crypto.canonical import (
    JCS_MAX_SAFE_INTEGER,
    canonical_bytes,
    float_divergences,
    float_text,
    jcs_divergences,
)
from keel_verify.errors import LoadError
from keel_verify.load import accel
from keel_verify.load.loader import parse_json

pytestmark = pytest.mark.skipif(
    not accel.fast_json_available(), reason="msgspec not installed: only the exact path exists"
)

VECTORS = Path(__file__).parent / "data" / "json-canonicalization" / "rfc8785-number-vectors.csv"

#: Floats the profile writes in every notation Python's repr has.
EDGE_FLOATS = [-0.0, 0.0, 1e21, 1e-7, 5e-324, -5e-324, 1.7976931348623157e308, 2.0, 1e16,
               1e15, 0.1, 1.5, 2.2250738585072014e-308, 9007199254740993.0, 123456789.125]


def bits(value: float) -> bytes:
    return struct.pack(">d", value)


def vectors() -> list[tuple[float, str]]:
    """(the double, its RFC 8785 text) for each vector JCS accepts."""
    with VECTORS.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 26
    found = [(struct.unpack(">d", bytes.fromhex(row["ieee754_hex"]))[0],
              row["expected_jcs_text_or_empty_if_rejected"]) for row in rows]
    return [(value, text) for value, text in found if text]


def assert_read_and_written_as_exact(data: bytes) -> accel.FloatPart:
    """``read_floats(data)`` reads what ``parse_json`` reads, and its twin is written as
    ``canonical_bytes`` writes that."""
    exact = parse_json(data)
    part = accel.read_floats(data)
    expected = canonical_bytes(exact)
    assert canonical_bytes(part.value) == expected  # same values, -0.0 and all
    if part.twin is None:
        assert part.floats == 0 and accel.encode_sorted(part.value) == expected
    else:
        assert part.floats > 0 and accel.encode_sorted(part.twin) == expected
        assert part.value != part.twin  # a float is unequal to its text
    return part


@given(st.floats(allow_nan=False, allow_infinity=False))
@example(-0.0)
@example(5e-324)
@example(1.7976931348623157e308)
@settings(deadline=None)
def test_float_text_is_what_the_exact_encoder_writes(value: float) -> None:
    assert float_text(value).encode() == canonical_bytes(value)
    part = assert_read_and_written_as_exact(canonical_bytes([value]))
    assert bits(part.value[0]) == bits(value)


@pytest.mark.parametrize("value", EDGE_FLOATS)
def test_edge_floats_read_and_written_as_exact(value: float) -> None:
    for text in (repr(value), json.dumps(value), f"{value:.17e}"):
        part = assert_read_and_written_as_exact(f"[{text}, {{\"v\": {text}}}]".encode())
        assert bits(part.value[0]) == bits(value) and part.floats == 2


@pytest.mark.parametrize(("value", "jcs_text"), vectors())
def test_rfc8785_number_vectors(value: float, jcs_text: str) -> None:
    # Both texts read to the listed double (JCS writes -0.0 as "0": equal, sign lost),
    # and are written as the profile writes it.
    for text in (jcs_text, repr(value)):
        data = f"[{text if ('.' in text or 'e' in text) else text + '.0'}]".encode()
        part = assert_read_and_written_as_exact(data)
        assert part.value[0] == value
        if text == repr(value):
            assert bits(part.value[0]) == bits(value)
            assert accel.encode_sorted(part.twin) == f"[{float_text(value)}]".encode()


@pytest.mark.parametrize("text", [
    "1.5", "-0.0", "0e0", "-0e-0", "1E+16", "1e16", "0.10", "1e-400", "-1e-400",
    "123456789012345678901234567890.123456789e-20", "4.9406564584124654e-324",
    "2.4703282292062328e-324", "2.4703282292062327e-324", "1.7976931348623158e308",
    "9007199254740993.0", "0.1e1", "100000000000000000000000.0",
    "0." + "0" * 400 + "1", "1" + "0" * 400 + ".0e-400",
])
def test_number_texts_read_as_the_strict_parser_reads_them(text: str) -> None:
    part = assert_read_and_written_as_exact(f'{{"n": {text}, "m": [{text}]}}'.encode())
    assert part.floats == 2


@pytest.mark.parametrize("text", ["01.5", "1.", ".5", "1e", "1e+", "-", "+1.5", "1.5e", "0x1p3",
                                  "NaN", "Infinity", "-Infinity", "1e400", "-1e400",
                                  "1.7976931348623159e308"])
def test_number_texts_both_paths_refuse(text: str) -> None:
    data = f"[1.5, {text}]".encode()
    with pytest.raises(LoadError):
        parse_json(data)
    with pytest.raises(accel.decode_errors()):
        accel.read_floats(data)


def test_an_overflowing_float_is_refused_by_the_fast_reading() -> None:
    with pytest.raises(accel.FloatOverflow):
        accel.finite_float("1e400")
    assert accel.finite_float("1e-400") == 0.0 and math.copysign(1, accel.finite_float("-1e-400")) < 0


def test_a_value_without_floats_has_no_twin() -> None:
    part = accel.read_floats(b'{"a": [1, "1.5", {"b": null}], "c": 123456789012345678901234567890}')
    assert part.twin is None and part.floats == 0
    assert part.value["c"] == 123456789012345678901234567890


_any_key = st.text(st.characters(exclude_categories=["Cs"]), max_size=6)
# Keys whose UTF-16 order differs from their code point order (outside the BMP, and the
# BMP characters above the surrogates that UTF-16 sorts after them).
_ordering_keys = st.sampled_from(["\U0001f600", "\uffff", "\ue000", "\ud7ff", "a", "\U00010000",
                                  "a\U0001f600", "a\uff00", ""])
_floats = st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from(EDGE_FLOATS)
_scalars = (_floats | st.none() | st.booleans() | st.integers(-(10**30), 10**30)
            | st.text(st.characters(exclude_categories=["Cs"]), max_size=5))
_values = st.recursive(
    _scalars,
    lambda children: (st.lists(children, max_size=4)
                      | st.dictionaries(_any_key | _ordering_keys, children, max_size=4)),
    max_leaves=20,
)


@given(_values, st.booleans())
@settings(deadline=None)
def test_any_value_read_and_written_as_exact(value: Any, ensure_ascii: bool) -> None:
    assert_read_and_written_as_exact(json.dumps(value, ensure_ascii=ensure_ascii).encode())


_safe_scalars = (_floats | st.none() | st.booleans()
                 | st.integers(-JCS_MAX_SAFE_INTEGER, JCS_MAX_SAFE_INTEGER)
                 | st.text(st.characters(exclude_categories=["Cs"]), max_size=5))
_bmp_keys = st.text(st.characters(exclude_categories=["Cs"], max_codepoint=0xFFFF), max_size=5)
_only_float_divergences = st.recursive(
    _safe_scalars,
    lambda children: st.lists(children, max_size=6) | st.dictionaries(_bmp_keys, children, max_size=4),
    max_leaves=40,
)


@given(_only_float_divergences, st.integers(1, 12))
@settings(deadline=None)
def test_float_divergences_are_the_first_jcs_divergences(value: Any, listed: int) -> None:
    part = accel.read_floats(json.dumps(value).encode())
    expected = list(islice(jcs_divergences(part.value, "/p"), listed))
    assert float_divergences(part.value, part.twin if part.twin is not None else part.value,
                             "/p", listed) == expected


def _wide_object(seed: int) -> dict[str, Any]:
    """3,000 members in shuffled order, names of mixed lengths and characters: floats,
    nulls and other scalars, containers without a float and containers holding some."""
    rng = random.Random(seed)
    values: list[Any] = [1.5, -0.0, 1e16, None, 7, "1.5", True, [], {}, [1, None],
                         {"a": {"b": [0, 2.5]}}, [[None], [0.5]], {"x": None}]
    names = [rng.choice(["m", "", "\u00e9", "z", "Z", "m0"]) + str(rng.randrange(10**6))
             for _ in range(3_000)]
    rng.shuffle(names)
    return {name: rng.choice(values) for name in names}


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("listed", [1, 3, 10, 50])
def test_float_divergences_of_wide_objects_are_the_first_jcs_divergences(seed: int,
                                                                         listed: int) -> None:
    value = _wide_object(seed)
    part = accel.read_floats(json.dumps([value, {"y": value}]).encode())
    expected = list(islice(jcs_divergences(part.value, "/chain"), listed))
    assert len(expected) == listed
    assert float_divergences(part.value, part.twin, "/chain", listed) == expected
    assert float_divergences(part.value[0], part.twin[0], "/p", listed) == list(
        islice(jcs_divergences(part.value[0], "/p"), listed))


def test_float_divergences_in_long_arrays_and_chunks() -> None:
    items: list[Any] = [0] * 100_000
    for at in (0, 1, 4095, 4096, 65_537, 99_999):
        items[at] = [{"x": 0.5}] if at == 65_537 else at + 0.5
    part = accel.read_floats(json.dumps({"a": items, "b": 2.5}).encode())
    assert part.floats == 7
    found = float_divergences(part.value, part.twin, "", 10)
    assert [pointer for pointer, _ in found] == [
        "/a/0", "/a/1", "/a/4095", "/a/4096", "/a/65537/0/x", "/a/99999", "/b"]
    assert found[0][1] == "floating-point number 0.5"
    # A chunk of a longer array: indices from its first item's.
    chunk = accel.read_floats(b'[{}, {"x": [1, 2.5]}, 3]')
    assert float_divergences(chunk.value, chunk.twin, "/chain", 5, first_index=1024) == [
        ("/chain/1025/x/1", "floating-point number 2.5")]
