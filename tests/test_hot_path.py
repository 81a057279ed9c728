"""Each shortcut on the hot path of a good artifact gives exactly what the plain
computation gives, on inputs that take the shortcut and on inputs that miss it
(hostile shapes included); the whole reports are compared in tests/test_fast_path.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
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


# -- the top level in one scan (keel_verify.load.loader._split_in_one_scan) -------------------

_astral = st.text(st.sampled_from(["a", "é", "😀", "\U0010ffff", '"', "\\", ":", " "]), max_size=6)
_member_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | _astral
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(_astral | st.text(max_size=3), children, max_size=3),
    max_leaves=12,
)


def _two_scans(data: bytes, max_depth: int, monkeypatch: pytest.MonkeyPatch) -> Any:
    from keel_verify.load import loader

    with monkeypatch.context() as patch:
        patch.setattr(loader, "_split_in_one_scan", lambda _data, _levels: None)
        return loader._load_fast(data, max_depth)


def _read_both_ways(document: dict[str, Any], max_depth: int,
                    monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any, bool]:
    """(one-scan reading, two-scan reading, whether the one scan took it)."""
    from keel_verify.errors import LoadError
    from keel_verify.load import loader

    data = json.dumps(document, ensure_ascii=False).encode()
    levels = min(accel.MAX_TYPED_NESTING, max_depth - 1)
    took = loader._split_in_one_scan(data, levels) is not None
    try:
        two = _two_scans(data, max_depth, monkeypatch)
    except (loader.NeedsExactPath, LoadError) as error:
        two = type(error)
    one: Any
    try:
        one = loader._load_fast(data, max_depth)
    except (loader.NeedsExactPath, LoadError) as error:
        one = type(error)
    return one, two, took


def _same_reading(one: Any, two: Any) -> None:
    from keel_verify.crypto.canonical import jcs_divergences

    if isinstance(two, type):
        assert one is two
        return
    assert one.document == two.document
    assert list(one.document) == list(two.document)  # member order too
    assert one.schema_version == two.schema_version and one.raw_colons == two.raw_colons
    if two.chain is None:
        assert one.chain is None
    else:
        assert [bytes(raw) for raw in one.chain.raw_items] == [bytes(raw) for raw in two.chain.raw_items]
    if one.document_within_jcs:
        assert list(jcs_divergences(one.document)) == []


@cache
def _base_text() -> str:
    from keel_verify.emit.demo import build_demo_artifact

    return json.dumps(build_demo_artifact(3, tsa="local"))


def _base_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(_base_text())
    return document


@given(st.dictionaries(_astral | st.text(max_size=4), _member_values, max_size=4),
       st.integers(1, 9))
def test_one_scan_reads_the_top_level_as_member_by_member_does(
    members: dict[str, Any], max_depth: int,
) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        one, two, _ = _read_both_ways({**_base_document(), **members}, max_depth, monkeypatch)
    _same_reading(one, two)


@pytest.mark.parametrize(("change", "takes_one_scan"), [
    (lambda d: None, True),
    (lambda d: d.update(extra={"a": [1, {"b": None}], "é": "x"}), True),
    (lambda d: d.update(extra=[1.5]), False),  # a float: not JCS-safe as msgspec writes it
    (lambda d: d.update(extra=2**60), False),  # an integer beyond +/-(2^53-1)
    (lambda d: d.update({"k😀": 1}), False),  # a top-level key outside the BMP
    (lambda d: d.update(extra={"k😀": 1}), False),  # a member's key outside the BMP
    (lambda d: d.update(extra=[{"k😀": 1}]), False),  # an item's key outside the BMP
    (lambda d: d.update(extra=[[[[[[[[1]]]]]]]]), False),  # deeper than the typed decoder
    (lambda d: d.update(chain={"not": "an array"}), True),  # read as a member, as before
    (lambda d: d.update(chain=[]), True),
])
def test_one_scan_hits_and_misses_read_the_same(
    change: Callable[[dict[str, Any]], None], takes_one_scan: bool, monkeypatch: pytest.MonkeyPatch,
) -> None:
    document = _base_document()
    change(document)
    one, two, took = _read_both_ways(document, 64, monkeypatch)
    assert took is takes_one_scan
    _same_reading(one, two)
