"""Chain entries nested deeper than the typed decoders reach are proven canonical on their
bytes when they can be (:func:`keel_verify.load.nesting.written_canonically`): then their
input bytes are their piece of the signed message, never encoded again. The proof never
accepts bytes that differ from what the canonical encoder writes, and the report and
content hash stay those of the exact path."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keel_verify import TrustPolicy, verify_bytes
from keel_verify.crypto.canonical import canonical_bytes
from keel_verify.load import accel, chainpass, loader, nesting
from keel_verify.load.chainpass import read_strictly
from keel_verify.load.loader import MAX_DEPTH
from keel_verify.report.json_report import report_to_dict
from tests import hostile_inputs as hostile
from tests.helpers import public_v3

pytestmark = pytest.mark.skipif(
    not accel.fast_json_available(), reason="msgspec not installed: only the exact path exists"
)

TRUST = TrustPolicy.self_attested_only()
DEEP = 8  # deeper than the typed decoders reach (accel.MAX_TYPED_NESTING)

_text = st.text(st.sampled_from(['a', '"', '\\', '/', '\x00', '\x1f', '\x7f', 'é', '\u2028',
                                 '😀', '[', '{', ' ']), max_size=5)
_leaves = (st.none() | st.booleans() | st.integers(-(2**60), 2**60) | _text
           | st.floats(allow_nan=False, allow_infinity=False))
_values = st.recursive(_leaves, lambda children: st.lists(children, max_size=3)
                       | st.dictionaries(_text, children, max_size=3), max_leaves=8)


def _deep(value: Any) -> Any:
    for _ in range(DEEP):
        value = [value]
    return value


def _written(value: Any, style: int) -> bytes:
    """``value`` as JSON text in one of several writings (compact, spaced, escaped, ...)."""
    if style == 0:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    if style == 1:
        return json.dumps(value, ensure_ascii=False).encode()  # ", " and ": "
    if style == 2:
        return json.dumps(value, separators=(",", ":")).encode()  # \\u escapes
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    return text.replace(b"[0", b"[-0", 1) if style == 3 else text.replace(b"[", b"[ ", 1)


@settings(max_examples=300)
@given(st.lists(_values, min_size=1, max_size=4), st.integers(0, 4))
def test_the_proof_holds_only_for_canonical_bytes(values: list[Any], style: int) -> None:
    raw = [_written(_deep(value), style) for value in values]
    try:
        chunk = loader.decode_raw_chunk(0, raw, MAX_DEPTH)
    except loader.NeedsExactPath:  # e.g. an integer beyond 64 bits: the exact path reads it
        return
    if chunk.canonical is not None:  # one entry's bytes for a chunk of one entry repeated
        written = chunk.entries[:1] if chunk.same else chunk.entries
        assert chunk.canonical == b",".join(canonical_bytes(entry) for entry in written)
        assert chunk.canonical == b",".join(raw[:1] if chunk.same else raw) and chunk.within_jcs


@pytest.mark.parametrize("entry, proven", [
    (b"[[[[[[[[1]]]]]]]]", True),
    (b'[[[[[[[["caf\xc3\xa9 \xf0\x9f\x98\x80 \x7f /"]]]]]]]]', True),
    (b"[[[[[[[[true,false,null,-12,9007199254740991]]]]]]]]", True),
    (b"[[[[[[[[-0]]]]]]]]", False),  # written 0
    (b"[[[[[[[[1.0]]]]]]]]", False),  # a float
    (b"[[[[[[[[1e2]]]]]]]]", False),
    (b"[[[[[[[[9007199254740992]]]]]]]]", False),  # beyond the JCS domain
    (b"[[[[[[[ [1]]]]]]]]", False),  # whitespace
    (b'[[[[[[[["\\u0041"]]]]]]]]', False),  # an escape RFC 8785 does not write
    (b'[[[[[[[["\\n"]]]]]]]]', False),  # one it writes, still not proven
    (b'[[[[[[[[{"b":1,"a":2}]]]]]]]]', False),  # an object: member order unproven
    (b'[[[[[[[[{"a":1}]]]]]]]]', False),
])
def test_which_deep_entries_are_proven(entry: bytes, proven: bool) -> None:
    chunk = loader.decode_raw_chunk(0, [entry, b"[" + entry + b"]"], MAX_DEPTH)
    assert (chunk.canonical is not None) is proven
    assert nesting.written_canonically(entry, nesting.outside_strings(entry)) is (
        proven or entry in (b"[[[[[[[[9007199254740992]]]]]]]]",))  # integers proven apart
    data = hostile.chain_of([json.loads(entry)] * 3)
    assert report_to_dict(verify_bytes(data, TRUST)) == report_to_dict(
        verify_bytes(data, TRUST, exact=True))
    assert read_strictly(data)[1].content_hash == read_strictly(data, exact=True)[1].content_hash


def test_distinct_deep_entries_are_not_encoded_again(monkeypatch: pytest.MonkeyPatch) -> None:
    data = hostile.deep_entries(3 * chainpass.CHUNK_ENTRIES + 5, 100, distinct=True)
    expected_hash = read_strictly(data, exact=True)[1].content_hash
    expected = report_to_dict(verify_bytes(data, TRUST, exact=True))

    def no_encoding(*_args: Any) -> Any:
        raise AssertionError("encoded again")

    monkeypatch.setattr(chainpass, "_hash_any_entries", no_encoding)
    assert read_strictly(data)[1].content_hash == expected_hash
    assert report_to_dict(verify_bytes(data, TRUST)) == expected


def test_deep_entries_alike_are_written_from_one() -> None:
    entry = b"[" * 100 + b"7" + b"]" * 100
    chunk = loader.decode_raw_chunk(0, [entry] * 5, MAX_DEPTH)
    assert chunk.same and chunk.canonical == entry
    document = public_v3()
    document["chain"] = [json.loads(entry)] * (2 * chainpass.CHUNK_ENTRIES + 1)
    data = hostile.encode(document)
    assert read_strictly(data)[1].content_hash == read_strictly(data, exact=True)[1].content_hash
