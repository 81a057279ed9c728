"""Each shortcut on the hot path of a good artifact gives exactly what the plain
computation gives, on inputs that take the shortcut and on inputs that miss it
(hostile shapes included); the whole reports are compared in tests/test_fast_path.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel_verify.crypto.canonical import canonical_bytes
from keel_verify.load import accel, access
from keel_verify.load.chainpass import _content_hash_members

HASH = "sha256:" + "0123456789abcdef" * 4
ENCODERS: list[Callable[[Any], bytes]] = [canonical_bytes]
if accel.fast_json_available():
    ENCODERS.append(accel.encode_sorted)

# Characters that matter to a cut JSON text: its delimiters, escapes, and non-ASCII.
_awkward = st.sampled_from(['"', ",", "\\", "\n", '","', '",', ',"', "\x00", "é", "😀", "\u2028"])
_strings = st.lists(st.text(max_size=4) | _awkward, max_size=4).map("".join)


def _counting(encode: Callable[[Any], bytes]) -> tuple[Callable[[Any], bytes], list[Any]]:
    calls: list[Any] = []

    def counted(value: Any) -> bytes:
        calls.append(value)
        return encode(value)

    return counted, calls


def _one_by_one(values: list[str], encode: Callable[[Any], bytes]) -> list[bytes]:
    return [b',"content_hash":' + encode(value) for value in values]


@pytest.mark.parametrize("encode", ENCODERS)
@given(st.lists(_strings | st.just(HASH), min_size=1, max_size=6))
def test_content_hash_members_are_each_values_own_text(
    encode: Callable[[Any], bytes], values: list[str]
) -> None:
    assert _content_hash_members(values, encode) == _one_by_one(values, encode)


@pytest.mark.parametrize("encode", ENCODERS)
@pytest.mark.parametrize("values", [
    [","], [",", ","], [",", ",", ","], ['",'], ['",', "b"], ["a", '","', "b"], ['a"b'],
    ["\\"], ["a\\", "b"], ["\n"], ['"', '"'], ["\x1f"],
])
def test_content_hash_members_of_awkward_values_are_encoded_one_by_one(
    encode: Callable[[Any], bytes], values: list[str]
) -> None:
    counted, calls = _counting(encode)
    assert _content_hash_members(values, counted) == _one_by_one(values, encode)
    assert len(calls) == 1 + len(values)  # missed the shortcut: each value encoded


@pytest.mark.parametrize("encode", ENCODERS)
def test_content_hash_members_of_plain_hashes_come_from_one_encoding(
    encode: Callable[[Any], bytes],
) -> None:
    for values in ([HASH, "sha256:" + "f" * 64, HASH, "plain text without commas", "é😀"],
                   [""], ["", ""], [HASH]):
        counted, calls = _counting(encode)
        assert _content_hash_members(values, counted) == _one_by_one(values, encode)
        assert calls == [values]  # the shortcut: the list encoded once, nothing else


class _Text(str):
    """A str subclass: never proven by the shortcut, judged value by value."""


_near_hashes = st.builds(
    lambda at, char: HASH[:at] + char + HASH[at + 1:],
    st.integers(0, len(HASH) - 1),
    st.sampled_from(["A", "g", "é", "😀", ":", "\n", "0", "s", "", "\ud800"]),
)
_maybe_hashes = (st.just(HASH) | _near_hashes | st.text(max_size=72) | st.none()
                 | st.integers() | st.just(_Text(HASH)) | st.just(HASH + "\n"))


@given(st.lists(_maybe_hashes, max_size=6))
def test_all_tagged_hashes_is_every_value_judged_alone(values: list[Any]) -> None:
    assert access.all_tagged_hashes(values) == all(map(access.is_tagged_hash, values))


def test_all_tagged_hashes_proves_well_formed_hashes_without_a_match_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    values = [HASH, "sha256:" + "a" * 64, "sha256:" + "9" * 64] * 100

    def no_match(value: Any) -> bool:
        raise AssertionError("judged one by one")

    monkeypatch.setattr(access, "is_tagged_hash", no_match)
    assert access.all_tagged_hashes(values) is True
    assert access.all_tagged_hashes([]) is True


@pytest.mark.parametrize("bad", [
    "sha256:" + "A" * 64, "sha256:" + "g" * 64, "SHA256:" + "a" * 64, "sha256;" + "a" * 64,
    "sha256:" + "a" * 63 + "é", "sha256:" + "a" * 63, "sha256:" + "a" * 65, "xsha256:" + "a" * 63,
    "sh:" + "a" * 68, "sha256:" + "a" * 63 + "\n", _Text("sha256:" + "a" * 64) + "!",
    "sha256:" + "a" * 63 + "\ud800",  # a lone surrogate: no reader yields one, yet no crash
])
def test_all_tagged_hashes_refuses_one_bad_value_among_good_ones(bad: str) -> None:
    assert access.all_tagged_hashes([HASH, bad, HASH]) is False


# -- chain entries that are not all objects (keel_verify.load.loader.decode_raw_chunk) -----


@pytest.mark.parametrize(("items", "within_jcs"), [
    ([b"0", b'"a"', b"[1,[2]]", b'{"a":{"b":[null]}}', b"null", b"true"], True),
    ([b"0", b"9007199254740992"], False),  # 2^53: outside the JCS domain
    ([b"0", b'{"\xf0\x9f\x98\x80":1}'], False),  # a key outside the BMP
])
def test_non_object_entries_are_proven_by_the_typed_decoder(items: list[bytes], within_jcs: bool) -> None:
    from keel_verify.load import loader

    chunk = loader.decode_raw_chunk(0, items, loader.MAX_DEPTH)
    assert chunk.within_jcs is within_jcs
    assert chunk.entries == [json.loads(item) for item in items]
    assert not chunk.objects and chunk.twin is None  # no float: no twin


def test_non_object_entries_too_deep_for_the_typed_decoder_are_still_judged() -> None:
    from keel_verify.errors import LoadError
    from keel_verify.load import loader

    deep = b"[" * (loader.MAX_DEPTH - 2) + b"]" * (loader.MAX_DEPTH - 2)  # entry at depth 3
    assert loader.decode_raw_chunk(0, [b"0", deep], loader.MAX_DEPTH).entries[0] == 0
    with pytest.raises(LoadError, match="nesting deeper"):
        loader.decode_raw_chunk(0, [b"0", b"[" + deep + b"]"], loader.MAX_DEPTH)


@pytest.mark.parametrize("entries", [[0] * 1200, [0, "x", [1], None, {"a": 1}] * 300])
def test_a_chain_of_non_objects_reads_as_the_exact_path_reads_it(entries: list[Any]) -> None:
    from keel_verify import TrustPolicy, verify_bytes
    from keel_verify.report.json_report import report_to_dict

    sample = Path(__file__).resolve().parent.parent / "sample" / "voice_session_v3.json"
    document = json.loads(sample.read_bytes())
    document["chain"] = entries
    data = json.dumps(document).encode()
    policy = TrustPolicy.self_attested_only()
    fast, exact = verify_bytes(data, policy), verify_bytes(data, policy, exact=True)
    assert report_to_dict(fast) == report_to_dict(exact)
    assert fast.check("canonical_portability").outcome.value == "pass"
