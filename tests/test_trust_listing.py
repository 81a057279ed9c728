"""Reports describe the applied trust policy within a bound: a 100,000-key trust root lists
the signer's key first and at most LISTED_STATEMENTS statements, with the total count, a
partial flag and each trust file's SHA-256; a small policy is listed in full, as before."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from keel_verify.report.html import policy_rows
from keel_verify.schemas import REPORT_SCHEMA, load_schema
from keel_verify.trust import TrustedKey, TrustPolicy
from keel_verify.trust.sources import (
    LISTED_STATEMENTS,
    TrustSpec,
    build_policy,
    describe_policy,
)
from tests import hostile_inputs as hostile
from tests.test_cli import run

SAMPLE = Path(__file__).resolve().parents[1] / "sample"
SAMPLE_ROOT = SAMPLE / "trust-root.json"
SAMPLE_ARTIFACT = SAMPLE / "voice_session_v3.json"
BIG = 100_000
SIGNER_AT = 99_990  # far past the listing bound
NAMED_AT = 99_000  # a key another signature entry names (it verifies nothing)


def _filler_key(index: int) -> str:
    """A well-formed key encoding (32 bytes, canonical), not the sample's."""
    raw = bytearray(hashlib.sha256(b"trust listing filler %d" % index).digest())
    raw[31] &= 0x3F
    return "ed25519:" + base64.b64encode(bytes(raw)).decode("ascii")


def _sample_entry() -> dict[str, Any]:
    entry: dict[str, Any] = json.loads(SAMPLE_ROOT.read_text("utf-8"))["issuer_keys"][0]
    return entry


@pytest.fixture(scope="module")
def big_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    keys: list[dict[str, Any]] = [{"public_key": _filler_key(i)} for i in range(BIG)]
    keys.insert(NAMED_AT, {"public_key": hostile.named_key(1)})
    keys.insert(SIGNER_AT, _sample_entry())
    path = tmp_path_factory.mktemp("big-root") / "trust-root-100k.json"
    path.write_text(json.dumps({"trust_root_version": 1, "issuer_keys": keys},
                               separators=(",", ":")), "utf-8")
    return path


def _digest(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_100k_key_root_gives_a_bounded_json_trust_section_naming_the_signer(
        big_root: Path) -> None:
    result = run("--json", "--trust-root", big_root, SAMPLE_ARTIFACT)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    jsonschema.Draft202012Validator(load_schema(REPORT_SCHEMA)).validate(document)
    trust = document["trust"]
    assert len(trust["issuer_keys"]) == LISTED_STATEMENTS == 50
    assert trust["issuer_key_count"] == BIG + 2
    assert trust["issuer_keys_partial"] is True
    signer = document["files"][0]["signer"]
    assert trust["issuer_keys"][0]["public_key"] == signer["public_key"] == _sample_entry()[
        "public_key"]
    assert f"issuer_keys[{SIGNER_AT}]" in trust["issuer_keys"][0]["source"]
    # then the first others, in policy order
    assert [k["public_key"] for k in trust["issuer_keys"][1:]] == [
        _filler_key(i) for i in range(LISTED_STATEMENTS - 1)]
    assert trust["trust_files"] == [
        {"path": str(big_root), "sha256": _digest(big_root), "kind": "trust root"}]
    assert len(json.dumps(trust)) < 40_000  # was about 35 MB
    assert len(result.stdout) < 200_000


def test_keys_other_signature_entries_name_follow_the_signer(
        big_root: Path, tmp_path: Path) -> None:
    """The sample's signature, then entries naming hostile keys 0 and 1: key 1 is in the
    root (its statement is listed second), key 0 is not (nothing to list)."""
    artifact = tmp_path / "named.json"
    artifact.write_bytes(hostile.many_signatures_of(json.loads(SAMPLE_ARTIFACT.read_bytes()), 3))
    result = run("--json", "--trust-root", big_root, artifact)
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)["trust"]["issuer_keys"]
    assert [k["public_key"] for k in listed[:3]] == [
        _sample_entry()["public_key"], hostile.named_key(1), _filler_key(0)]
    assert f"issuer_keys[{NAMED_AT}]" in listed[1]["source"]
    assert len(listed) == LISTED_STATEMENTS


def test_the_html_report_of_a_100k_key_root_is_bounded_and_names_the_signer(
        big_root: Path, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    result = run("--report", page, "--trust-root", big_root, SAMPLE_ARTIFACT)
    assert result.returncode == 0, result.stderr
    text = page.read_text("utf-8")
    assert len(text) < 400_000  # was about 28 MB
    assert "50 listed of 100,002" in text
    fingerprint = _fingerprint_of(_sample_entry()["public_key"])
    assert fingerprint[len("sha256:"):][:16] in text
    assert _digest(big_root)[len("sha256:"):][:16] in text
    shown = [_fingerprint_of(_filler_key(i))[7:23] in text for i in range(LISTED_STATEMENTS + 5)]
    assert shown == [True] * (LISTED_STATEMENTS - 1) + [False] * 6  # the signer, then 49 others


def _fingerprint_of(encoded: str) -> str:
    raw = base64.b64decode(encoded.removeprefix("ed25519:"))
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _keys(count: int) -> tuple[TrustedKey, ...]:
    return tuple(TrustedKey(public_key=base64.b64decode(_filler_key(i)[8:]), source=f"k{i}")
                 for i in range(count))


NO_SPEC = TrustSpec((), False, None, (), False)


@pytest.mark.parametrize("count", [0, 1, LISTED_STATEMENTS])
def test_a_small_policy_is_listed_in_full_in_policy_order(count: int) -> None:
    keys = _keys(count)
    last = [keys[-1].encoded] if keys else []
    described = describe_policy(NO_SPEC, TrustPolicy(issuer_keys=keys), last)
    assert [k["source"] for k in described["issuer_keys"]] == [f"k{i}" for i in range(count)]
    assert described["issuer_key_count"] == count
    assert described["issuer_keys_partial"] is False


def test_the_sample_policy_reads_as_before_plus_its_trust_file() -> None:
    spec = TrustSpec((), False, str(SAMPLE_ROOT), (), False)
    policy = build_policy(spec)
    described = describe_policy(spec, policy)
    assert described["issuer_keys"] == [
        {"public_key": key.encoded, "fingerprint": _fingerprint_of(key.encoded),
         "source": key.source, "label": key.label, "purpose": key.purpose,
         "status": key.status, "not_before": key.not_before, "not_after": key.not_after,
         "revoked_at": key.revoked_at} for key in policy.issuer_keys]
    assert described["tsa_root_count"] == len(described["tsa_roots"]) == len(policy.tsa_roots)
    assert [read["sha256"] for read in described["trust_files"]] == [_digest(SAMPLE_ROOT)]


def test_one_key_past_the_bound_lists_the_featured_keys_first() -> None:
    keys = _keys(LISTED_STATEMENTS + 1)
    featured = [keys[-1].encoded, keys[3].encoded, "ed25519:junk", "not a key"]
    described = describe_policy(NO_SPEC, TrustPolicy(issuer_keys=keys), featured)
    listed = [k["source"] for k in described["issuer_keys"]]
    assert listed[:2] == [f"k{LISTED_STATEMENTS}", "k3"]  # in the order featured
    assert listed[2:] == [f"k{i}" for i in range(LISTED_STATEMENTS) if i != 3][:LISTED_STATEMENTS - 2]
    assert len(listed) == LISTED_STATEMENTS and described["issuer_keys_partial"] is True
    rows = policy_rows(described)
    assert any(row.value == f"50 listed of {LISTED_STATEMENTS + 1}" for row in rows)


def test_many_statements_about_featured_keys_stay_bounded() -> None:
    one = _keys(1)[0]
    keys = tuple(replace(one, source=f"s{i}") for i in range(3 * LISTED_STATEMENTS))
    described = describe_policy(NO_SPEC, TrustPolicy(issuer_keys=keys), [one.encoded])
    assert [k["source"] for k in described["issuer_keys"]] == [
        f"s{i}" for i in range(LISTED_STATEMENTS)]


def test_tsa_roots_and_helpers_are_bounded_with_their_counts() -> None:
    spec = TrustSpec((), False, str(SAMPLE_ROOT), (), False)
    policy = build_policy(spec)
    many = replace(policy, tsa_roots=policy.tsa_roots * 60, tsa_certs=policy.tsa_roots * 70)
    described = describe_policy(spec, many)
    assert len(described["tsa_roots"]) == len(described["tsa_root_sha256"]) == LISTED_STATEMENTS
    assert described["tsa_root_count"] == 60 * len(policy.tsa_roots)
    assert len(described["tsa_certs"]) == LISTED_STATEMENTS
    assert described["tsa_cert_count"] == 70 * len(policy.tsa_roots)
    values = [row.value for row in policy_rows(described)]
    assert f"50 listed of {60 * len(policy.tsa_roots)}" in values


def test_the_schema_refuses_an_unbounded_key_list() -> None:
    schema = load_schema(REPORT_SCHEMA)["properties"]["trust"]
    key = {"public_key": _filler_key(0), "source": "x"}
    trust = {"issuer_keys": [key] * LISTED_STATEMENTS, "self_attested": False, "tsa_roots": [],
             "strict": False, "issuer_key_count": 10**5, "issuer_keys_partial": True,
             "trust_files": [{"path": "r.json", "sha256": "sha256:" + "0" * 64,
                              "kind": "trust root"}]}
    jsonschema.validate(trust, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**trust, "issuer_keys": [key] * (LISTED_STATEMENTS + 1)}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**trust, "trust_files": [{"path": "r.json", "sha256": "x",
                                                       "kind": "trust root"}]}, schema)
