"""Chain entries that are large values cost what their bytes cost, not that again per
error about them: a schema reason shows at most about 80 characters of a value (written
no further than that), a "type" reason is worded without the value's Python repr, and a
dense chain of large entries is cut at their ends, found in C, instead of in windows
doubled until the cut falls between entries."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keel_verify import TrustPolicy, verify_bytes
from keel_verify.checks.schema import _message
from keel_verify.load import accel, dense
from keel_verify.load.dense import DenseChain
from keel_verify.load.loader import MAX_DEPTH
from keel_verify.report.json_report import report_to_dict
from keel_verify.results import shown
from tests import hostile_inputs as hostile
from tests.helpers import decoded_window_sizes

TRUST = TrustPolicy()

_scalars = st.none() | st.booleans() | st.integers(-9, 9) | st.text(max_size=3)
_json = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=2), inner, max_size=4),
                     max_leaves=12)
_containers = st.lists(_json, max_size=4) | st.dictionaries(st.text(max_size=2), _json,
                                                            max_size=4)


@settings(max_examples=200, deadline=None)
@given(_containers)
def test_shown_is_the_json_text_cut_at_its_limit(value: Any) -> None:
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    assert shown(value) == (text if len(text) <= 80 else text[:77] + "...")


def test_shown_writes_a_huge_value_no_further_than_it_shows(
        monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[str] = []
    iterencode = json.JSONEncoder.iterencode

    def counting(self: json.JSONEncoder, value: Any, _one_shot: bool = False) -> Any:
        for piece in iterencode(self, value, _one_shot):
            written.append(piece)
            yield piece

    monkeypatch.setattr(json.JSONEncoder, "iterencode", counting)
    assert shown([0] * 1_000_000) == "[" + "0," * 38 + "..."
    assert sum(map(len, written)) < 200


@settings(max_examples=200, deadline=None)
@given(_json, st.sampled_from(["object", "array", ["object", "null"], "string"]))
def test_a_type_reason_reads_as_jsonschema_words_it_in_json_terms(
        instance: Any, kind: str | list[str]) -> None:
    """The reason is jsonschema's message with the value shown in JSON terms, whether
    worded here (arrays and objects) or rewritten (the rest)."""
    for error in jsonschema.Draft202012Validator({"type": kind}).iter_errors(instance):
        message = str(error.message)
        written = repr(instance)
        expected = (shown(instance) + message[len(written):]
                    if instance is None or isinstance(instance, (bool, list, dict))
                    else message)
        assert _message(error) == expected[:300]


LARGE = {
    "arrays of 5,000 zeros": b"[" + b",".join([b"0"] * 5_000) + b"]",
    "objects holding 5,000 zeros": b'{"a":[' + b",".join([b"0"] * 5_000) + b"]}",
    "arrays of strings holding commas": b"[" + b",".join([b'",[\\"{"'] * 2_000) + b"]",
}
#: Beyond the first reach of the search for an entry's end (64 KiB).
LARGER = {**LARGE, "arrays of 40,000 zeros": b"[" + b",".join([b"0"] * 40_000) + b"]",
          "arrays of 20,000 empty arrays": b"[" + b",".join([b"[]"] * 20_000) + b"]"}


@pytest.mark.parametrize("name", LARGER)
def test_a_chain_of_large_entries_is_cut_at_their_ends(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows of 1,000 bytes over entries of 10 KB or more: each window ends at an
    entry's end (no doubling past it), so the bytes decoded stay within three times the
    chain's."""
    entry = LARGER[name]
    span = b"[" + b",".join([entry] * 40) + b"]"
    tried = decoded_window_sizes(monkeypatch)
    assert [e for c in DenseChain(span, window_bytes=1000).chunks(7, MAX_DEPTH)
            for e in c.entries] == json.loads(span)
    assert max(tried) < 2 * len(entry) + 1000
    assert sum(tried) < 3 * len(span)


def test_one_huge_entry_is_read_in_one_window_not_doubled_into(
        monkeypatch: pytest.MonkeyPatch) -> None:
    span = b"[0,[" + b",".join([b"0"] * 200_000) + b"]]"
    tried = decoded_window_sizes(monkeypatch)
    assert len(list(DenseChain(span, window_bytes=1000)._windows(MAX_DEPTH))) == 1
    assert len(tried) <= 2


@pytest.mark.skipif(not accel.fast_json_available(), reason="the exact path only")
@pytest.mark.parametrize("name", LARGE)
def test_chains_of_large_entries_report_as_the_exact_path(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    data = hostile.tiny_chain_entries(60, LARGE[name])
    monkeypatch.setattr(dense, "MIN_DENSE_BYTES", 0)
    monkeypatch.setattr(dense, "WINDOW_BYTES", 3000)
    tried = decoded_window_sizes(monkeypatch)
    assert report_to_dict(verify_bytes(data, TRUST)) == \
        report_to_dict(verify_bytes(data, TRUST, exact=True))
    assert tried, "the dense reader read the chain"


@pytest.mark.parametrize("value", [list(range(300)), {"a": [[0] * 100] * 3},
                                   {f"k{i}": [i, {"x": None}] for i in range(200)}])
def test_a_value_over_the_budget_is_shown_as_a_small_one_is(value: Any) -> None:
    """Written piece by piece (more than 256 items in all) or at once, the same text."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    assert shown(value) == text[:77] + "..."
    assert shown(value, limit=10_000) == text


@pytest.mark.parametrize("version", [1, 3])
@pytest.mark.parametrize("entry", [None, True, False, 0, -7, 10**30, 1.5, 1e300, "", "x",
                                   "it's", 'say "hi"', "\u00e9\n", "y" * 400, [], [0] * 200,
                                   [[[]]], ["a", {"b": None}]])
def test_an_entry_that_is_not_an_object_reads_as_jsonschema_says_it(
        version: int, entry: Any) -> None:
    """Worded here without jsonschema (and so without a repr of a huge array), the one
    error of an entry that is not an object is jsonschema's, as _message words it."""
    from keel_verify.checks import schema

    assert schema._only_type_judges_non_objects(version)
    errors = list(schema._python_validator(version, 1).iter_errors(entry))
    assert [schema._message(error) for error in errors] == [schema._not_an_object(entry)]
    assert [list(error.absolute_path) for error in errors] == [[]]
