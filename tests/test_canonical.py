"""The canonical-bytes profile (docs/format.md §1): exact bytes, and where it meets and leaves JCS."""

from __future__ import annotations

import json
from typing import Any

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from keel_verify.crypto.canonical import (
    GENESIS_HASH,
    JCS_MAX_SAFE_INTEGER,
    canonical_bytes,
    canonical_hash,
    jcs_divergences,
)
from tests.helpers import public_v1, public_v3

# The JCS domain of docs/format.md §1: no floats, integers within +/-(2^53-1), BMP-only keys.
# Strings may hold any scalar value (astral characters included: only keys are restricted).
_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)
_bmp_key = st.text(st.characters(exclude_categories=["Cs"], max_codepoint=0xFFFF), max_size=8)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-JCS_MAX_SAFE_INTEGER, max_value=JCS_MAX_SAFE_INTEGER)
    | _text
)
jcs_values = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(_bmp_key, children, max_size=5),
    max_leaves=30,
)


@given(jcs_values)
def test_equals_rfc8785_on_the_jcs_domain(value: Any) -> None:
    assert canonical_bytes(value) == rfc8785.dumps(value)
    assert list(jcs_divergences(value)) == []


@given(jcs_values)
def test_round_trips_through_json(value: Any) -> None:
    assert json.loads(canonical_bytes(value)) == value


def test_escapes_exactly_the_profile_set() -> None:
    value = {"s": "\"\\\b\f\n\r\t\x00\x1f\x7f\u2028é😀/"}
    assert canonical_bytes(value) == (
        '{"s":"\\"\\\\\\b\\f\\n\\r\\t\\u0000\\u001f\x7f\u2028é😀/"}'.encode()
    )


def test_keys_sorted_by_code_point_no_whitespace() -> None:
    assert canonical_bytes({"b": 1, "a": [1, {"z": None, "é": True}], "B": False}) == (
        b'{"B":false,"a":[1,{"z":null,"\xc3\xa9":true}],"b":1}'
    )


def test_large_integers_written_exactly_where_jcs_refuses() -> None:
    big = 2**64 + 1
    assert canonical_bytes([big]) == f"[{big}]".encode()
    with pytest.raises(Exception):  # noqa: B017 - any refusal will do: JCS has no such number
        rfc8785.dumps([big])
    assert list(jcs_divergences({"n": big})) == [("/n", f"integer {big} beyond +/-(2^53-1)")]


def test_astral_keys_sort_differently_from_jcs() -> None:
    # U+FF61 sorts after U+1F600 in UTF-16 units (0xFF61 > 0xD83D) but before it by code point.
    value = {"\U0001f600": 1, "\uff61": 2}
    assert canonical_bytes(value) == '{"｡":2,"😀":1}'.encode()
    assert rfc8785.dumps(value) == '{"😀":1,"｡":2}'.encode()
    assert [p for p, _ in jcs_divergences(value)] == ["/\U0001f600"]


def test_floats_are_reported() -> None:
    assert canonical_bytes({"x": 1.0}) == b'{"x":1.0}'
    assert rfc8785.dumps({"x": 1.0}) == b'{"x":1}'
    assert [p for p, _ in jcs_divergences({"x": [1.5]})] == ["/x/0"]


def test_pointer_tokens_are_escaped() -> None:
    assert [p for p, _ in jcs_divergences({"a/b~": 0.5})] == ["/a~1b~0"]


def test_genesis_hash_is_the_spec_constant() -> None:
    assert GENESIS_HASH == (
        "sha256:83bd9d2d5b4a86a78ad5832ebeded1a546e56f2be8758dff0b54d64414a00418"
    )


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (public_v3(), "sha256:85aaa50c1b61131fa097bb1ca6739ce0f4cafc85a606dd2a784793c90d954c5d"),
        (public_v1(), "sha256:cb1a39bd2aedc5603216283f069cc7b01276c6d58d702ce5d7c883a32e3b9dff"),
    ],
)
def test_public_samples_signed_content_hash(document: dict[str, Any], expected: str) -> None:
    unsigned = {k: v for k, v in document.items() if k != "signatures"}
    assert canonical_hash(unsigned) == expected == document["signatures"][0]["content_hash"]
