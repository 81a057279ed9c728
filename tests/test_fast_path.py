"""The msgspec fast path and the strict stdlib path must be indistinguishable: the same
canonical bytes, the same reports, the same rejections with the same words. Only the
time they take may differ (see benchmarks/)."""

from __future__ import annotations

import copy
import json
import os
import pickle
from functools import cache
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from keel_verify import TrustPolicy, verify_bytes
from keel_verify.checks.schema import _python_validator, _schemas
from keel_verify.crypto.canonical import JCS_MAX_SAFE_INTEGER, canonical_bytes
from keel_verify.emit.demo import build_demo_artifact
from keel_verify.emit.keys import demo_issuer_key
from keel_verify.emit.signing import sign_document
from keel_verify.load import accel
from keel_verify.report.json_report import report_to_dict
from tests.helpers import PUBLIC_V1, PUBLIC_V3, record_worker_results

pytestmark = pytest.mark.skipif(
    not accel.fast_json_available(), reason="msgspec not installed: only the exact path exists"
)

ISSUER = demo_issuer_key()
TRUST = TrustPolicy.self_attested_only()

_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**40), max_value=10**40) | _text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_text, children, max_size=4),
    max_leaves=25,
)


@cache
def _demo(version: int) -> str:
    return json.dumps(build_demo_artifact(version, tsa="local"), ensure_ascii=False)


def demo(version: int) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(_demo(version))
    return document


def both(data: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    fast = report_to_dict(verify_bytes(data, TRUST))
    exact = report_to_dict(verify_bytes(data, TRUST, exact=True))
    return fast, exact


@given(json_values)
def test_msgspec_sorted_encoding_is_the_canonical_profile(value: Any) -> None:
    assert accel.encode_sorted(value) == canonical_bytes(value)


@pytest.mark.parametrize("path", [PUBLIC_V3, PUBLIC_V1], ids=["public-v3", "public-v1"])
def test_public_samples_report_identically(path: Any) -> None:
    fast, exact = both(path.read_bytes())
    assert fast == exact


@given(st.sampled_from([1, 3]), st.data())
def test_any_inserted_value_reports_identically(version: int, data: st.DataObject) -> None:
    document = demo(version)
    # Put an arbitrary JSON value into a chain entry or at the top level, re-signed, so
    # that every check has something to say and the signature still holds.
    where = data.draw(st.sampled_from(["entry", "top"]))
    key = data.draw(st.text(min_size=1, max_size=8))
    value = data.draw(json_values)
    if where == "entry":
        index = data.draw(st.integers(0, len(document["chain"]) - 1))
        document["chain"][index][key] = value
    else:
        document[key] = value
    document = sign_document(document, ISSUER, signed_at=document["issued_at"])
    fast, exact = both(json.dumps(document, ensure_ascii=False).encode())
    assert fast == exact


@given(st.sampled_from([1, 3]), st.data())
def test_a_duplicate_key_anywhere_is_rejected_identically(version: int, data: st.DataObject) -> None:
    text = _demo(version)
    # Every '"key": ' occurrence in the serialised demo is a member; duplicate one of them.
    positions = [i for i in range(len(text)) if text.startswith('": ', i)]
    at = data.draw(st.sampled_from(positions))
    start = text.rfind('"', 0, at)
    key = text[start : at + 1]
    duplicated = text[:start] + f'{key}: null, ' + text[start:]
    fast, exact = both(duplicated.encode())
    assert exact["verdict"] == "ERROR" and exact["error"].startswith("duplicate object key")
    assert fast == exact


@pytest.mark.parametrize(
    ("mutate", "expected_verdict"),
    [
        (lambda d: d["chain"][0].update(latency=1.5), "FAILED"),  # a float: exact path
        (lambda d: d["chain"][0].update(big=2**60), "FAILED"),  # JCS-unsafe integer
        (lambda d: d["chain"][0].update(note="a\u003ab"), "FAILED"),  # a colon in text
        (lambda d: d["chain"][0].update(n=[[[]]]), "FAILED"),  # nested
        (lambda d: d["chain"][0].update(emoji="\U0001f600"), "FAILED"),
    ],
    ids=["float", "big-int", "colon", "nested", "astral"],
)
def test_edge_values_in_entries_report_identically(mutate: Any, expected_verdict: str) -> None:
    document = demo(3)
    mutate(document)
    fast, exact = both(json.dumps(document).encode())  # not re-signed: chain_integrity fails
    assert fast == exact
    assert fast["verdict"] == expected_verdict


def test_escaped_colon_and_deep_entries_behave_the_same() -> None:
    text = _demo(3).replace('"chain": [{', '"chain": [{"x": "\\u003a", ', 1)
    fast, exact = both(text.encode())
    assert fast == exact
    deep = _demo(3).replace('"chain": [{', '"chain": [{"x": ' + "[" * 130 + "]" * 130 + ", ", 1)
    fast, exact = both(deep.encode())
    assert fast == exact
    assert fast["error"] == "nesting deeper than the limit of 128 levels"


@pytest.mark.skipif(not accel.fast_schema_available(), reason="jsonschema-rs not installed")
@given(st.sampled_from([1, 3]), st.data())
def test_jsonschema_rs_agrees_with_jsonschema_on_entries(version: int, data: st.DataObject) -> None:
    entry = demo(version)["chain"][data.draw(st.integers(0, 5))]
    key = data.draw(st.sampled_from(sorted(entry)))
    entry[key] = data.draw(json_values | st.sampled_from(
        ["sha256:" + "0" * 64, "2026-05-21T14:32:00Z", "project:x", "hash_only", 0, -1, True]))
    fast = accel.schema_validator(_schemas(version)[2]).is_valid([entry])
    assert fast == _python_validator(version, 1).is_valid(entry)


def test_integers_beyond_jcs_still_verify_exactly() -> None:
    document = demo(3)
    document["chain"][0]["n"] = JCS_MAX_SAFE_INTEGER + 1
    document = sign_document(document, ISSUER, signed_at=document["issued_at"])
    fast, exact = both(json.dumps(document).encode())
    assert fast == exact
    checks = {c["name"]: c["outcome"] for c in fast["checks"]}
    assert checks["canonical_portability"] == "warn"
    assert checks["issuer_signature"] == "pass"


_tricky = st.sampled_from(['"content_hash":"x"', ',"content_hash":', '\\"content_hash\\":', "}", ","])
flat_values = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | _text | _tricky
flat_entries = st.dictionaries(
    st.sampled_from(["a", "c", "content", "content_hash", "content_hashx", "d", "z"]) | _text,
    flat_values,
    max_size=8,
)


@given(st.lists(flat_entries, max_size=5))
def test_flat_entries_hash_as_if_the_member_were_never_there(entries: list[dict[str, Any]]) -> None:
    _assert_hashed_without_the_member(entries, flat=True)


# Nested values may carry a "content_hash" member of their own, with the entry's value.
nested_entries = st.builds(
    lambda entry, nested, key: {**entry, key: {"content_hash": entry.get("content_hash"),
                                              **nested}},
    flat_entries, flat_entries, st.sampled_from(["a", "canonicalized_payload", "z", "b"]),
)


@given(st.lists(nested_entries | flat_entries, max_size=5))
def test_nested_entries_hash_as_if_the_member_were_never_there(
    entries: list[dict[str, Any]],
) -> None:
    _assert_hashed_without_the_member(entries, flat=False)


def _assert_hashed_without_the_member(entries: list[dict[str, Any]], *, flat: bool) -> None:
    from keel_verify.crypto.canonical import canonical_hash
    from keel_verify.load.chainpass import _hash_object_entries

    before = copy.deepcopy(entries)
    hashes, encoded = _hash_object_entries(entries, accel.encode_sorted, flat)
    assert entries == before
    for entry, digest, full in zip(entries, hashes, encoded, strict=True):
        assert full == canonical_bytes(entry)
        assert digest == canonical_hash({k: v for k, v in entry.items() if k != "content_hash"})


@pytest.fixture
def sharded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Share every chain pass with a worker process, two entries a chunk."""
    from keel_verify.load import chainpass, shards

    monkeypatch.setattr(shards, "MIN_ENTRIES", 1)
    monkeypatch.setattr(shards, "usable_cpus", lambda: 2)
    monkeypatch.setattr(chainpass, "CHUNK_ENTRIES", 2)


def _signed(document: dict[str, Any]) -> bytes:
    return json.dumps(sign_document(document, ISSUER, signed_at=document["issued_at"])).encode()


_FIELDS = ["content_hash", "previous_content_hash", "artifact_sequence", "sequence", "session_id",
           "chain_scope", "permit_id", "occurred_at", "surface", "canonicalized_payload_hash"]
_odd_values = st.none() | st.booleans() | st.integers(-3, 10**6) | st.sampled_from(
    ["video", "sha256:" + "0" * 64, "2026-05-21T14:32:01Z", "1999-01-01T00:00:00Z", ""])


@pytest.mark.parametrize("version", [1, 3])
@given(changes=st.lists(st.tuples(st.integers(0, 17), st.sampled_from(_FIELDS), _odd_values),
                        max_size=3), delete=st.booleans())
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_sharded_pass_reports_what_one_pass_would(
    sharded: None, version: int, changes: list[tuple[int, str, Any]], delete: bool
) -> None:
    document = demo(version)
    for index, field, value in changes:
        entry = document["chain"][index % len(document["chain"])]
        if delete:
            entry.pop(field, None)
        else:
            entry[field] = value
    data = _signed(document)
    assert report_to_dict(verify_bytes(data, TRUST)) == report_to_dict(verify_bytes(data, TRUST, exact=True))


@pytest.mark.parametrize("version", [1, 3])
def test_a_sharded_pass_of_a_sound_chain_uses_the_worker(
    sharded: None, version: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from keel_verify.load import chainpass

    redone: list[int] = []
    here = chainpass.EntriesPass.here

    def spy(self: Any, first: int, only: Any = None, write: bool = True) -> None:
        if only is not None:
            redone.append(first)
        here(self, first, only, write)

    monkeypatch.setattr(chainpass.EntriesPass, "here", spy)
    received = record_worker_results(monkeypatch)
    document = demo(version)
    document["chain"][2]["surface"] = "video"  # a schema error inside an entry
    del document["chain"][4]["event_id"]
    data = _signed(document)
    report = report_to_dict(verify_bytes(data, TRUST))
    result = next(c for c in report["checks"] if c["name"] == "artifact_schema")
    assert {e["pointer"] for e in result["details"]["errors"]} == {"/chain/2/surface", "/chain/4"}
    assert report == report_to_dict(verify_bytes(data, TRUST, exact=True))
    assert redone == []  # every worker chunk was accepted as it came
    assert received and all(received)


def test_a_broken_link_in_a_worker_chunk_is_judged_here_again(
    sharded: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from keel_verify.load import chainpass

    redone: list[tuple[int, tuple[str, ...]]] = []
    here = chainpass.EntriesPass.here

    def spy(self: Any, first: int, only: Any = None, write: bool = True) -> None:
        if only is not None:
            redone.append((first, tuple(only)))
        here(self, first, only, write)

    monkeypatch.setattr(chainpass.EntriesPass, "here", spy)
    document = demo(3)
    document["chain"][3]["artifact_sequence"] = 1  # the worker's seed for chunk 2 is wrong
    data = _signed(document)
    assert report_to_dict(verify_bytes(data, TRUST)) == report_to_dict(verify_bytes(data, TRUST, exact=True))
    assert (4, ("chain_integrity",)) in redone


def test_a_failing_worker_is_replaced_by_work_here(
    sharded: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from keel_verify.load import shards

    def die(*_: Any, **__: Any) -> bytes:
        raise RuntimeError("the worker breaks")

    # Only the worker pickles its results: make that fail, and only in that module.
    monkeypatch.setattr(shards, "pickle", SimpleNamespace(
        dumps=die, loads=pickle.loads, HIGHEST_PROTOCOL=5, UnpicklingError=pickle.UnpicklingError))
    document = demo(3)
    document["chain"][5]["surface"] = "video"
    data = _signed(document)
    result = verify_bytes(data, TRUST).check("artifact_schema")
    assert result.pointer == "/chain/5/surface"


def test_a_worker_that_dies_is_replaced_by_work_here(
    sharded: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from keel_verify.load import shards

    work = shards._work

    def die_after_one(entries: Any, out: Any) -> None:
        out.write(shards._HEADER.pack(shards._FAILED, 0, 0))
        out.flush()
        os._exit(3)
        work(entries, out)  # never reached

    monkeypatch.setattr(shards, "_work", die_after_one)
    document = demo(1)
    document["chain"][9]["surface"] = "video"
    data = _signed(document)
    assert report_to_dict(verify_bytes(data, TRUST)) == report_to_dict(verify_bytes(data, TRUST, exact=True))


def test_a_worker_abandoned_by_a_restart_is_reaped(sharded: None) -> None:
    document = demo(3)
    document["chain"][0]["latency"] = 0.5  # a float: the pass restarts on the exact path
    fast, exact = both(json.dumps(document).encode())
    assert fast == exact
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # no child left behind, not even a zombie


# -- proofs made while decoding a chunk of entries -------------------------------------------

_astral_text = st.text(st.sampled_from(["a", "é", "😀", "\U0010ffff", '"', "\\", ":", " "]), max_size=6)
_keys = _astral_text | st.text(max_size=4)
_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | _astral_text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_keys, children, max_size=3),
    max_leaves=10,
)
_entries = st.lists(st.dictionaries(_keys, _values, max_size=4), min_size=1, max_size=4)


def _raw(entries: list[Any], ensure_ascii: bool, indent: int | None) -> list[bytes]:
    return [json.dumps(entry, ensure_ascii=ensure_ascii, indent=indent).encode() for entry in entries]


@given(_entries, st.booleans(), st.sampled_from([None, 2]))
def test_a_chunk_proven_within_jcs_has_no_divergence(
    entries: list[dict[str, Any]], ensure_ascii: bool, indent: int | None
) -> None:
    from keel_verify.crypto.canonical import jcs_divergences
    from keel_verify.load.loader import MAX_DEPTH, decode_raw_chunk

    chunk = decode_raw_chunk(0, _raw(entries, ensure_ascii, indent), MAX_DEPTH)
    assert chunk.entries == entries
    assert chunk.objects
    divergences = [d for entry in entries for d in jcs_divergences(entry)]
    if chunk.within_jcs:
        assert divergences == []
    elif not ensure_ascii and "\\" not in json.dumps(entries, ensure_ascii=False):
        assert divergences  # no escape to mislead the key scan: "not proven" means found


@given(_entries, st.integers(1, 9))
def test_a_chunk_decodes_within_the_depth_limit_exactly_when_the_walk_would(
    entries: list[dict[str, Any]], max_depth: int
) -> None:
    from keel_verify.errors import LoadError
    from keel_verify.load.loader import _check_depth_and_strings, decode_raw_chunk

    try:
        for entry in entries:
            _check_depth_and_strings(entry, max_depth, False, start_depth=3)
        expected_ok = True
    except LoadError:
        expected_ok = False
    try:
        decode_raw_chunk(0, _raw(entries, False, None), max_depth)
        ok = True
    except LoadError:
        ok = False
    assert ok == expected_ok


@pytest.mark.parametrize("key", ["😀", "a😀b", "\U0010ffff", "x\\😀"])
@pytest.mark.parametrize("ensure_ascii", [False, True])
def test_a_key_outside_the_bmp_is_never_proven_within_jcs(key: str, ensure_ascii: bool) -> None:
    from keel_verify.load.loader import MAX_DEPTH, decode_raw_chunk

    entries = [{"a": "😀" * 3, "p": {"n": [1, {key: "😀"}]}}]
    assert not decode_raw_chunk(0, _raw(entries, ensure_ascii, 2), MAX_DEPTH).within_jcs
    assert decode_raw_chunk(0, _raw([{"a": "😀😀", "p": {key.encode("utf-16", "surrogatepass").hex(): [1]}}],
                                     ensure_ascii, None), MAX_DEPTH).within_jcs


@given(st.dictionaries(_keys, _values, max_size=4), st.booleans())
def test_a_document_proven_within_jcs_has_no_divergence(members: dict[str, Any], ensure_ascii: bool) -> None:
    from keel_verify.crypto.canonical import jcs_divergences
    from keel_verify.errors import LoadError
    from keel_verify.load.loader import MAX_DEPTH, NeedsExactPath, _load_fast

    document = {**demo(3), **members}
    document.pop("chain")
    try:
        artifact = _load_fast(json.dumps(document, ensure_ascii=ensure_ascii).encode(), MAX_DEPTH)
    except (NeedsExactPath, LoadError):  # the documented refusals: not this property's case
        assume(False)
        return
    assert artifact.document == document
    if artifact.document_within_jcs:
        assert list(jcs_divergences(artifact.document)) == []


def test_a_plain_demo_document_is_proven_within_jcs() -> None:
    from keel_verify.load.loader import MAX_DEPTH, _load_fast

    document = demo(3)
    document.pop("chain")
    assert _load_fast(json.dumps(document).encode(), MAX_DEPTH).document_within_jcs is True
