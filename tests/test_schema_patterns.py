"""Schema patterns mean what JSON Schema says (ECMA-262): the pure path (jsonschema) and the
fast path (jsonschema-rs) agree, and neither lets ``$`` match before a final newline."""

from __future__ import annotations

import json
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel_verify import Outcome, TrustPolicy, Verdict
from keel_verify.load import accel
from keel_verify.schemas import ecma_regex, python_validator, schema_directory
from keel_verify.verifier import verify_bytes
from tests.helpers import TEST_ISSUER_PUBLIC, public_v1, public_v3, rechain, resign, to_bytes


def _patterns() -> list[str]:
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("pattern"), str):
                found.add(value["pattern"])
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for path in schema_directory().glob("*.schema.json"):
        walk(json.loads(path.read_text(encoding="utf-8")))
    return sorted(found)


PATTERNS = _patterns()


def test_every_anchored_pattern_refuses_a_final_newline() -> None:
    anchored = [p for p in PATTERNS if p.endswith("$")]
    assert len(anchored) >= 6
    samples = {
        "^sha256:[0-9a-f]{64}$": "sha256:" + "a" * 64,
        "^(sha256:)?[0-9a-f]{64}$": "a" * 64,
        "^project:.+$": "project:p",
    }
    for pattern, good in samples.items():
        assert ecma_regex(pattern).search(good)
        assert not ecma_regex(pattern).search(good + "\n")


text_near_patterns = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["sha256:" + "a" * 64, "a" * 64, "project:x", "/a/b", "ed25519:" + "A" * 43 + "=",
                     "2026-05-21T14:35:00Z", "-----BEGIN CERTIFICATE-----"]),
).flatmap(lambda base: st.sampled_from(["", "\n", "\r", "\r\n", "\u2028", "x"]).map(
    lambda tail: base + tail))


@pytest.mark.parametrize("pattern", PATTERNS)
@given(text=text_near_patterns)
def test_pure_and_fast_paths_judge_every_pattern_alike(pattern: str, text: str) -> None:
    schema = {"type": "string", "pattern": pattern}
    assert python_validator(schema).is_valid(text) == jsonschema_rs.validator_for(schema).is_valid(
        text)


def _trailing_newline(version: int) -> bytes:
    document = public_v3() if version == 3 else public_v1()
    document["chain"][0]["governance_record_hash"] += "\n"
    rechain(document, payloads=version == 1)
    return to_bytes(resign(document))


@pytest.mark.parametrize("version", [1, 3])
@pytest.mark.parametrize("path", ["fast", "pure"])
def test_a_hash_with_a_final_newline_fails_the_schema(
    version: int, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if path == "pure":
        monkeypatch.setenv("KEEL_VERIFY_PURE", "1")
        assert not accel.fast_schema_available()
    else:
        monkeypatch.delenv("KEEL_VERIFY_PURE", raising=False)
        assert accel.fast_schema_available()
    report = verify_bytes(_trailing_newline(version), TrustPolicy.pinned(TEST_ISSUER_PUBLIC),
                          exact=path == "pure")
    result = report.check("artifact_schema")
    assert result.outcome is Outcome.FAIL, result.reason
    assert result.pointer == "/chain/0/governance_record_hash"
    assert report.verdict is Verdict.FAILED
