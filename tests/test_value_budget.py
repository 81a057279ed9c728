"""Memory is bounded by values, not bytes (keel_verify/load/budget.py, docs/format.md §11).

Decoded JSON costs up to about 300 bytes per value against 2 or 3 bytes of input, so the
loader counts, on the bytes and before decoding, an upper bound of the values in every
part it decodes whole: the input outside the chain's array (its top-level members), and
the whole document on the exact reading path. A part over ``budget.MAX_VALUES`` is
refused in one line (exit 2) before it is decoded. The sizes here are small: the limit is
lowered by monkeypatching; ``benchmarks/hostile.py`` runs the full sizes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keel_verify import TrustPolicy, Verdict, verify_bytes
from keel_verify.load import accel, budget, loader
from keel_verify.report.json_report import report_to_dict
from tests import hostile_inputs
from tests.helpers import (
    PUBLIC_V3,
    TEST_ISSUER_PUBLIC,
    count_strict_parses,
    public_v3,
    record_decoders,
    values_in,
)
from tests.test_robustness import run_cli_in_process

TRUST = TrustPolicy.pinned(TEST_ISSUER_PUBLIC)
OUTSIDE = "the input outside the chain may hold more than"
EXACT = "; only the exact reading path can judge it"


def outside_chain(data: bytes) -> int:
    """The bound the loader takes for the input outside the chain's array: the whole
    input's, less the chain's marks (found by the standard library, as text)."""
    text = data.decode()
    start = text.index('"chain"') + len('"chain"')
    start = text.index("[", start)
    _, end = json.JSONDecoder().raw_decode(text, start)
    return budget.value_bound(data) - budget.marks_in(text[start:end].encode())


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet=",[]{}:\"ab\\ "),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner,
                                                                 max_size=4),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(JSON_VALUES, st.sampled_from([(",", ":"), (", ", ": ")]))
def test_the_bound_is_never_below_the_values(value: Any, separators: tuple[str, str]) -> None:
    text = json.dumps(value, separators=separators).encode()
    assert values_in(value) <= budget.value_bound(text) <= 1 + len(text)


def test_the_bound_is_exact_without_strings_or_empty_containers() -> None:
    assert budget.value_bound(b"[[0,1],{\"a\":[2]},3]") == values_in([[0, 1], {"a": [2]}, 3]) == 8
    assert budget.value_bound(b"0") == 1
    assert budget.value_bound(b"[0,1,2]", 1, 4) == 2  # "0,1": a part of the bytes


@pytest.mark.parametrize("piece", [1, 3, 7, 1 << 20])
def test_a_raw_slice_is_counted_in_pieces_as_bytes_are(
        monkeypatch: pytest.MonkeyPatch, piece: int) -> None:
    monkeypatch.setattr(budget, "_PIECE_BYTES", piece)
    text = b'[{"a":[1,2]},[],"x,[{"]' * 5
    assert budget.marks_in(memoryview(text)) == budget.marks_in(text) == text.count(b",") + \
        text.count(b"[") + text.count(b"{")
    assert budget.marks_in(memoryview(b"")) == 0


# The shapes that cost the most per byte outside the chain (benchmarks/hostile.py has
# them at full size): member names, small arrays, zeros, a float among zeros.
OVER_LIMIT_SHAPES = {
    "top-level members": lambda: hostile_inputs.many_members(3000),
    "session_metadata names": lambda: hostile_inputs.wide_metadata(3000),
    "session_metadata small arrays": lambda: hostile_inputs.metadata_of_small_arrays(1000),
    "a member of zeros": lambda: hostile_inputs.zeros_member(3000),
    "a member of zeros and a float": lambda: hostile_inputs.float_in_zeros_member(3000),
    "junk signatures[] entries": lambda: hostile_inputs.junk_signatures(600),
}


@pytest.mark.parametrize("make", OVER_LIMIT_SHAPES.values(), ids=OVER_LIMIT_SHAPES.keys())
def test_too_many_values_outside_the_chain_are_refused_before_decoding(
        monkeypatch: pytest.MonkeyPatch, make: Any) -> None:
    data = make()
    limit = outside_chain(PUBLIC_V3.read_bytes()) + 1000
    assert outside_chain(data) > limit
    monkeypatch.setattr(budget, "MAX_VALUES", limit)

    def never(*_: Any) -> None:
        raise AssertionError("a member was decoded")

    monkeypatch.setattr(loader._MemberDecoder, "batches", never)
    monkeypatch.setattr(accel, "whole_document_decoder", never)
    parsed = count_strict_parses(monkeypatch)
    report = verify_bytes(data, TRUST)
    assert report.verdict is Verdict.ERROR
    assert report.error == budget.too_many_values("the input outside the chain", limit)
    assert OUTSIDE in report.error and f"{limit:,}" in report.error
    assert parsed == []  # nor handed to the exact path


def test_a_top_level_array_is_refused_before_it_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed = count_strict_parses(monkeypatch)
    report = verify_bytes(hostile_inputs.top_level_zeros(100_000), TRUST)
    assert report.error == "top level is an array, not an object" and parsed == []


def test_at_the_limit_the_input_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    data = hostile_inputs.many_members(3000)
    expected = report_to_dict(verify_bytes(data, TRUST))
    monkeypatch.setattr(budget, "MAX_VALUES", outside_chain(data))
    assert report_to_dict(verify_bytes(data, TRUST)) == expected
    monkeypatch.setattr(budget, "MAX_VALUES", outside_chain(data) - 1)
    assert verify_bytes(data, TRUST).verdict is Verdict.ERROR


def test_a_long_chain_is_not_counted_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    # The chain is read a part at a time: its entries do not count against the members.
    data = hostile_inputs.tiny_chain_entries(20_000, b"0")
    assert budget.value_bound(data) > 20_000 > outside_chain(data)
    expected = report_to_dict(verify_bytes(data, TRUST))
    monkeypatch.setattr(budget, "MAX_VALUES", outside_chain(data))
    assert report_to_dict(verify_bytes(data, TRUST)) == expected


def test_a_chain_that_is_not_an_array_counts_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    # Not an array: it is decoded whole with the other members, so it is counted with them.
    document = public_v3()
    document["chain"] = {"entries": [0] * 3000}
    data = json.dumps(document, separators=(",", ":")).encode()
    monkeypatch.setattr(budget, "MAX_VALUES", 2000)
    assert verify_bytes(data, TRUST).error == budget.too_many_values(
        "the input outside the chain", 2000)
    document["chain"] = [0] * 3000
    data = json.dumps(document, separators=(",", ":")).encode()
    assert verify_bytes(data, TRUST).verdict is not Verdict.ERROR


@pytest.mark.parametrize("limit", [2000, 10_000])
def test_large_inputs_build_no_member_before_the_count(monkeypatch: pytest.MonkeyPatch,
                                                        limit: int) -> None:
    # Above MEMBERS_FIRST_BYTES the members are decoded as raw slices first, but only when
    # the colons bound them below the limit (5x10^6 members as raw slices took 770 MiB
    # before they were refused); else the chain alone is found first.
    data = hostile_inputs.many_members(3000)
    colons = data.count(b":")
    assert 2000 < colons < 10_000
    monkeypatch.setattr(budget, "MAX_VALUES", limit)
    monkeypatch.setattr(loader, "MEMBERS_FIRST_BYTES", 0)
    decoders = record_decoders(monkeypatch)
    report = verify_bytes(data, TRUST)
    if limit < colons:
        assert report.error == budget.too_many_values("the input outside the chain", limit)
        assert decoders == ["chain_member"]
    else:
        assert report.verdict is not Verdict.ERROR and decoders[0] == "members"


#: Each way onto the exact path: what it does to the input, and whether it asks for that
#: path (``KEEL_VERIFY_PURE``).
EXACT_WAYS: dict[str, tuple[Any, bool]] = {
    "escaped colon": (hostile_inputs.with_escaped_colon, False),
    "duplicate key": (lambda data: data.replace(b"{", b'{"dup":1,"dup":2,', 1), False),
    "trailing garbage": (lambda data: data + b",", False),
    "KEEL_VERIFY_PURE": (lambda data: data, True),
}


@pytest.mark.parametrize(("way", "pure"), EXACT_WAYS.values(), ids=EXACT_WAYS.keys())
def test_the_exact_path_counts_the_whole_document_first(
        monkeypatch: pytest.MonkeyPatch, way: Any, pure: bool) -> None:
    # A chain of many tiny entries costs the exact path ~100 bytes per value (measured: 10^7
    # empty arrays, 29 MB, took 1.5 GB before this limit): it is counted whole.
    if pure:
        monkeypatch.setenv("KEEL_VERIFY_PURE", "1")
    base = hostile_inputs.tiny_chain_entries(5000, b"[]")
    data = way(base)
    parsed = count_strict_parses(monkeypatch)
    before = verify_bytes(data, TRUST)
    assert len(data) in parsed  # it does take the exact path
    assert budget.value_bound(data) > 5000 > outside_chain(base)
    monkeypatch.setattr(budget, "MAX_VALUES", 5000)
    parsed.clear()
    report = verify_bytes(data, TRUST)
    assert report.verdict is Verdict.ERROR
    assert report.error == (f"{budget.too_many_values('the input', 5000)}{EXACT} "
                            f"({loader._EXACT_PATH_WAYS}), and that path holds the whole document")
    assert len(data) not in parsed  # refused before it was parsed
    monkeypatch.setattr(budget, "MAX_VALUES", budget.value_bound(data))
    assert report_to_dict(verify_bytes(data, TRUST)) == report_to_dict(before)


def test_the_cli_refuses_in_one_line_with_exit_2(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    path = tmp_path / "members.json"
    path.write_bytes(hostile_inputs.many_members(3000))
    monkeypatch.setattr(budget, "MAX_VALUES", 2000)
    code, out, err = run_cli_in_process(["--json", "--public-key", TEST_ISSUER_PUBLIC,
                                         str(path)], "utf-8")
    assert code == 2
    report = json.loads(out)
    assert report["files"][0]["verdict"] == "ERROR" and OUTSIDE in report["files"][0]["error"]
    code, out, err = run_cli_in_process([str(path)], "utf-8")
    assert code == 2 and len(err.decode().splitlines()) == 1, err
    assert OUTSIDE in err.decode()
