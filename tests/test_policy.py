"""Gate policies (--policy): each rule, composition, loading errors, and the policy the
README shows; a policy only adds requirements."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from keel_verify import TrustPolicy, Verdict, verify_path
from keel_verify.checks import CHECK_CATALOGUE
from keel_verify.policy import apply_policy, load_policy, parse_policy, policy_violations
from keel_verify.policy.load import PolicyError, parse_duration
from keel_verify.results import Outcome, Report
from keel_verify.schemas import POLICY_SCHEMA, load_schema
from keel_verify.trust.trust_root import load_trust_root
from tests.helpers import PUBLIC_V1, PUBLIC_V3
from tests.test_cli import run

REPOSITORY = Path(__file__).resolve().parent.parent
SAMPLE_V3 = REPOSITORY / "sample" / "voice_session_v3.json"
SAMPLE_V1 = REPOSITORY / "sample" / "voice_session_v1.json"
TRUST_ROOT = REPOSITORY / "sample" / "trust-root.json"
NOW = datetime(2026, 11, 30, tzinfo=UTC)
CHECK_NAMES = [info.name for info in CHECK_CATALOGUE]
WARN_CODES = {c.code for info in CHECK_CATALOGUE for c in info.codes if c.outcome is Outcome.WARN}
SMALLEST = {"policy_version": 1, "require": {"timestamp_witness": "pass"}}
ANCHORED = {"policy_version": 1, "name": "anchored witness", "require_anchored_witness": True}


def policy(document: dict[str, Any]) -> Any:
    return parse_policy(document, CHECK_NAMES, WARN_CODES)


def anchored_sample() -> Report:
    return verify_path(SAMPLE_V3, load_trust_root(TRUST_ROOT).apply(TrustPolicy()))


def self_attested_public() -> Report:
    return verify_path(PUBLIC_V3, TrustPolicy.self_attested_only())


def codes(report: Report, document: dict[str, Any]) -> list[str]:
    return [v.code for v in policy_violations(policy(document).requirements, report, NOW)]


def test_the_readme_policies_validate_against_the_schema() -> None:
    readme = (REPOSITORY / "README.md").read_text(encoding="utf-8")
    assert json.dumps(SMALLEST) in readme
    validator = jsonschema.Draft202012Validator(load_schema(POLICY_SCHEMA))
    for document in (SMALLEST, ANCHORED):
        validator.validate(document)


def test_smallest_policy_requires_one_check_to_pass() -> None:
    assert codes(anchored_sample(), SMALLEST) == []
    assert codes(self_attested_public(), SMALLEST) == ["policy.requirement_not_met"]


@pytest.mark.parametrize("path", [PUBLIC_V3, PUBLIC_V1])
def test_anchored_witness_policy_fails_the_public_samples(path: Path, tmp_path: Path) -> None:
    policy_file = tmp_path / "anchored.json"
    policy_file.write_text(json.dumps(ANCHORED), encoding="utf-8")
    result = run("--policy", policy_file, "--self-attested", "--format", "json", path)
    assert result.returncode == 1, result.stderr
    file = json.loads(result.stdout)["files"][0]
    assert file["verdict"] == "FAILED" and file["indication"] == "TOTAL-FAILED"
    assert file["failing_codes"] == ["policy.witness_not_anchored"]
    assert file["policy"] == "anchored witness"
    assert "timestamp_witness.token_unsigned" in file["error"]
    assert json.loads(result.stdout)["policy"]["name"] == "anchored witness"


def test_anchored_witness_policy_passes_the_sample_with_its_trust_root(tmp_path: Path) -> None:
    policy_file = tmp_path / "anchored.json"
    policy_file.write_text(json.dumps(ANCHORED), encoding="utf-8")
    result = run("--policy", policy_file, "--trust-root", TRUST_ROOT, SAMPLE_V3)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "policy      anchored witness: met" in result.stdout
    without_root = run("--policy", policy_file, "--public-key",
                       "ed25519:La7wanEjRdscOGZ3HJQdabcMAy9Oqbk8QLjkeNU9Qws=", SAMPLE_V3)
    assert without_root.returncode == 1  # signed and trusted, but the witness is not anchored


def test_policy_trust_sources_apply_relative_to_the_policy_file(tmp_path: Path) -> None:
    (tmp_path / "roots").mkdir()
    (tmp_path / "roots" / "trust-root.json").write_bytes(TRUST_ROOT.read_bytes())
    policy_file = tmp_path / "gate.json"
    policy_file.write_text(json.dumps({**ANCHORED, "trust": {"trust_root": "roots/trust-root.json"}}),
                           encoding="utf-8")
    assert run("--policy", policy_file, SAMPLE_V3).returncode == 0
    other = tmp_path / "other-root.json"
    other.write_bytes(TRUST_ROOT.read_bytes())
    # Both trust roots apply: an equal statement changes nothing ...
    assert run("--policy", policy_file, "--trust-root", other, SAMPLE_V3).returncode == 0
    # ... and a revocation in either one wins over the other's clean entry.
    revoking = json.loads(TRUST_ROOT.read_text(encoding="utf-8"))
    revoking["issuer_keys"][0].update(status="revoked", revoked_at="2026-06-01T00:00:00Z")
    (tmp_path / "roots" / "trust-root.json").write_text(json.dumps(revoking), encoding="utf-8")
    revoked_by_policy = run("--policy", policy_file, "--trust-root", other, SAMPLE_V3)
    assert revoked_by_policy.returncode == 1
    assert "issuer_signature.key_revoked" in revoked_by_policy.stdout


def test_a_policy_never_turns_a_failure_into_a_pass() -> None:
    other_key = "ed25519:La7wanEjRdscOGZ3HJQdabcMAy9Oqbk8QLjkeNU9Qws="
    report = verify_path(PUBLIC_V3, TrustPolicy.pinned(other_key))
    assert report.verdict is Verdict.FAILED
    lenient = policy({"policy_version": 1, "severity": {"issuer_signature": "warning"}})
    judged = apply_policy(report, lenient, NOW)
    assert judged.verdict is Verdict.FAILED and judged.failing_codes == report.failing_codes
    assert judged.policy == "policy"


def test_allowed_warnings_and_per_check_severity() -> None:
    report = self_attested_public()  # warns: permit_linkage, timestamp_witness, time_consistency
    only_witness = {"policy_version": 1, "allowed_warnings": ["timestamp_witness.token_unsigned"]}
    assert codes(report, only_witness) == ["policy.warning_not_allowed"] * 2
    lenient = {**only_witness, "severity": {"permit_linkage": "warning", "time_consistency": "warning"}}
    assert codes(report, lenient) == []
    strict_one = {"policy_version": 1, "severity": {"timestamp_witness": "error"}}
    assert codes(report, strict_one) == ["policy.severity_error"]
    assert codes(anchored_sample(), {**strict_one, "allowed_warnings": []}) == []


def test_max_artifact_age_uses_the_earlier_of_issued_at_and_genTime() -> None:
    report = anchored_sample()
    assert report.issued_at is not None and report.witnessed_at is not None
    oldest = min(report.issued_at, report.witnessed_at)
    document = {"policy_version": 1, "max_artifact_age": "P30D"}
    rules = policy(document).requirements
    assert policy_violations(rules, report, oldest + timedelta(days=30)) == []
    late = policy_violations(rules, report, oldest + timedelta(days=30, seconds=1))
    assert [v.code for v in late] == ["policy.artifact_too_old"]
    undated = replace(report, issued_at=None, witnessed_at=None)
    assert [v.code for v in policy_violations(rules, undated, NOW)] == ["policy.artifact_age_unknown"]


def test_schema_versions() -> None:
    assert codes(anchored_sample(), {"policy_version": 1, "schema_versions": [3]}) == []
    assert codes(anchored_sample(), {"policy_version": 1, "schema_versions": [1]}) == [
        "policy.schema_version_not_allowed"]


def test_all_of_and_any_of_compose() -> None:
    report = self_attested_public()
    anchored = {"name": "anchored", "require_anchored_witness": True}
    v3_only = {"name": "v3", "schema_versions": [3]}
    v1_only = {"name": "v1", "schema_versions": [1]}
    assert codes(report, {"policy_version": 1, "any_of": [anchored, v3_only]}) == []
    either = codes(report, {"policy_version": 1, "any_of": [anchored, v1_only]})
    assert either == ["policy.any_of_not_met"]
    both = policy_violations(policy({"policy_version": 1, "all_of": [anchored, v3_only]}).requirements,
                             report, NOW)
    assert [(v.code, v.rule) for v in both] == [
        ("policy.witness_not_anchored", "all_of/0/require_anchored_witness")]
    nested = {"policy_version": 1, "all_of": [{"any_of": [anchored, {"all_of": [v1_only]}]}]}
    found = policy_violations(policy(nested).requirements, report, NOW)
    assert [v.rule for v in found] == ["all_of/0/any_of"]
    assert "[anchored]" in found[0].reason and "[any_of/1]" in found[0].reason


@pytest.mark.parametrize(("document", "message"), [
    ({"require": {}}, "policy_version"),
    ({"policy_version": 2}, "/policy_version"),
    ({"policy_version": 1, "bogus": True}, "bogus"),
    ({"policy_version": 1, "require": {"no_such_check": "pass"}}, "no check is named 'no_such_check'"),
    ({"policy_version": 1, "severity": {"chain_integrity": "fatal"}}, "/severity/chain_integrity"),
    ({"policy_version": 1, "allowed_warnings": ["chain_integrity.chain_broken"]},
     "not a warning reason code"),
    ({"policy_version": 1, "max_artifact_age": "P1M"}, "/max_artifact_age"),
    ({"policy_version": 1, "any_of": [{"require": {"nope": "pass"}}]}, "/any_of/0/require/nope"),
    ({"policy_version": 1, "all_of": [{"trust": {}}]}, "/all_of/0"),
])
def test_invalid_policies_are_one_line_errors(document: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError) as raised:
        policy(document)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_policy_files_that_cannot_be_read_exit_2(tmp_path: Path) -> None:
    for name, data in (("dup.json", b'{"policy_version": 1, "policy_version": 1}'),
                       ("bad.json", b"{"), ("missing.json", None)):
        path = tmp_path / name
        if data is not None:
            path.write_bytes(data)
        result = run("--policy", path, SAMPLE_V3)
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
        assert result.stderr.startswith("keel-verify: error: policy")
    good = tmp_path / "ok.json"
    good.write_text(json.dumps(SMALLEST), encoding="utf-8")
    loaded = load_policy(str(good), CHECK_NAMES, WARN_CODES)
    assert loaded.name == "ok.json" and loaded.sha256 and loaded.sha256.startswith("sha256:")


@pytest.mark.parametrize(("text", "seconds"), [("P90D", 90 * 86400), ("PT12H", 43200),
                                               ("P1W2DT3H4M5S", 9 * 86400 + 3 * 3600 + 245)])
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["P", "PT", "P1Y", "P1M", "1D", "P1.5D"])
def test_durations_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_policy_trust_adds_named_sources_and_tsa_certs(tmp_path: Path) -> None:
    from keel_verify.gate import with_policy_trust
    from keel_verify.trust.sources import TrustSpec

    document = {"policy_version": 1, "trust": {"named": ["keel-production"], "tsa_certs": ["tsa.pem"]}}
    gate = parse_policy(document, CHECK_NAMES, WARN_CODES, base_dir=str(tmp_path))
    spec = with_policy_trust(TrustSpec((), False, None, (), False, trust_names=("keel-production",)), gate)
    assert spec.trust_names == ("keel-production",)  # named once, whoever named it
    assert spec.tsa_certs == (str(tmp_path / "tsa.pem"),)
    policy_file = tmp_path / "unknown.json"
    policy_file.write_text(json.dumps({"policy_version": 1, "trust": {"named": ["no-such-source"]}}),
                           encoding="utf-8")
    result = run("--policy", policy_file, SAMPLE_V3)
    assert result.returncode == 2 and "no-such-source" in result.stderr
