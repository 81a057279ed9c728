"""``issuer_signature`` details describe at most LISTED_SIGNATURES ``signatures[]``
entries (the counted one, those that verified or that the policy speaks of, then the
first others), with the total and a partial flag: entries outside the signed bytes cost
nothing to add, so 10,000 of them must not make a report megabytes long."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

from keel_verify.checks.issuer_signature import LISTED_SIGNATURES
from keel_verify.schemas import REPORT_SCHEMA, load_schema
from tests import hostile_inputs as hostile
from tests.test_cli import run

SAMPLE = Path(__file__).resolve().parents[1] / "sample"
SAMPLE_ROOT = SAMPLE / "trust-root.json"
SAMPLE_ARTIFACT = SAMPLE / "voice_session_v3.json"
COUNT = 10_000


def _details(stdout: str) -> dict[str, Any]:
    document = json.loads(stdout)
    jsonschema.Draft202012Validator(load_schema(REPORT_SCHEMA)).validate(document)
    [check] = [c for c in document["files"][0]["checks"] if c["name"] == "issuer_signature"]
    details: dict[str, Any] = check["details"]
    return details


def _sample_with_signatures(tmp_path: Path, count: int) -> Path:
    path = tmp_path / f"signatures-{count}.json"
    path.write_bytes(hostile.many_signatures_of(json.loads(SAMPLE_ARTIFACT.read_bytes()), count))
    return path


def test_10000_signature_entries_give_bounded_details_with_the_counted_one(
        tmp_path: Path) -> None:
    artifact = _sample_with_signatures(tmp_path, COUNT)
    result = run("--json", "--trust-root", SAMPLE_ROOT, artifact)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout) < 200_000  # was about 8.4 MB
    details = _details(result.stdout)
    listed = details["signatures"]
    assert len(listed) == LISTED_SIGNATURES == 50
    assert details["signature_count"] == COUNT
    assert details["signatures_partial"] is True
    assert listed[0]["index"] == 0 and listed[0]["counted"] is True and listed[0]["valid"]
    # the rest: the first others, in signatures[] order
    assert [entry["index"] for entry in listed] == list(range(LISTED_SIGNATURES))
    assert not any(entry["counted"] for entry in listed[1:])


def test_entries_the_policy_speaks_of_are_listed_before_the_first_others(
        tmp_path: Path) -> None:
    """Entry 9,000 names a key the trust root revokes: it is listed (after the counted
    entry, in signatures[] order), and the first others fill the rest."""
    named_at = 9_000
    revoked = hostile.named_key(named_at - 1)
    root: dict[str, Any] = json.loads(SAMPLE_ROOT.read_text("utf-8"))
    root["issuer_keys"].append({"public_key": revoked, "status": "revoked",
                                "revoked_at": "2020-01-01T00:00:00Z"})
    root_path = tmp_path / "root.json"
    root_path.write_text(json.dumps(root), "utf-8")
    artifact = _sample_with_signatures(tmp_path, COUNT)
    result = run("--json", "--trust-root", root_path, artifact)
    details = _details(result.stdout)
    indexes = [entry["index"] for entry in details["signatures"]]
    assert named_at in indexes
    assert indexes == sorted(indexes) and len(indexes) == LISTED_SIGNATURES
    assert indexes[: LISTED_SIGNATURES - 1] == list(range(LISTED_SIGNATURES - 1))
    named = details["signatures"][-1]
    assert named["public_key"] == revoked
    assert named["trust_source"] or named["trust_problem"]


def test_a_few_signature_entries_are_all_listed(tmp_path: Path) -> None:
    artifact = _sample_with_signatures(tmp_path, 3)
    details = _details(run("--json", "--trust-root", SAMPLE_ROOT, artifact).stdout)
    assert [entry["index"] for entry in details["signatures"]] == [0, 1, 2]
    assert details["signature_count"] == 3
    assert details["signatures_partial"] is False


def test_exactly_the_bound_is_listed_in_full(tmp_path: Path) -> None:
    artifact = _sample_with_signatures(tmp_path, LISTED_SIGNATURES)
    details = _details(run("--json", "--trust-root", SAMPLE_ROOT, artifact).stdout)
    assert len(details["signatures"]) == details["signature_count"] == LISTED_SIGNATURES
    assert details["signatures_partial"] is False
