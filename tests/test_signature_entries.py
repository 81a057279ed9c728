"""Junk in ``signatures[]`` (outside the signed bytes) never fails a good artifact: an entry
that does not fit is listed as not counted, and a valid trusted signature still decides."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keel_verify import Outcome, TrustPolicy, Verdict
from keel_verify.verifier import verify_bytes
from tests.helpers import TEST_ISSUER_PUBLIC, public_v1, public_v3, resign, to_bytes

TRUST = TrustPolicy.pinned(TEST_ISSUER_PUBLIC)


def signed(version: int) -> dict[str, Any]:
    return resign(public_v3() if version == 3 else public_v1())


def without(entry: dict[str, Any], member: str) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k != member}


JUNK: list[tuple[str, Any]] = [
    ("no content_hash", lambda good: without(good, "content_hash")),
    ("no key_id", lambda good: without(good, "key_id")),
    ("no signature", lambda good: without(good, "signature")),
    ("bad base64", lambda good: {**good, "signature": "ed25519:***"}),
    ("other algorithm", lambda good: {**good, "algorithm": "ml-dsa-65"}),
    ("unknown member", lambda good: {**good, "x-extra": [1, 2]}),
    ("number", lambda good: 7),
    ("string", lambda good: "not an entry"),
    ("null", lambda good: None),
    ("empty object", lambda good: {}),
    ("signed_at not a time", lambda good: {**good, "signed_at": "yesterday"}),
]


@pytest.mark.parametrize("version", [1, 3])
@pytest.mark.parametrize(("name", "junk"), JUNK, ids=[name for name, _ in JUNK])
@pytest.mark.parametrize("first", [True, False], ids=["junk-first", "junk-last"])
def test_a_malformed_entry_beside_a_valid_one_is_not_counted(
    version: int, name: str, junk: Any, first: bool
) -> None:
    document = signed(version)
    good = document["signatures"][0]
    extra = junk(copy.deepcopy(good))
    document["signatures"] = [extra, good] if first else [good, extra]
    report = verify_bytes(to_bytes(document), TRUST)
    assert report.check("artifact_schema").outcome is Outcome.PASS, report.check(
        "artifact_schema").reason
    result = report.check("issuer_signature")
    assert result.outcome is Outcome.PASS, result.reason
    assert "1 other signature not counted" in result.reason
    listed = result.details["signatures"]
    assert sum(entry["counted"] for entry in listed) == 1  # one signature decides
    junk_entry = listed[0 if first else 1]
    if not junk_entry["valid"]:  # a copy that still signs validly may be the counted one
        assert junk_entry["counted"] is False and junk_entry["problem"]
    assert report.verdict is Verdict.VERIFIED


def test_a_lone_entry_without_content_hash_verifies() -> None:
    # The reference treats content_hash as optional: the signature alone decides.
    document = signed(3)
    document["signatures"] = [without(document["signatures"][0], "content_hash")]
    assert verify_bytes(to_bytes(document), TRUST).verdict is Verdict.VERIFIED


def test_a_content_hash_that_names_other_bytes_is_still_refused() -> None:
    document = signed(3)
    document["signatures"][0]["content_hash"] = "sha256:" + "0" * 64
    report = verify_bytes(to_bytes(document), TRUST)
    assert report.check("issuer_signature").outcome is Outcome.FAIL
    assert report.verdict is Verdict.FAILED


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=40, deadline=None)
@given(junk=st.lists(json_values, min_size=1, max_size=3), position=st.integers(0, 3))
def test_no_junk_entries_turn_a_good_artifact_into_failed(junk: list[Any], position: int) -> None:
    document = signed(3)
    entries = list(junk)
    entries.insert(min(position, len(entries)), document["signatures"][0])
    document["signatures"] = entries
    report = verify_bytes(to_bytes(document), TRUST)
    assert report.verdict is Verdict.VERIFIED, [(c.name, c.reason) for c in report.checks
                                                if c.outcome is not Outcome.PASS]
